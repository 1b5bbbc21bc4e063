"""Load a program file: the TOML document a CCA's staff edit by hand (docs/formats/program-file.md).

Everything is checked before anything is written, and every problem is reported with the key
path it concerns ("phases[1].enrollment_end: ..."), so staff can fix the file in one pass. A
load runs in one transaction and updates in place: utility by code, program by slug, rate
schedules by code, products by code, phases by name, fee rows by (class, effective_from),
closures by (date, calendar).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from accounts.models import (
    CPUC_MAX_SHARE_PCT,
    CPUC_MIN_CUSTOMERS,
    DEFAULT_ADMIN_FEES,
    BusinessCalendar,
    CalendarKind,
    Closure,
    CustomerClass,
    FeeSchedule,
    Phase,
    Product,
    Program,
    RateSchedule,
    TradingPartner,
    Utility,
)
from accounts.services import contact
from accounts.services.calendar import calendar_cache_clear
from accounts.services.calendar import today as business_today
from accounts.services.text_files import InputFileError, text_lines
from accounts.services.trading_partners import (
    trading_partner_defaults,
    trading_partner_problems,
)
from accounts.services.values import InvalidValue
from accounts.validators import mailer_id_validate


class ProgramFileError(Exception):
    """The file cannot be loaded; `errors` lists every problem as "key.path: what is wrong"."""

    def __init__(self, errors: list[str], source: str = ""):
        self.errors = errors
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(
            f"{where}{len(errors)} problem(s) in the program file:\n"
            + "\n".join(f"  {e}" for e in errors)
        )


@dataclass
class ProgramLoadResult:
    program: Program
    created: bool
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"program {self.program.slug} {'created' if self.created else 'updated'}"]
        for what, c in self.counts.items():
            parts.append(f"{what}: " + ", ".join(f"{v} {k}" for k, v in c.items()))
        return "; ".join(parts)


# --- the schema: key → kind. Kinds are checked by _Checker._value. --------------------------
PROGRAM_KEYS = {
    "slug": "slug!",
    "name": "str!",
    "short_name": "str",
    "phone": "phone",
    "ivr_phone": "phone",
    "tty_phone": "phone",
    "call_centre_phone": "phone",
    "website": "url",
    "email": "email",
    "return_address": "str",
    "languages": "languages",
    "notice_rule_set": "str",
    "mailer_id": "mailer_id",
}
UTILITY_KEYS = {"code": "slug!", "name": "str!", "phone": "phone", "website": "url"}
SETTINGS_KEYS = {
    "free_window_days": "days",
    "cutoff_days": "days",
    "cutoff_unit": "cutoff_unit",
    "min_bundled_stay_months": "days",
    "participant_after_days": "days",
    "accept_optouts_before_notice": "bool",
    "optout_refusal_message": "str",
    "reentry_fee": "money",
    "large_customer_entry_fee": "money",
    "confirmation_days": "days",
    "mail_lead_business_days": "days",
    "ccasr_response_days": "days",
    "mail_calendar": "calendar_name",
    "utility_calendar": "calendar_name",
    "office_calendar": "calendar_name",
    "suppression_min_customers": "count",
    "suppression_max_share_pct": "pct",
}
PRODUCT_KEYS = {
    "code": "slug!",
    "name": "str!",
    "renewable_pct": "pct",
    "carbon_free_pct": "pct",
    "default": "bool",
    "description": "str",
}
PHASE_KEYS = {
    "name": "str!",
    "number": "count",
    "enrollment_start": "date!",
    "enrollment_end": "date!",
    "rule": "phase_rule",
    "values": "str_list",
}
RATE_SCHEDULE_KEYS = {"code": "str!", "customer_class": "customer_class!", "description": "str"}
FEE_KEYS = {
    "customer_class": "customer_class!",
    "effective_from": "date!",
    "admin_fee": "money!",
    "cost_recovery_charge": "money",
    "note": "str",
}
CLOSURE_KEYS = {"date": "date!", "calendar": "calendar_kinds!", "reason": "str"}
# The EDI trading-partner profile (docs/formats/ccasr-edi.md); model fields of TradingPartner.
TRADING_PARTNER_KEYS = {
    "x12_version": "str",
    "usage": "edi_usage",
    "sender_id_qualifier": "str",
    "sender_id": "str",
    "receiver_id_qualifier": "str",
    "receiver_id": "str",
    "application_sender_code": "str",
    "application_receiver_code": "str",
    "cca_id_qualifier": "str",
    "cca_id": "str",
    "utility_id_qualifier": "str",
    "utility_id": "str",
    "element_separator": "raw_str",
    "component_separator": "raw_str",
    "segment_terminator": "raw_str",
    "mass_enrollment_connects": "connects_by",
    "preenrollment_optouts": "optout_form",
    "acknowledge_responses": "bool",
    "codes": "edi_codes",
    "folder": "str",
    "sftp_host": "str",
    "sftp_port": "port",
    "sftp_username": "str",
    "sftp_key_file": "str",
    "sftp_known_hosts": "str",
    "sftp_put_dir": "str",
    "sftp_get_dir": "str",
}
TABLES = {
    "program": PROGRAM_KEYS,
    "utility": UTILITY_KEYS,
    "settings": SETTINGS_KEYS,
    "trading_partner": TRADING_PARTNER_KEYS,
}
ARRAYS = {
    "products": PRODUCT_KEYS,
    "phases": PHASE_KEYS,
    "rate_schedules": RATE_SCHEDULE_KEYS,
    "fees": FEE_KEYS,
    "closures": CLOSURE_KEYS,
}
REQUIRED_TABLES = ("program", "utility")

SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
LANGUAGE = re.compile(r"^[a-z]{2}$")
_url = URLValidator(schemes=["http", "https"])
_MAX_LEN = {  # model field lengths, so a too-long value is reported by key, not as a DB error
    "program.slug": 50,
    "program.name": 200,
    "program.short_name": 60,
    "program.notice_rule_set": 40,
    "utility.code": 16,
    "utility.name": 200,
    "products.code": 40,
    "products.name": 100,
    "phases.name": 60,
    "rate_schedules.code": 32,
    "rate_schedules.description": 200,
    "fees.note": 200,
    "closures.reason": 200,
    "trading_partner.x12_version": 6,
    "trading_partner.sender_id_qualifier": 2,
    "trading_partner.sender_id": 15,
    "trading_partner.receiver_id_qualifier": 2,
    "trading_partner.receiver_id": 15,
    "trading_partner.application_sender_code": 15,
    "trading_partner.application_receiver_code": 15,
    "trading_partner.cca_id_qualifier": 2,
    "trading_partner.cca_id": 80,
    "trading_partner.utility_id_qualifier": 2,
    "trading_partner.utility_id": 80,
    "trading_partner.folder": 500,
    "trading_partner.sftp_host": 255,
    "trading_partner.sftp_username": 100,
    "trading_partner.sftp_key_file": 500,
    "trading_partner.sftp_known_hosts": 500,
    "trading_partner.sftp_put_dir": 255,
    "trading_partner.sftp_get_dir": 255,
}


def _did_you_mean(key: str, choices) -> str:
    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.6)
    return (
        f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(sorted(choices))}"
    )


class _Checker:
    def __init__(self):
        self.errors: list[str] = []

    def err(self, path: str, problem: str):
        self.errors.append(f"{path}: {problem}")

    def table(self, path: str, raw: Any, schema: dict[str, str]) -> dict[str, Any]:
        """Check one table against its schema; returns the clean values of the keys present."""
        if not isinstance(raw, dict):
            self.err(path, f"must be a table ([{path}]), not {type(raw).__name__}")
            return {}
        clean = {}
        for key, value in raw.items():
            if key not in schema:
                self.err(f"{path}.{key}", "unknown key" + _did_you_mean(key, schema))
                continue
            ok, cleaned = self._value(f"{path}.{key}", schema[key].rstrip("!"), value)
            if ok:
                limit = _MAX_LEN.get(re.sub(r"\[\d+\]", "", path) + "." + key)
                if limit and isinstance(cleaned, str) and len(cleaned) > limit:
                    self.err(
                        f"{path}.{key}",
                        f"is {len(cleaned)} characters long; at most {limit} allowed",
                    )
                else:
                    clean[key] = cleaned
        for key, kind in schema.items():
            if kind.endswith("!") and key not in raw:
                self.err(f"{path}.{key}", "is required")
        return clean

    def _value(self, path: str, kind: str, v: Any) -> tuple[bool, Any]:
        def bad(problem):
            self.err(path, problem)
            return False, None

        if kind in (
            "str",
            "slug",
            "phone",
            "url",
            "email",
            "mailer_id",
            "cutoff_unit",
            "phase_rule",
            "calendar_name",
            "edi_usage",
            "connects_by",
            "optout_form",
            "raw_str",
        ):
            if not isinstance(v, str):
                return bad(f"must be text in quotes, not {_show(v)}")
            v = v if kind == "raw_str" else v.strip()
        if kind in ("str", "raw_str"):
            return True, v
        if kind == "edi_usage":
            usage = {
                "test": TradingPartner.Usage.TEST,
                "production": TradingPartner.Usage.PRODUCTION,
            }
            if v not in usage:
                return bad(f"{v!r} is not one of test, production")
            return True, usage[v]
        if kind == "connects_by":
            if v not in TradingPartner.ConnectsBy.values:
                return bad(f"{v!r} is not one of {', '.join(TradingPartner.ConnectsBy.values)}")
            return True, v
        if kind == "optout_form":
            if v not in TradingPartner.OptOutForm.values:
                return bad(f"{v!r} is not one of {', '.join(TradingPartner.OptOutForm.values)}")
            return True, v
        if kind == "edi_codes":
            if not isinstance(v, dict):
                return bad("must be a table ([trading_partner.codes])")
            return True, v
        if kind == "port":
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
                return bad(f"must be a port number (1 to 65535), not {_show(v)}")
            return True, v
        if kind == "slug":
            if not v or not SLUG.match(v):
                return bad(f"{v!r} may contain only letters, digits, '-' and '_'")
            return True, v
        if kind == "phone":
            if not v:
                return True, ""
            try:
                return True, contact.phone_e164(v)
            except InvalidValue:
                return bad(f"{v!r} is not a valid telephone number")
        if kind == "url":
            try:
                if v:
                    _url(v)
            except ValidationError:
                return bad(f"{v!r} is not a web address (https://…)")
            return True, v
        if kind == "email":
            try:
                return True, contact.email_address(v)
            except InvalidValue:
                return bad(f"{v!r} is not an e-mail address")
        if kind == "mailer_id":
            try:
                mailer_id_validate(v)
            except ValidationError as exc:
                return bad(exc.messages[0])
            return True, v
        if kind == "cutoff_unit":
            if v not in Program.CutoffUnit.values:
                return bad(f"{v!r} is not one of {', '.join(Program.CutoffUnit.values)}")
            return True, v
        if kind == "calendar_name":
            if v not in BusinessCalendar.values:
                return bad(f"{v!r} is not one of {', '.join(BusinessCalendar.values)}")
            return True, v
        if kind == "calendar_kinds":
            kinds = [v] if isinstance(v, str) else v
            if (
                not isinstance(kinds, list)
                or not kinds
                or not all(isinstance(k, str) for k in kinds)
            ):
                return bad(
                    'must be a calendar or a list of them, e.g. "office" or ["mail", "office"]'
                )
            wrong = [k for k in kinds if k.strip() not in CalendarKind.values]
            if wrong:
                return bad(
                    f"{', '.join(map(repr, wrong))} not one of {', '.join(CalendarKind.values)}"
                )
            return True, sorted({k.strip() for k in kinds})
        if kind == "phase_rule":
            if v not in Phase.Rule.values:
                return bad(f"{v!r} is not one of {', '.join(Phase.Rule.values)}")
            return True, v
        if kind in ("customer_class",):
            if v not in CustomerClass.values:
                close = difflib.get_close_matches(str(v), CustomerClass.values, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                return bad(f"{_show(v)} is not one of {', '.join(CustomerClass.values)}{hint}")
            return True, v
        if kind == "languages":
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                return bad('must be a list of language codes, e.g. ["en", "es"]')
            wrong = [x for x in v if not LANGUAGE.match(x)]
            if wrong:
                return bad(
                    f"{', '.join(map(repr, wrong))} not ISO 639-1 code(s) "
                    "(two lower-case letters, e.g. 'es')"
                )
            return True, v
        if kind == "str_list":
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                return bad('must be a list of text values, e.g. ["residential"]')
            return True, [x.strip() for x in v]
        if kind == "bool":
            if not isinstance(v, bool):
                return bad(f"must be true or false (no quotes), not {_show(v)}")
            return True, v
        if kind in ("days", "count"):
            if isinstance(v, bool) or not isinstance(v, int):
                return bad(f"must be a whole number, not {_show(v)}")
            if v < 0 or v > 32767:
                return bad(f"{v} is out of range (0 to 32767)")
            return True, v
        if kind in ("money", "pct"):
            if isinstance(v, bool) or not isinstance(v, (int, Decimal, str)):
                return bad(f"must be a number, not {_show(v)}")
            try:
                d = Decimal(str(v))
            except InvalidOperation:
                return bad(f"{v!r} is not a number")
            if not d.is_finite() or d < 0:
                return bad(f"{v} must be zero or more")
            exponent = d.as_tuple().exponent
            assert isinstance(exponent, int)  # d is finite, so not 'n', 'N' or 'F'
            if exponent < -2:
                return bad(f"{v} has more than 2 decimal places")
            if kind == "pct" and d > 100:
                return bad(f"{v} is more than 100 percent")
            if kind == "money" and d >= Decimal("1e8"):
                return bad(f"{v} is too large")
            return True, d.quantize(Decimal("0.01"))
        if kind == "date":
            if isinstance(v, dt.datetime):
                return bad(f"{v} has a time; give a date (YYYY-MM-DD)")
            if isinstance(v, dt.date):
                return True, v
            if isinstance(v, str):
                try:
                    return True, dt.date.fromisoformat(v.strip())
                except ValueError:
                    pass
            return bad(f"{_show(v)} is not a date (YYYY-MM-DD)")
        raise AssertionError(kind)


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, (dict, list)):
        return "a table" if isinstance(v, dict) else "a list"
    return str(v)


@dataclass
class _Clean:
    program: dict
    utility: dict
    settings: dict
    products: list[dict]
    phases: list[dict]
    rate_schedules: list[dict]
    fees: list[dict]
    closures: list[dict]
    trading_partner: dict


def program_file_check(*, data: dict) -> _Clean:
    """Validate a parsed program document; raises ProgramFileError listing every problem."""
    c = _Checker()
    for key in data:
        if key not in TABLES and key not in ARRAYS:
            c.err(key, "unknown section" + _did_you_mean(key, [*TABLES, *ARRAYS]))
    for key in REQUIRED_TABLES:
        if key not in data:
            c.err(key, f"section [{key}] is missing")
    tables = {k: c.table(k, data.get(k, {}), schema) for k, schema in TABLES.items()}
    arrays: dict[str, list[dict]] = {}
    for name, schema in ARRAYS.items():
        raw = data.get(name, [])
        if not isinstance(raw, list):
            c.err(name, f"must be written as [[{name}]] entries")
            raw = []
        arrays[name] = [c.table(f"{name}[{i}]", item, schema) for i, item in enumerate(raw)]

    _unique(c, "products", arrays["products"], "code")
    _unique(c, "phases", arrays["phases"], "name")
    _unique(c, "rate_schedules", arrays["rate_schedules"], "code")
    fee_keys: dict[tuple, int] = {}
    for i, fee in enumerate(arrays["fees"]):
        k = (fee.get("customer_class"), fee.get("effective_from"))
        if None not in k and k in fee_keys:
            c.err(f"fees[{i}]", f"repeats fees[{fee_keys[k]}] ({k[0]} from {k[1]})")
        fee_keys.setdefault(k, i)
    closure_keys: dict[tuple, int] = {}
    for i, closure in enumerate(arrays["closures"]):
        for kind in closure.get("calendar", []):
            k = (closure.get("date"), kind)
            if k[0] is not None and k in closure_keys:
                c.err(f"closures[{i}]", f"repeats closures[{closure_keys[k]}] ({k[0]} on {kind})")
            closure_keys.setdefault(k, i)

    for key, problem in trading_partner_problems(tables["trading_partner"]):
        c.err(f"trading_partner.{key}", problem)
    for key, problem in _suppression_problems(tables["settings"]):
        c.err(f"settings.{key}", problem)

    defaults = [i for i, p in enumerate(arrays["products"]) if p.get("default")]
    if arrays["products"] and len(defaults) != 1:
        c.err("products", f"exactly one product must have default = true; found {len(defaults)}")

    numbers: dict[int, int] = {}
    codes = {r["code"] for r in arrays["rate_schedules"] if "code" in r}
    for i, ph in enumerate(arrays["phases"]):
        ph.setdefault("number", i + 1)
        ph.setdefault("rule", Phase.Rule.FILE)
        ph.setdefault("values", [])
        start, end = ph.get("enrollment_start"), ph.get("enrollment_end")
        if start and end and end < start:
            c.err(f"phases[{i}].enrollment_end", f"{end} is before enrollment_start {start}")
        if ph["number"] in numbers:
            c.err(
                f"phases[{i}].number",
                f"{ph['number']} is already used by phases[{numbers[ph['number']]}]",
            )
        numbers.setdefault(ph["number"], i)
        rule, values = ph["rule"], ph["values"]
        if rule == Phase.Rule.FILE and values:
            c.err(
                f"phases[{i}].values",
                "must be empty when rule = 'file' (the file names each account's phase)",
            )
        elif rule != Phase.Rule.FILE and not values:
            c.err(
                f"phases[{i}].values",
                f"lists the {rule.replace('_', ' ')} values assigned to this phase; it is empty",
            )
        elif rule == Phase.Rule.CUSTOMER_CLASS:
            for v in values:
                if v not in CustomerClass.values:
                    c.err(
                        f"phases[{i}].values",
                        f"{v!r} is not one of {', '.join(CustomerClass.values)}",
                    )
        elif rule == Phase.Rule.RATE_SCHEDULE and codes:
            for v in values:
                if v not in codes:
                    c.err(
                        f"phases[{i}].values", f"rate schedule {v!r} is not in [[rate_schedules]]"
                    )
        elif rule == Phase.Rule.CITY:
            ph["values"] = [v.upper() for v in values]  # cities are stored USPS-style, upper case
    if c.errors:
        raise ProgramFileError(c.errors)
    return _Clean(
        tables["program"],
        tables["utility"],
        tables["settings"],
        arrays["products"],
        arrays["phases"],
        arrays["rate_schedules"],
        arrays["fees"],
        arrays["closures"],
        tables["trading_partner"],
    )


def _suppression_problems(settings: dict) -> list[tuple[str, str]]:
    """The board report's threshold may be stricter than the CPUC's 15/15 rule, never looser."""
    stricter = "a program's threshold may only be stricter than the CPUC's 15/15 rule"
    problems = []
    n = settings.get("suppression_min_customers")
    if n is not None and n < CPUC_MIN_CUSTOMERS:
        problems.append(
            ("suppression_min_customers", f"{n} is fewer than {CPUC_MIN_CUSTOMERS}: {stricter}")
        )
    pct = settings.get("suppression_max_share_pct")
    if pct is not None and pct > CPUC_MAX_SHARE_PCT:
        shown = format(pct.normalize(), "f")
        problems.append(
            ("suppression_max_share_pct", f"{shown} is more than {CPUC_MAX_SHARE_PCT}: {stricter}")
        )
    elif pct == 0:
        problems.append(("suppression_max_share_pct", "0 would suppress every amount"))
    return problems


def _unique(c: _Checker, name: str, rows: list[dict], key: str):
    seen: dict[Any, int] = {}
    for i, row in enumerate(rows):
        if key in row:
            if row[key] in seen:
                c.err(
                    f"{name}[{i}].{key}",
                    f"{row[key]!r} is already used by {name}[{seen[row[key]]}]",
                )
            seen.setdefault(row[key], i)


def program_file_parse(*, path: Path) -> dict:
    """Read the TOML; numbers with a decimal point are read as Decimal, never float."""
    try:
        # TOML forbids a NUL outside strings, and no string of ours holds one.
        return tomllib.loads("".join(text_lines(path)), parse_float=Decimal)
    except InputFileError as e:
        raise ProgramFileError([str(e).removeprefix(f"{path}: ")], str(path)) from None
    except tomllib.TOMLDecodeError as e:
        raise ProgramFileError([f"not valid TOML: {e}"], str(path)) from None


def program_load(*, path: Path, today: dt.date | None = None) -> ProgramLoadResult:
    return program_load_document(
        data=program_file_parse(path=Path(path)), source=str(path), today=today
    )


def program_load_document(
    *, data: dict, source: str = "", today: dt.date | None = None
) -> ProgramLoadResult:
    """Validate `data` (a parsed program file) and write it in one transaction."""
    try:
        clean = program_file_check(data=data)
    except ProgramFileError as e:
        raise ProgramFileError(e.errors, source) from None
    today = today or business_today()
    try:
        with transaction.atomic():
            return _write(clean, today)
    except ProgramFileError as e:
        raise ProgramFileError(e.errors, source) from None


def _write(clean: _Clean, today: dt.date) -> ProgramLoadResult:
    errors: list[str] = []
    utility, _ = Utility.objects.update_or_create(
        code=clean.utility["code"], defaults={k: v for k, v in clean.utility.items() if k != "code"}
    )

    prog_fields = {**clean.program, **clean.settings, "utility": utility}
    slug = prog_fields.pop("slug")
    program = Program.objects.select_for_update().filter(slug=slug).first()
    created = program is None
    program = program or Program(slug=slug)
    for k, v in prog_fields.items():
        setattr(program, k, v)
    _full_clean(program, "program", errors)
    if program.ivr_phone:
        shared = Program.objects.filter(ivr_phone=program.ivr_phone).exclude(slug=slug).first()
        if shared is not None:
            errors.append(
                f"program.ivr_phone: {program.ivr_phone} is already the IVR line of program "
                f"{shared.slug!r}; each program needs its own (the called number picks the program)"
            )
    if errors:
        raise ProgramFileError(errors)
    program.save()
    counts: dict[str, dict[str, int]] = {}

    counts["rate schedules"] = _upsert(
        RateSchedule.objects.filter(utility=utility),
        "code",
        clean.rate_schedules,
        lambda row: RateSchedule(utility=utility, **row),
        "rate_schedules",
        errors,
    )

    products = [
        {**{k: v for k, v in p.items() if k != "default"}, "is_default": p.get("default", False)}
        for p in clean.products
    ]
    if any(p["is_default"] for p in products):
        # Clear the old default first: at most one default product per program (a constraint).
        new_default = next(p["code"] for p in products if p["is_default"])
        Product.objects.filter(program=program, is_default=True).exclude(code=new_default).update(
            is_default=False
        )
    counts["products"] = _upsert(
        Product.objects.filter(program=program),
        "code",
        products,
        lambda row: Product(program=program, **row),
        "products",
        errors,
    )

    phases = [
        {**{k: v for k, v in p.items() if k != "values"}, "rule_values": p["values"]}
        for p in clean.phases
    ]
    # Renumbering phases could collide mid-update with nothing enforcing it, so numbers are plain.
    counts["phases"] = _upsert(
        Phase.objects.filter(program=program),
        "name",
        phases,
        lambda row: Phase(program=program, **row),
        "phases",
        errors,
    )

    counts["fees"] = _fees(program, clean.fees, today, errors)
    counts["closures"] = _closures(program, clean.closures)
    counts["trading partner"] = _trading_partner(program, clean.trading_partner)
    if errors:
        raise ProgramFileError(errors)
    return ProgramLoadResult(program=program, created=created, counts=counts)


def _trading_partner(program: Program, values: dict) -> dict[str, int]:
    """The profile is updated key by key: a key missing from the file keeps its value (and the
    control-number counters are never touched by a load)."""
    partner = TradingPartner.objects.filter(program=program).first()
    if partner is None:
        TradingPartner.objects.create(
            program=program, **{**trading_partner_defaults(program), **values}
        )
        return {"created": 1}
    changed = [k for k, v in values.items() if getattr(partner, k) != v]
    for k in changed:
        setattr(partner, k, values[k])
    if changed:
        partner.save(update_fields=changed)
    return {"updated": 1} if changed else {"unchanged": 1}


def _full_clean(obj, path: str, errors: list[str], exclude=()):
    try:
        obj.full_clean(
            exclude=["utility", "program", *exclude],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as e:
        for fld, msgs in e.message_dict.items():
            errors.extend(f"{path}.{fld}: {m}" for m in msgs)


def _upsert(qs, key: str, rows: list[dict], make, path: str, errors: list[str]) -> dict[str, int]:
    existing = {getattr(o, key): o for o in qs}
    c = {"created": 0, "updated": 0, "unchanged": 0}
    for i, row in enumerate(rows):
        obj = existing.get(row[key])
        before = len(errors)
        if obj is None:
            obj = make(row)
            _full_clean(obj, f"{path}[{i}]", errors)
            if len(errors) == before:  # the transaction is rolled back anyway; errors first
                obj.save()
            c["created"] += 1
            continue
        changed = [k for k, v in row.items() if getattr(obj, k) != v]
        if changed:
            for k in changed:
                setattr(obj, k, row[k])
            _full_clean(obj, f"{path}[{i}]", errors)
            if len(errors) == before:
                obj.save(update_fields=changed)
            c["updated"] += 1
        else:
            c["unchanged"] += 1
    c["kept (not in file)"] = len(set(existing) - {r[key] for r in rows})
    if not c["kept (not in file)"]:
        del c["kept (not in file)"]
    return c


def _fees(program: Program, fees: list[dict], today: dt.date, errors: list[str]) -> dict[str, int]:
    """Fee rows are matched by (class, effective_from). A row already in force is never changed:
    notices have disclosed it and fees were assessed from it (FeeSchedule's docstring)."""
    existing = {
        (f.customer_class, f.effective_from): f for f in FeeSchedule.objects.filter(program=program)
    }
    c = {"created": 0, "updated": 0, "unchanged": 0}
    for i, row in enumerate(fees):
        row = {"cost_recovery_charge": Decimal("0.00"), "note": "", **row}
        obj = existing.get((row["customer_class"], row["effective_from"]))
        if obj is None:
            FeeSchedule.objects.create(program=program, **row)
            c["created"] += 1
            continue
        changed = [
            k for k in ("admin_fee", "cost_recovery_charge", "note") if getattr(obj, k) != row[k]
        ]
        money_changed = [k for k in changed if k != "note"]
        if money_changed and obj.effective_from <= today:
            errors.append(
                f"fees[{i}]: the {row['customer_class']} fee from {obj.effective_from} "
                "is already in force "
                f"({', '.join(f'{k} {getattr(obj, k)} → {row[k]}' for k in money_changed)}); "
                "keep this row as it is and add a new [[fees]] row with a later effective_from"
            )
            continue
        if changed:
            for k in changed:
                setattr(obj, k, row[k])
            obj.save(update_fields=changed)
            c["updated"] += 1
        else:
            c["unchanged"] += 1
    # A program with no fee row for a class gets the default table (docs/rules.md R-FEE), in force
    # from the earliest date the file gives (or today), so every notice can disclose a fee.
    have = {cls for cls, _ in existing} | {f["customer_class"] for f in fees}
    start = min((f["effective_from"] for f in fees), default=today)
    for cls, fee in DEFAULT_ADMIN_FEES.items():
        if cls not in have:
            FeeSchedule.objects.create(
                program=program,
                customer_class=cls,
                effective_from=start,
                admin_fee=fee,
                note="default schedule (the implementation plan's fee table, docs/rules.md R-FEE)",
            )
            c["created"] += 1
    return c


def _closures(program: Program, closures: list[dict]) -> dict[str, int]:
    """One row per (date, calendar); an entry naming several calendars closes each of them."""
    existing = {(c.date, c.calendar): c for c in Closure.objects.filter(program=program)}
    c = {"created": 0, "updated": 0, "unchanged": 0}
    listed = set()
    for row in closures:
        for kind in row["calendar"]:
            key = (row["date"], kind)
            listed.add(key)
            reason = row.get("reason", "")
            obj = existing.get(key)
            if obj is None:
                Closure.objects.create(
                    program=program, date=row["date"], calendar=kind, reason=reason
                )
                c["created"] += 1
            elif obj.reason != reason:
                obj.reason = reason
                obj.save(update_fields=["reason"])
                c["updated"] += 1
            else:
                c["unchanged"] += 1
    if kept := len(set(existing) - listed):
        c["kept (not in file)"] = kept
    if c["created"] or c["updated"]:
        calendar_cache_clear()  # this process counts with them at once; others within the TTL
    return c
