"""A frozen copy of the import validator and the normalisers as they were before the validator's
fast path: test_validator_equivalence.py checks that today's code gives the same answer as this for
every row it tries. Do not "improve" this file; it is the definition of the expected behaviour."""

# ruff: noqa
from __future__ import annotations

import base64
import csv
import io
import os
import re
import unicodedata
from datetime import date
from functools import lru_cache
from hashlib import sha1
from types import SimpleNamespace

import phonenumbers

from accounts.models import CustomerClass, Phase, Product, Program, RateSchedule, Status
from accounts.normalize import DIRECTIONALS, STATE_NAMES, SUFFIXES, UNITS, InvalidValue
from accounts.services.importing import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, RowError
from accounts.services.status import IMPORTABLE_STATUSES

NEEDS_ENROLLMENT_DATE = {
    Status.ENROLLED,
    Status.PARTICIPANT,
    Status.OPTED_OUT_FREE,
    Status.TERMINATED,
}
LANGUAGES = frozenset(
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy "
    "da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu "
    "hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb "
    "lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om "
    "or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw "
    "ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu".split()
)
CLASSES = frozenset(CustomerClass.values)
BOOLS = {"Y": True, "N": False, "y": True, "n": False}
_ACCOUNT = re.compile(r"^[A-Za-z0-9-]{1,32}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CODE_ALPHABET.encode())

_PUNCT = re.compile(r"[^\w#/\- ]+")
_SPACES = re.compile(r"\s+")
_PO_BOX = re.compile(r"^(?:P\s*O|POST\s+OFFICE)\s*(?:BOX|BX)\b|^BOX\b")
_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
_NANP = re.compile(r"^(?:\+?1)?([2-9]\d{2}[2-9]\d{6})$")
_PHONE_JUNK = re.compile(r"[\s().\-]+")
_KEY_JUNK = re.compile(r"[^A-Z0-9]+")


def _clean(text: str) -> str:
    text = text.upper().replace(".", " ").replace(",", " ")
    return _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip()


@lru_cache(maxsize=65536)
def street_line(text: str) -> str:
    """'123 north Main Street, Apartment 4' → '123 N MAIN ST APT 4' (Pub 28 style)."""
    line = _clean(text)
    if not line:
        raise InvalidValue("is blank")
    if _PO_BOX.match(line):
        return _PO_BOX.sub("PO BOX", line, count=1)
    tokens = line.split(" ")
    unit: list[str] = []
    for i, tok in enumerate(tokens):
        # A unit designator after the street part starts the secondary address ("APT 4", "# 4").
        if i >= 2 and tok in UNITS:
            unit = [UNITS[tok], *tokens[i + 1 :]]
            tokens = tokens[:i]
            break
        if i >= 2 and tok.startswith("#") and len(tok) > 1:
            unit = ["#", tok[1:], *tokens[i + 1 :]]
            tokens = tokens[:i]
            break
    end = len(tokens)
    if end >= 3 and tokens[-1] in DIRECTIONALS:  # post-directional
        tokens[-1] = DIRECTIONALS[tokens[-1]]
        end -= 1
    if end >= 3 and tokens[end - 1] in SUFFIXES:  # street suffix, never the street name itself
        tokens[end - 1] = SUFFIXES[tokens[end - 1]]
    if len(tokens) >= 3 and tokens[1] in DIRECTIONALS:  # pre-directional after the house number
        tokens[1] = DIRECTIONALS[tokens[1]]
    return " ".join(tokens + unit)


@lru_cache(maxsize=8192)
def city(text: str) -> str:
    value = _clean(text)
    if not value:
        raise InvalidValue("is blank")
    return value


def state(text: str) -> str:
    value = STATE_NAMES.get(_clean(text))
    if value is None:
        raise InvalidValue(f"'{text}' is not a US state or territory")
    return value


@lru_cache(maxsize=16384)
def zip_code(text: str) -> str:
    m = _ZIP.match(text.strip())
    if not m:
        raise InvalidValue(f"'{text}' is not a ZIP code (12345 or 12345-6789)")
    return f"{m[1]}-{m[2]}" if m[2] else m[1]


def phone_e164(text: str, region: str = "US") -> str:
    """E.164, or '' for a blank value. NANP numbers take a fast path; anything else goes
    through the phonenumbers library, which also rejects numbers that cannot exist."""
    raw = text.strip()
    if not raw:
        return ""
    m = _NANP.match(_PHONE_JUNK.sub("", raw))
    if m:
        return "+1" + m[1]
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(f"'{text}' is not a telephone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidValue(f"'{text}' is not a valid telephone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def person_name(text: str) -> str:
    value = text.strip()
    if "  " in value or "\t" in value or "\n" in value:
        value = _SPACES.sub(" ", value)
    if not value:
        raise InvalidValue("is blank")
    return value


def customer_key(name: str, service_address: str, service_zip: str) -> str:
    """Identity of a customer at a premises, independent of the account number: the same
    person at the same normalised address whatever accents, punctuation or spacing the file used."""
    plain = name.upper()
    if not plain.isascii():
        plain = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode()
    basis = f"{_KEY_JUNK.sub('', plain)}|{service_address}|{service_zip[:5]}"
    return sha1(basis.encode()).hexdigest()


class N:
    """The normalisers under the name the validator below used."""

    InvalidValue = InvalidValue
    street_line = staticmethod(street_line)
    city = staticmethod(city)
    state = staticmethod(state)
    zip_code = staticmethod(zip_code)
    phone_e164 = staticmethod(phone_e164)
    person_name = staticmethod(person_name)
    customer_key = staticmethod(customer_key)


class ReferenceValidator:
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

    def _code(self) -> str:
        """A 10-character personal code (50 random bits); uniqueness is checked in SQL."""
        if not self._random:
            # base32 of the kernel's random bytes, mapped onto Crockford's alphabet, 4,096 codes at a time
            text = base64.b32encode(os.urandom(25 * 1024)).translate(_TO_CROCKFORD).decode()
            self._random = [text[i : i + 10] for i in range(0, len(text), 10)]
        return self._random.pop()

    def _phase_by_rule(self, klass: str, tariff: str, city: str) -> int | None:
        for p in self.rule_phases:
            key = {"customer_class": klass, "rate_schedule": tariff, "city": city}.get(p.rule)
            if key is not None and key in p.rule_values:
                return p.id
        return None

    @staticmethod
    def _norm(fn, value: str, col: str, line: int, errors: list[RowError]):
        try:
            return fn(value)
        except N.InvalidValue as exc:
            errors.append(RowError(line, col, str(exc)))
        except (ValueError, KeyError) as exc:
            errors.append(RowError(line, col, str(exc) or "is not valid"))
        return None

    def row(self, rec: list[str], line: int) -> tuple | list[RowError]:
        # Hot path of a million-row load: fields are stripped once and read by position.
        f = list(map(str.strip, rec))
        c = self.cols
        errors: list[RowError] = []
        norm = self._norm

        account = f[c.account_number]
        if not _ACCOUNT.match(account):
            errors.append(
                RowError(
                    line, "account_number", f"'{account}' must be 1–32 letters, digits or dashes"
                )
            )
        name = norm(N.person_name, f[c.customer_name], "customer_name", line, errors)
        street = norm(N.street_line, f[c.service_address], "service_address", line, errors)
        city = norm(N.city, f[c.service_city], "service_city", line, errors)
        zip5 = norm(N.zip_code, f[c.service_zip], "service_zip", line, errors)
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
            m_street = norm(N.street_line, m_street, "mailing_address", line, errors)
            m_city = norm(N.city, m_city, "mailing_city", line, errors)
            m_state = norm(N.state, m_state, "mailing_state", line, errors)
            m_zip = norm(N.zip_code, m_zip, "mailing_zip", line, errors)

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
        email = f[c.email]
        if email and not _EMAIL.match(email):
            errors.append(RowError(line, "email", f"'{email}' is not an e-mail address"))
        phone = norm(N.phone_e164, f[c.phone], "phone", line, errors)
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
                errors.append(
                    RowError(
                        line,
                        "phase",
                        f"'{phase_name}' is not a phase of {self.program.slug} ({', '.join(k for k in self.phases if not k.isdigit()) or 'none defined'})",
                    )
                )
        else:
            phase_id = self._phase_by_rule(klass, tariff, city or "")

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
                        f"'{code}' is not a product of {self.program.slug} ({', '.join(self.products) or 'none defined'})",
                    )
                )

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
            N.customer_key(name, street, zip5),
            status or Status.ELIGIBLE,
        )


