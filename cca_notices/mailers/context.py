"""What a letter says: the variant (shared by many recipients) and the personal fields.

A letter is split in two so a million of them can be printed fast (docs/mailers.md):

* the *variant* — program, notice kind, language, customer class, rate schedule, product and mail
  date — decides all running text, the JRC tables, power content and the fee table;
* the *personal fields* — name, address, account, piece ID, dates, personal code and its QR — are
  short single lines in fixed boxes, so they never move the layout of the rest of the page.

Both renderers (one-by-one and stamped) take their text from these two functions; that is what
makes their output the same.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from django.utils import translation

from accounts.models import CustomerClass, Product, ServiceAccount
from accounts.services import display
from accounts.services.display import phone_display
from accounts.services.fees import fee_table_in_force
from accounts.services.jrc import jrc_rows_in_force, power_content_in_force
from accounts.services.names import name_display

KINDS = (
    "pre_enrollment_1",
    "pre_enrollment_2",
    "post_enrollment_1",
    "post_enrollment_2",
    "new_customer_1",
    "new_customer_2",
)
POST_KINDS = {"post_enrollment_1", "post_enrollment_2", "new_customer_1", "new_customer_2"}
LANGUAGES = ("en", "es")
# USPS: an address line of more than 40 characters may not fit the window; mail houses cut there.
ADDRESS_WIDTH = 40


class UnknownNoticeKind(ValueError):
    pass


@dataclass(frozen=True)
class LetterRequest:
    """One letter to print: what the batch builder hands the renderer."""

    account: ServiceAccount
    kind: str
    mail_date: dt.date
    piece_id: str = ""


def letter_language(account: ServiceAccount) -> str:
    lang = (account.language or "en").lower()[:2]
    return lang if lang in LANGUAGES else "en"


def letter_product(account: ServiceAccount) -> Product | None:
    """The product the letter compares: the account's, else the program's default (CARE
    included)."""
    if account.product_id:
        return account.product
    return Product.objects.filter(program_id=account.program_id, is_default=True).first()


def variant_key(req: LetterRequest) -> tuple:
    a = req.account
    return (
        a.program_id,
        req.kind,
        letter_language(a),
        a.customer_class,
        a.rate_schedule.upper(),
        a.product_id,
        req.mail_date,
    )


def date_display(day: dt.date | None, lang: str) -> str:
    return display.long_date(day, lang)


def money(value: Decimal | None) -> str:
    # The letter's language is active while its variant is built (variant_context).
    return display.money(value)


def signed_money(value: Decimal) -> str:
    return money(value) if value < 0 else f"+{money(value)}"


def opt_out_prefix(program) -> str:
    """The QR/web address before the personal code."""
    site = (program.website or "https://example.org").rstrip("/")
    return f"{site}/opt-out/?code="


def variant_context(req: LetterRequest, lookups: dict | None = None) -> dict:
    """Everything the letter says that is the same for every recipient of the variant, with its
    dates and amounts in the letter's language. `lookups`: a dict the caller keeps while the
    data cannot change (one file's variants), so the tables in force on a mail date are read
    once for all of them rather than once per variant."""
    with translation.override(letter_language(req.account)):
        return _variant_context(req, {} if lookups is None else lookups)


def _looked_up(lookups: dict, key: tuple, read):
    if key not in lookups:
        lookups[key] = read()
    return lookups[key]


def _variant_context(req: LetterRequest, lookups: dict) -> dict:
    account, kind = req.account, req.kind
    if kind not in KINDS:
        raise UnknownNoticeKind(f"unknown notice kind {kind!r}; expected one of {', '.join(KINDS)}")
    program = account.program
    lang = letter_language(account)
    if account.product_id:
        product = account.product
    else:
        product = _looked_up(
            lookups, ("default product", program.pk), lambda: letter_product(account)
        )
    schedule = account.rate_schedule.upper()
    on, klass = req.mail_date, account.customer_class
    class_rows = _looked_up(
        lookups,
        ("jrc", program.pk, on, klass),
        lambda: jrc_rows_in_force(program=program, on=on, customer_class=klass),
    )
    own_rows = [r for r in class_rows if r.rate_schedule == schedule]
    own = next((r for r in own_rows if product and r.product_id == product.id), None)
    fees = _looked_up(
        lookups, ("fees", program.pk, on), lambda: fee_table_in_force(program=program, on=on)
    )
    class_labels = dict(CLASS_LABELS[lang])
    fee_rows = [
        {
            "klass": class_labels.get(f.customer_class, f.customer_class),
            "admin_fee": money(f.admin_fee),
            "crc": money(f.cost_recovery_charge),
            "total": money(f.total),
            "own": f.customer_class == account.customer_class,
        }
        for f in sorted(fees, key=lambda f: CustomerClass.values.index(f.customer_class))
    ]
    own_fee = next((f for f in fees if f.customer_class == account.customer_class), None)
    site = (program.website or "").rstrip("/")
    site_display = site.removeprefix("https://").removeprefix("http://")
    number = (
        KINDS.index(kind) % 2 + 1
        if kind.startswith("new_")
        else {
            "pre_enrollment_1": 1,
            "pre_enrollment_2": 2,
            "post_enrollment_1": 3,
            "post_enrollment_2": 4,
        }[kind]
    )
    return {
        "lang": lang,
        "kind": kind,
        "notice_number": number,
        "notice_total": 2 if kind.startswith("new_") else 4,
        "is_post": kind in POST_KINDS,
        "is_new_customer": kind.startswith("new_"),
        "program": program,
        "program_name": program.name,
        "short_name": program.short_name or program.name,
        "utility": program.utility,
        "utility_name": program.utility.name,
        "utility_code": program.utility.code,
        "utility_phone": phone_display(program.utility.phone),
        "return_lines": [
            line.strip() for line in program.return_address.strip().splitlines() if line.strip()
        ],
        "phone": phone_display(program.phone),
        "ivr_phone": phone_display(program.ivr_phone or program.phone),
        "tty_phone": phone_display(program.tty_phone) or "711",
        "website": site,
        "website_display": site_display,
        "opt_out_display": f"{site_display}/opt-out" if site_display else "",
        "email": program.email,
        "fees_since": date_display(max((f.effective_from for f in fees), default=None), lang),
        "free_window_days": program.free_window_days,
        "cutoff_days": program.cutoff_days,
        "cutoff_business": program.cutoff_unit == "business",
        "min_bundled_months": program.min_bundled_stay_months,
        "participant_after_days": program.participant_after_days,
        "reentry_fee": money(program.reentry_fee),
        "product": product,
        "customer_class": class_labels.get(account.customer_class, account.customer_class),
        "rate_schedule": schedule,
        "care": account.care,
        "jrc_own": _jrc_display(own) if own else None,
        "jrc_rows": [dict(_jrc_display(r), own=(r.rate_schedule == schedule)) for r in class_rows],
        "jrc_effective": date_display(
            max((r.effective_from for r in class_rows), default=None), lang
        ),
        "power_content": [
            {
                "name": p.name,
                "renewable": f"{p.renewable_pct:.0f}%",
                "carbon_free": f"{p.carbon_free_pct:.0f}%",
                "ghg": f"{p.ghg_lbs_per_mwh:,.0f}",
                "utility": p.source == "utility",
                "year": p.year,
                "own": product is not None and p.source == product.code,
            }
            for p in _looked_up(
                lookups,
                ("power content", program.pk, on),
                lambda: power_content_in_force(program=program, on=on),
            )
        ],
        "fees": fee_rows,
        "own_fee": money(own_fee.total) if own_fee else None,
    }


def _jrc_display(row) -> dict:
    return {
        "schedule": row.rate_schedule,
        "product": row.product.name,
        "kwh": f"{row.avg_monthly_kwh:,.0f}",
        "utility_generation": f"{row.utility_generation_rate:.5f}",
        "delivery": f"{row.delivery_rate:.5f}",
        "pcia": f"{row.pcia:.5f}",
        "franchise_fee": f"{row.franchise_fee:.5f}",
        "cca_generation": f"{row.cca_generation_rate:.5f}",
        "utility_bill": money(row.utility_monthly_bill),
        "cca_bill": money(row.cca_monthly_bill),
        "difference": signed_money(row.difference),
        "difference_pct": _signed_pct(row.difference_pct),
        "saves": row.difference < 0,
    }


def _signed_pct(value) -> str:
    return f"{'+' if value > 0 else ''}{value:.1f}%".replace("-", "−")


def _clip(text: str, width: int = ADDRESS_WIDTH) -> str:
    # NFC: a name keyed in decomposed form ("e" + combining marks) prints with the precomposed
    # glyphs, which the stamp font has, and the cut at `width` cannot split a letter from its
    # accent.
    text = unicodedata.normalize("NFC", " ".join((text or "").split()))
    return text[:width]


def personal_fields(req: LetterRequest) -> dict[str, str]:
    """The recipient's own lines, each one short line of plain text (see module docstring)."""
    a = req.account
    lang = letter_language(a)
    program = a.program
    city_line = f"{a.mailing_city} {a.mailing_state} {a.mailing_zip}".strip()
    service_start = a.cca_service_start
    free_until = a.free_window_ends() if req.kind in POST_KINDS else None
    if service_start is None and a.phase_id:
        phase = a.phase
        assert phase is not None  # phase_id is set
        service_start_text = _window_text(phase.enrollment_start, phase.enrollment_end, lang)
    else:
        service_start_text = date_display(service_start, lang)
    return {
        "name": _clip(a.customer_name),
        "addr1": _clip(a.mailing_address),
        "addr2": _clip(city_line),
        "account": a.account_number,
        "piece": req.piece_id,
        "salutation": _clip(
            ("Estimado/a " if lang == "es" else "Dear ") + name_display(a.customer_name) + ",", 60
        ),
        "service_start": service_start_text,
        "free_until": date_display(free_until, lang),
        # Printed in a personal box, so every drop of a notice shares one rendered variant.
        "mail_date": date_display(req.mail_date, lang),
        "code": a.opt_out_code,
        "code_url": _clip(opt_out_prefix(program).split("//", 1)[-1] + a.opt_out_code, 60),
    }


def _window_text(start: dt.date, end: dt.date, lang: str) -> str:
    if lang == "es":
        return f"entre el {date_display(start, lang)} y el {date_display(end, lang)}"
    return f"between {date_display(start, lang)} and {date_display(end, lang)}"


CLASS_LABELS = {
    "en": CustomerClass.choices,
    "es": [
        ("residential", "Residencial"),
        ("small_commercial", "Comercial pequeño"),
        ("medium_commercial", "Comercial mediano"),
        ("large_commercial", "Comercial grande"),
        ("industrial", "Industrial"),
        ("street_lighting", "Alumbrado público"),
        ("agricultural", "Agrícola y bombeo"),
    ],
}
