"""Validation of one record: the fast path and the careful path, which is the definition.

`Validator.row` tries `clean_row`, written for the record with no problem at all (nearly every
record of a million-row load): it collects no errors and raises at its first doubt. Then
`checked_row` decides: it words every error of the record by column, and it uses the normalisers'
careful forms. The two give the same answer wherever the fast path answers
(tests/importing/test_validator_equivalence.py), so the fast path is only a speed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

from accounts import normalize
from accounts.models import CustomerClass, Phase, Product, Program, RateSchedule, Status
from accounts.services import contact
from accounts.services.importing.columns import (
    FIELD_LIMIT,
    NEEDS_ENROLLMENT_DATE,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    WIDTHS,
)
from accounts.services.importing.results import RowError
from accounts.services.personal_codes import personal_codes_new
from accounts.services.status import IMPORTABLE_STATUSES

# ISO 639-1.
_ISO_639_1 = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
    "cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi "
    "ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks "
    "ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl "
    "nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl "
    "sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve "
    "vi vo wa wo xh yi yo za zh zu"
)
LANGUAGES = frozenset(_ISO_639_1.split())
CLASSES = frozenset(CustomerClass.values)
BOOLS = {"Y": True, "N": False, "y": True, "n": False}
# Read cycles as files write them; anything else ("07", " 7") takes the careful path.
READ_CYCLES = {str(n): n for n in range(1, 100)}
_ACCOUNT = re.compile(r"^[A-Za-z0-9-]{1,32}$")


class NotClean(Exception):
    """The fast path has a doubt about a record; the careful path decides."""


_ELIGIBLE = Status.ELIGIBLE  # an enum member's look-up costs a descriptor call, once a row


class Validator:
    """Turns one CSV record into a staging tuple or a list of RowErrors."""

    def __init__(self, program: Program, columns: list[str]):
        self.program = program
        self.index = {name: i for i, name in enumerate(columns)}
        # Column positions as attributes (None for an optional column the file does not have).
        self.cols = SimpleNamespace(
            **{name: self.index.get(name) for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
        )
        self.flag_cols = [
            (col, self.index[col]) for col in ("care", "nem", "medical_baseline", "direct_access")
        ]
        self.tariffs = dict(
            RateSchedule.objects.filter(utility_id=program.utility_id).values_list(
                "code", "customer_class"
            )
        )
        phases = list(Phase.objects.filter(program=program).order_by("number"))
        self.phases = {p.name: p.id for p in phases} | {str(p.number): p.id for p in phases}
        self.rule_phases = [p for p in phases if p.rule != Phase.Rule.FILE]
        self.products = dict(Product.objects.filter(program=program).values_list("code", "id"))
        self.default_language = (program.languages or ["en"])[0]
        self._random: list[str] = []
        # The fast path reads a record's required fields in one call, in REQUIRED_COLUMNS order.
        self.required = itemgetter(*(self.index[name] for name in REQUIRED_COLUMNS))
        self.has_optional = any(name in self.index for name in OPTIONAL_COLUMNS)
        # Phases are fixed for the run, and rows repeat the same class, tariff and city.
        self._phase_for: Callable[[str, str, str], int | None] = lru_cache(maxsize=4096)(
            self._phase_by_rule
        )

    def _code(self) -> str:
        """A fresh personal code; its uniqueness is checked in SQL."""
        if not self._random:
            self._random = personal_codes_new(4096)
        return self._random.pop()

    def _phase_by_rule(self, klass: str, tariff: str, city: str) -> int | None:
        for p in self.rule_phases:
            key = {"customer_class": klass, "rate_schedule": tariff, "city": city}.get(p.rule)
            if key is not None and key in p.rule_values:
                return p.id
        return None

    @staticmethod
    def _norm(
        fn: Callable[[str], Any], value: str, col: str, line: int, errors: list[RowError]
    ) -> Any:
        try:
            return fn(value)
        except normalize.InvalidValue as exc:
            errors.append(RowError(line, col, str(exc)))
        except (ValueError, KeyError) as exc:
            errors.append(RowError(line, col, str(exc) or "is not valid"))
        return None

    def row(self, rec: list[str], line: int) -> tuple | list[RowError]:
        try:
            return self.clean_row(rec, line)
        except Exception:
            # checked_row defines what a row means: it words every error, and it gives a value the
            # fast path would not vouch for (or one that raises) exactly the answer it always did.
            return self.checked_row(rec, line)

    def clean_row(self, rec: list[str], line: int) -> tuple:
        """row() for a record with no problem at all, which is nearly every record of a million-row
        load: the same checks as checked_row without collecting errors; the first doubt raises."""
        whole = "".join(rec)
        if len(whole) > FIELD_LIMIT or "\x00" in whole:
            raise NotClean  # a field may be too long, or hold a NUL: checked_row names it
        f = list(map(str.strip, rec))
        (
            account,
            name,
            service_street,
            service_city,
            service_zip,
            mail_street,
            mail_city,
            mail_state,
            mail_zip,
            klass,
            tariff,
            cycle_text,
            language,
            email,
            phone,
            care,
            nem,
            medical,
            direct,
            phase_name,
        ) = self.required(f)
        if not _ACCOUNT.match(account):
            raise NotClean
        name = normalize.person_name(name)
        street = normalize.street_line(service_street)
        city = normalize.city(service_city)
        zip5 = normalize.zip_code(service_zip)
        if not (mail_street or mail_city or mail_state or mail_zip):
            m_street, m_city, m_state, m_zip = street, city, "CA", zip5
        else:
            # Most mailing addresses repeat the service address, already normalised above.
            m_street = (
                street if mail_street == service_street else normalize.street_line(mail_street)
            )
            m_city = city if mail_city == service_city else normalize.city(mail_city)
            m_state = normalize.state(mail_state)
            m_zip = zip5 if mail_zip == service_zip else normalize.zip_code(mail_zip)
        if klass not in CLASSES:
            raise NotClean
        tariff = tariff.upper()
        if not tariff or (self.tariffs and self.tariffs.get(tariff) != klass):
            raise NotClean
        cycle = READ_CYCLES[cycle_text]
        language = language.lower() or self.default_language
        if language not in LANGUAGES:
            raise NotClean
        email = contact.email_address(email)
        phone = normalize.phone_e164(phone)
        care, nem, medical, direct = BOOLS[care], BOOLS[nem], BOOLS[medical], BOOLS[direct]
        phase_id = self.phases[phase_name] if phase_name else self._phase_for(klass, tariff, city)
        if (
            len(name) > 200
            or len(street) > 200
            or len(m_street) > 200
            or len(city) > 100
            or len(m_city) > 100
            or len(tariff) > 32
        ):
            raise NotClean
        status, enrollment, product_id = (
            self._clean_optional(f) if self.has_optional else ("", None, None)
        )
        return (
            line,
            account,
            name,
            street,
            city,
            zip5,
            m_street,
            m_city,
            m_state,
            m_zip,
            klass,
            tariff,
            cycle,
            language,
            email,
            phone,
            care,
            nem,
            medical,
            direct,
            phase_id,
            product_id,
            status,
            enrollment,
            self._code(),
            normalize.customer_key(name, street, zip5),
            status or _ELIGIBLE,
        )

    def _clean_optional(self, f: list[str]) -> tuple[str, date | None, int | None]:
        """A migration file's status, enrollment date and product, if nothing is in doubt."""
        c = self.cols
        status = ""
        if c.status is not None:
            status = f[c.status]
            if status and status not in IMPORTABLE_STATUSES:
                raise NotClean
        enrollment = None
        if c.enrollment_date is not None and f[c.enrollment_date]:
            enrollment = date.fromisoformat(f[c.enrollment_date])
        if status in NEEDS_ENROLLMENT_DATE and enrollment is None:
            raise NotClean
        product_id = None
        if c.product is not None and f[c.product]:
            product_id = self.products[f[c.product]]
        return status, enrollment, product_id

    def _unreadable_fields(self, f: list[str], line: int) -> list[RowError]:
        """A NUL (which PostgreSQL cannot store) or a field beyond FIELD_LIMIT characters, named
        by column; the field is then blanked in `f` so no later check reads or quotes it."""
        errors = []
        for name, i in self.index.items():
            value = f[i]
            if "\x00" in value:
                errors.append(RowError(line, name, "contains a NUL character (\\x00)"))
            elif len(value) > FIELD_LIMIT:
                errors.append(
                    RowError(
                        line,
                        name,
                        f"is {len(value)} characters long; a field holds at most {FIELD_LIMIT}",
                    )
                )
            else:
                continue
            f[i] = ""
        return errors

    def checked_row(self, rec: list[str], line: int) -> tuple | list[RowError]:
        """Every error of the record, or its staging tuple."""
        f = list(map(str.strip, rec))
        c = self.cols
        errors: list[RowError] = self._unreadable_fields(f, line)
        # A field with a NUL or beyond the limit is reported once, as that, and read as blank.
        unreadable = {e.column for e in errors}
        norm = self._norm

        account = f[c.account_number]
        if not _ACCOUNT.match(account):
            errors.append(
                RowError(
                    line, "account_number", f"'{account}' must be 1–32 letters, digits or dashes"
                )
            )
        name = norm(normalize.person_name, f[c.customer_name], "customer_name", line, errors)
        street = norm(
            normalize.street_line_careful, f[c.service_address], "service_address", line, errors
        )
        city = norm(normalize.city, f[c.service_city], "service_city", line, errors)
        zip5 = norm(normalize.zip_code, f[c.service_zip], "service_zip", line, errors)
        m_street, m_city, m_state, m_zip = (
            f[c.mailing_address],
            f[c.mailing_city],
            f[c.mailing_state],
            f[c.mailing_zip],
        )
        if not (m_street or m_city or m_state or m_zip):
            # A blank mailing address means "mail to the service address" in utility files.
            m_street, m_city, m_state, m_zip = street, city, "CA", zip5
        else:
            m_street = norm(
                normalize.street_line_careful, m_street, "mailing_address", line, errors
            )
            m_city = norm(normalize.city, m_city, "mailing_city", line, errors)
            m_state = norm(normalize.state_careful, m_state, "mailing_state", line, errors)
            m_zip = norm(normalize.zip_code, m_zip, "mailing_zip", line, errors)

        klass = f[c.customer_class]
        if klass not in CLASSES:
            errors.append(
                RowError(
                    line, "customer_class", f"'{klass}' is not one of {', '.join(sorted(CLASSES))}"
                )
            )
        tariff = f[c.rate_schedule].upper()
        if not tariff:
            errors.append(RowError(line, "rate_schedule", "is blank"))
        elif self.tariffs:
            tariff_class = self.tariffs.get(tariff)
            if tariff_class is None:
                errors.append(
                    RowError(
                        line,
                        "rate_schedule",
                        f"'{tariff}' is not a rate schedule of {self.program.utility.code}",
                    )
                )
            elif tariff_class != klass and klass in CLASSES:
                errors.append(
                    RowError(
                        line,
                        "rate_schedule",
                        f"'{tariff}' is a {tariff_class} tariff but customer_class is {klass}",
                    )
                )
        cycle_text = f[c.read_cycle]
        cycle = int(cycle_text) if cycle_text.isdigit() else 0
        if not 1 <= cycle <= 99:
            errors.append(
                RowError(line, "read_cycle", f"'{cycle_text}' is not a read cycle (1–99)")
            )
        language = f[c.language].lower() or self.default_language
        if language not in LANGUAGES:
            errors.append(
                RowError(line, "language", f"'{language}' is not an ISO 639-1 language code")
            )
        email = norm(contact.email_address_careful, f[c.email], "email", line, errors)
        phone = norm(normalize.phone_e164_careful, f[c.phone], "phone", line, errors)
        flags = []
        for col, i in self.flag_cols:
            value = f[i]
            flag = BOOLS.get(value)
            if flag is None:
                errors.append(RowError(line, col, f"'{value}' must be Y or N"))
            flags.append(flag)

        phase_name = f[c.phase]
        if phase_name:
            phase_id = self.phases.get(phase_name)
            if phase_id is None:
                names = ", ".join(k for k in self.phases if not k.isdigit()) or "none defined"
                errors.append(
                    RowError(
                        line,
                        "phase",
                        f"'{phase_name}' is not a phase of {self.program.slug} ({names})",
                    )
                )
        else:
            phase_id = self._phase_for(klass, tariff, city or "")

        status = ""
        if c.status is not None:
            status = f[c.status]
            if status and status not in IMPORTABLE_STATUSES:
                errors.append(
                    RowError(
                        line, "status", f"'{status}' is not one of {', '.join(IMPORTABLE_STATUSES)}"
                    )
                )
        enrollment = None
        if c.enrollment_date is not None and f[c.enrollment_date]:
            text = f[c.enrollment_date]
            try:
                enrollment = date.fromisoformat(text)
            except ValueError:
                errors.append(
                    RowError(line, "enrollment_date", f"'{text}' is not a date (YYYY-MM-DD)")
                )
        if (
            status in NEEDS_ENROLLMENT_DATE
            and enrollment is None
            and not any(e.column == "enrollment_date" for e in errors)
        ):
            errors.append(RowError(line, "enrollment_date", f"is required when status is {status}"))
        product_id = None
        if c.product is not None and f[c.product]:
            code = f[c.product]
            product_id = self.products.get(code)
            if product_id is None:
                errors.append(
                    RowError(
                        line,
                        "product",
                        f"'{code}' is not a product of {self.program.slug}"
                        f" ({', '.join(self.products) or 'none defined'})",
                    )
                )

        for column, value in (
            ("customer_name", name),
            ("service_address", street),
            ("service_city", city),
            ("mailing_address", m_street),
            ("mailing_city", m_city),
            ("rate_schedule", tariff),
        ):
            if value is not None and len(value) > WIDTHS[column]:
                errors.append(
                    RowError(
                        line,
                        column,
                        f"is {len(value)} characters long; at most {WIDTHS[column]} fit",
                    )
                )
        if unreadable:
            first = len(unreadable)
            errors = errors[:first] + [e for e in errors[first:] if e.column not in unreadable]
        if errors:
            return errors
        return (
            line,
            account,
            name,
            street,
            city,
            zip5,
            m_street,
            m_city,
            m_state,
            m_zip,
            klass,
            tariff,
            cycle,
            language,
            email,
            phone,
            *flags,
            phase_id,
            product_id,
            status,
            enrollment,
            self._code(),
            normalize.customer_key(name, street, zip5),
            status or Status.ELIGIBLE,
        )
