"""Confirmation letters and the "Six-Month Advance Notice to Return to Bundled Portfolio Service".

The mailer pipeline's renderer (cca_notices.mailers) is built for the four opt-out notices
(LetterRequest by notice kind, the notice stylesheet); these one-off letters use their own
templates (templates/letters/<lang>/) rendered with WeasyPrint in the same way: one `generate`
returns the name, type and bytes, and the data a letter was built from is the context below.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.services import calendar, display
from accounts.services.names import name_display
from cca_notices.mailers.render import font_config
from optouts.models import Confirmation, ReturnPath

LANGS = ("en", "es")


def _date(day: dt.date | None, lang: str) -> str:
    if day is None:
        with translation.override(lang):
            return gettext("your next meter-read date")
    return display.long_date(day, lang)


def _money(value: Decimal | None, lang: str) -> str:
    return display.money(value, lang) if value else ""


@dataclass(frozen=True)
class Letter:
    name: str
    content_type: str
    content: bytes


def letter_context(*, confirmation: Confirmation, on: dt.date | None = None) -> dict:
    c = confirmation
    lang = c.language if c.language in LANGS else "en"
    a, p = c.account, c.program

    def d(day: dt.date | None) -> str:
        return _date(day, lang)

    ctx = {
        "lang": lang,
        "kind": c.kind,
        "program": p,
        "program_name": p.name,
        "utility_name": p.utility.name,
        "phone": display.phone_display(p.phone),
        "website": p.website.replace("https://", "").rstrip("/"),
        "email": p.email,
        "return_lines": [x for x in p.return_address.splitlines() if x.strip()],
        "date": d(on or calendar.today()),
        # The salutation as people write the name; the address block and the premises as stored,
        # in USPS upper case (R-NAMES, R-ADDRESS).
        "name": name_display(a.customer_name),
        "address": [
            a.customer_name,
            a.mailing_address,
            f"{a.mailing_city} {a.mailing_state} {a.mailing_zip}",
        ],
        "account_last4": a.account_number[-4:],
        "service_address": f"{a.service_address}, {a.service_city}",
    }
    if c.optout_id:
        o = c.optout
        assert o is not None  # optout_id is set
        ctx.update(
            code=o.confirmation_code,
            received=d(timezone.localdate(o.received_at)),
            effective=d(o.effective_date),
            fee=_money(o.fee_amount, lang),
            outcome=o.outcome,
            admin_fee=_money(o.admin_fee, lang),
            crc=_money(o.cost_recovery_charge, lang),
        )
    if c.reentry_id:
        r = c.reentry
        assert r is not None  # reentry_id is set
        ctx.update(
            code=r.optout.confirmation_code,
            notice_date=d(r.notice_date),
            path=r.path,
            advance=r.path == ReturnPath.ADVANCE_NOTICE,
            effective=d(r.optout.effective_date),
            cca_until=d(r.cca_service_until),
            tbs_from=d(r.tbs_from),
            tbs_until=d(r.tbs_until),
            bundled_from=d(r.bundled_from),
            standard_from=d(r.standard_rates_from),
            stay_months=r.min_stay_months,
            stay_until=d(r.min_stay_until),
            reentry_fee=_money(r.reentry_fee, lang),
            fee=_money(r.optout.fee_amount, lang),
        )
    if c.rejoin_id:
        j = c.rejoin
        assert j is not None  # rejoin_id is set
        ctx.update(
            code=j.confirmation_code,
            effective=d(j.effective_date),
            entry_fee=_money(j.entry_fee, lang),
            product=j.product_code,
        )
    return ctx


def letter_template(confirmation: Confirmation) -> str:
    lang = confirmation.language if confirmation.language in LANGS else "en"
    name = (
        "reentry_advance_notice"
        if confirmation.kind == Confirmation.Kind.REENTRY
        else "confirmation"
    )
    return f"letters/{lang}/{name}.html"


def letter_html(*, confirmation: Confirmation, on: dt.date | None = None) -> str:
    return render_to_string(
        letter_template(confirmation), letter_context(confirmation=confirmation, on=on)
    )


def generate(*, confirmation: Confirmation, on: dt.date | None = None) -> Letter:
    from weasyprint import HTML

    html = letter_html(confirmation=confirmation, on=on)
    pdf = HTML(string=html).write_pdf(font_config=font_config())
    return Letter(
        f"{confirmation.kind}-{confirmation.account.account_number}-{confirmation.pk}.pdf",
        "application/pdf",
        pdf,
    )


def confirmation_letter_pdf(*, confirmation: Confirmation) -> bytes:
    return generate(confirmation=confirmation).content