def _copy_value(v) -> str:
    if v is None:
        return "\\N"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, str):
        if "\\" in v or "\t" in v or "\n" in v or "\r" in v:
            return (
                v.replace("\\", "\\\\")
                .replace("\t", "\\t")
                .replace("\n", "\\n")
                .replace("\r", "\\r")
            )
        return v
    return str(v)


def _copy_text(rows: list[tuple]) -> bytes:
    """Rows in PostgreSQL's COPY text format."""
    return "".join("\t".join(map(_copy_value, row)) + "\n" for row in rows).encode()


def validate_block(validator, copy_format: bool, piece: tuple[int, bytes]):
    """_validate_block as it was, with the worker's globals as arguments."""
    first_line, data = piece
    width = len(validator.index)
    good, bad = [], []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        return (
            (_copy_text([]) if copy_format else []),
            [
                (
                    line,
                    [
                        RowError(
                            line,
                            "row",
                            f"is not UTF-8 text (byte {data[exc.start]:#04x}); nothing after it in this block was read",
                        )
                    ],
                )
            ],
            0,
        )
    row = validator.row
    for line, rec in numbered_records(text, first_line):
        if not rec or (len(rec) == 1 and not rec[0].strip()):
            continue  # blank line
        outcome = (
            row(rec, line)
            if len(rec) == width
            else [RowError(line, "row", f"has {len(rec)} fields; the header has {width}")]
        )
        if outcome.__class__ is list:
            bad.append((line, outcome))
        else:
            good.append(outcome)
    return (_copy_text(good) if copy_format else good), bad, len(good)


def numbered_records(text: str, first_line: int):
    """How _validate_block read a block's records."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = first_line
    for rec in reader:
        line, start = start, first_line + reader.line_num
        yield line, rec
