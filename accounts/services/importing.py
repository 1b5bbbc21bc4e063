"""Import of the utility's eligible-customer CSV (format: docs/formats/eligible-customers.md).

Every row is validated first; rows go into a temporary staging table (COPY on PostgreSQL,
batched inserts on SQLite) and are merged with one set of SQL statements in one transaction:
a file with a bad row writes nothing (unless skip_invalid), and a reload never duplicates an
account, never moves its status backwards and never re-enrolls a customer who opted out.
"""

from __future__ import annotations

import csv
import difflib
import gc
import io
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import count, repeat
from operator import itemgetter
from pathlib import Path
from types import SimpleNamespace

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts import normalize
from accounts.models import (
    OPTED_OUT_STATUSES,
    CustomerClass,
    ImportRun,
    Phase,
    Product,
    Program,
    RateSchedule,
    Status,
)
from accounts.services.deferred_indexes import deferred_index_names
from accounts.services.files import file_sha256
from accounts.services.status import FORWARD, IMPORTABLE_STATUSES, Actor

REQUIRED_COLUMNS = (
    "account_number",
    "customer_name",
    "service_address",
    "service_city",
    "service_zip",
    "mailing_address",
    "mailing_city",
    "mailing_state",
    "mailing_zip",
    "customer_class",
    "rate_schedule",
    "read_cycle",
    "language",
    "email",
    "phone",
    "care",
    "nem",
    "medical_baseline",
    "direct_access",
    "phase",
)
OPTIONAL_COLUMNS = ("status", "enrollment_date", "product")
# Statuses for which the file must say when CCA service started.
NEEDS_ENROLLMENT_DATE = {
    Status.ENROLLED,
    Status.PARTICIPANT,
    Status.OPTED_OUT_FREE,
    Status.TERMINATED,
}

# ISO 639-1.
LANGUAGES = frozenset(
    ["aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh", "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da", "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr", "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz", "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj", "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln", "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb", "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi", "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk", "sl", "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu"]
)
CLASSES = frozenset(CustomerClass.values)
BOOLS = {"Y": True, "N": False, "y": True, "n": False}
# Read cycles as files write them; anything else ("07", " 7") takes the careful path.
READ_CYCLES = {str(n): n for n in range(1, 100)}
_ACCOUNT = re.compile(r"^[A-Za-z0-9-]{1,32}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
# Crockford's base-32 alphabet: no I, L, O or U, so a code read over the phone is unambiguous.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# A random byte's low five bits pick a character: 256 is a multiple of 32, so all are equally likely.
_RANDOM_BYTE_TO_CODE = bytes(CODE_ALPHABET.encode()[b % 32] for b in range(256))
MAX_REPORTED_ERRORS = 1000

STAGE_COLUMNS = (
    "line_no",
    "account_number",
    "customer_name",
    "service_address",
    "service_city",
    "service_zip",
    "mailing_address",
    "mailing_city",
    "mailing_state",
    "mailing_zip",
    "customer_class",
    "rate_schedule",
    "read_cycle",
    "language",
    "email",
    "phone",
    "care",
    "nem",
    "medical_baseline",
    "direct_access",
    "phase_id",
    "product_id",
    "file_status",
    "enrollment_date",
    "opt_out_code",
    "customer_key",
    "new_status",
)
# Columns a reload overwrites on an existing account (status is handled by the status rule).
DATA_COLUMNS = STAGE_COLUMNS[2:20]


@dataclass
class RowError:
    line: int
    column: str
    reason: str

    def __str__(self):
        return f"line {self.line}, {self.column}: {self.reason}"


class ImportRejected(Exception):
    """The file was not loaded; `errors` says where and why."""

    def __init__(self, errors: list[RowError], total: int, run: ImportRun | None = None):
        self.errors, self.total, self.run = errors, total, run
        shown = "\n".join(f"  {e}" for e in errors[:20])
        more = f"\n  … and {total - 20} more" if total > 20 else ""
        super().__init__(f"{total} error(s); nothing was written:\n{shown}{more}")


@dataclass
class ImportResult:
    run: ImportRun
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    status_kept: int = 0
    inherited_opt_outs: int = 0
    reject_file: Path | None = None
    errors: list[RowError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS, by line
    rejected_lines: dict[int, list[RowError]] = field(default_factory=dict, repr=False)
    # Seconds per step, in order (import_accounts -v 2 prints them; docs/performance.md uses them).
    timings: dict[str, float] = field(default_factory=dict, repr=False)
    _lap: float = field(default=0.0, repr=False)

    @contextmanager
    def timed(self, step: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - started

    def lap(self, step: str | None = None):
        """Time since the previous lap goes to `step` (None starts the clock)."""
        now = time.perf_counter()
        if step is not None:
            self.timings[step] = self.timings.get(step, 0.0) + now - self._lap
        self._lap = now

    def timed_iter(self, step: str, items):
        with self.timed(step):
            yield from items

    def summary(self) -> str:
        text = (
            f"{self.rows} rows: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
        )
        if self.status_kept:
            text += f"; {self.status_kept} status(es) in the file ignored (would move an account backwards or re-enroll it)"
        if self.inherited_opt_outs:
            text += f"; {self.inherited_opt_outs} new account(s) kept opted out (same customer and premises as an opted-out account)"
        if self.reject_file:
            text += f"; rejected rows in {self.reject_file}"
        return text


class _NotClean(Exception):
    """The fast path has a doubt about a record; the careful path decides."""


_ELIGIBLE = Status.ELIGIBLE  # an enum member's look-up costs a descriptor call, once a row


class _Validator:
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
        self._phase_by_rule = lru_cache(maxsize=4096)(self._phase_by_rule)

    def _code(self) -> str:
        """A 10-character personal code (50 random bits); uniqueness is checked in SQL."""
        if not self._random:
            # 4,096 codes at a time, by a translate table (base64.b32encode is pure Python, and slow)
            text = os.urandom(10 * 4096).translate(_RANDOM_BYTE_TO_CODE).decode()
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
        except normalize.InvalidValue as exc:
            errors.append(RowError(line, col, str(exc)))
        except (ValueError, KeyError) as exc:
            errors.append(RowError(line, col, str(exc) or "is not valid"))
        return None

    def row(self, rec: list[str], line: int) -> tuple | list[RowError]:
        try:
            return self._clean_row(rec, line)
        except Exception:
            # _checked_row defines what a row means: it words every error, and it gives a value the
            # fast path would not vouch for (or one that raises) exactly the answer it always did.
            return self._checked_row(rec, line)

    def _clean_row(self, rec: list[str], line: int) -> tuple:
        """row() for a record with no problem at all, which is nearly every record of a million-row
        load: the same checks as _checked_row without collecting errors; the first doubt raises."""
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
            raise _NotClean
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
            raise _NotClean
        tariff = tariff.upper()
        if not tariff or (self.tariffs and self.tariffs.get(tariff) != klass):
            raise _NotClean
        cycle = READ_CYCLES[cycle_text]
        language = language.lower() or self.default_language
        if language not in LANGUAGES:
            raise _NotClean
        if email and not _EMAIL.match(email):
            raise _NotClean
        phone = normalize.phone_e164(phone)
        care, nem, medical, direct = BOOLS[care], BOOLS[nem], BOOLS[medical], BOOLS[direct]
        phase_id = (
            self.phases[phase_name] if phase_name else self._phase_by_rule(klass, tariff, city)
        )
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
        """A migration file's status, enrollment date and product, if there is no doubt about them."""
        c = self.cols
        status = ""
        if c.status is not None:
            status = f[c.status]
            if status and status not in IMPORTABLE_STATUSES:
                raise _NotClean
        enrollment = None
        if c.enrollment_date is not None and f[c.enrollment_date]:
            enrollment = date.fromisoformat(f[c.enrollment_date])
        if status in NEEDS_ENROLLMENT_DATE and enrollment is None:
            raise _NotClean
        product_id = None
        if c.product is not None and f[c.product]:
            product_id = self.products[f[c.product]]
        return status, enrollment, product_id

    def _checked_row(self, rec: list[str], line: int) -> tuple | list[RowError]:
        """Every error of the record, or its staging tuple."""
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
        name = norm(normalize.person_name, f[c.customer_name], "customer_name", line, errors)
        street = norm(normalize.street_line, f[c.service_address], "service_address", line, errors)
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
            m_street = norm(normalize.street_line, m_street, "mailing_address", line, errors)
            m_city = norm(normalize.city, m_city, "mailing_city", line, errors)
            m_state = norm(normalize.state, m_state, "mailing_state", line, errors)
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
        email = f[c.email]
        if email and not _EMAIL.match(email):
            errors.append(RowError(line, "email", f"'{email}' is not an e-mail address"))
        phone = norm(normalize.phone_e164, f[c.phone], "phone", line, errors)
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
            normalize.customer_key(name, street, zip5),
            status or Status.ELIGIBLE,
        )


def _read_header(reader, path: Path) -> list[str]:
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        raise ImportRejected([RowError(1, "header", f"{path.name} is empty")], 1) from None
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    errors = []
    for col in REQUIRED_COLUMNS:
        if col not in header:
            errors.append(RowError(1, col, "required column is missing"))
    for col in header:
        if col not in known:
            hint = difflib.get_close_matches(col, known, n=1)
            errors.append(
                RowError(
                    1,
                    col or "(blank)",
                    "unknown column" + (f" (did you mean {hint[0]}?)" if hint else ""),
                )
            )
    dupes = {c for c in header if header.count(c) > 1}
    errors += [RowError(1, c, "column appears more than once") for c in sorted(dupes)]
    if errors:
        raise ImportRejected(errors, len(errors))
    return header


class _Stage:
    """The temporary staging table, loaded by COPY on PostgreSQL and by batched INSERT elsewhere."""

    def __init__(self):
        self.pg = connection.vendor == "postgresql"
        self.cursor = connection.cursor()

    def create(self):
        self.cursor.execute("DROP TABLE IF EXISTS import_stage")
        self.cursor.execute("""
            CREATE TEMPORARY TABLE import_stage (
                line_no integer NOT NULL, account_number varchar(32) NOT NULL,
                customer_name varchar(200) NOT NULL, service_address varchar(200) NOT NULL,
                service_city varchar(100) NOT NULL, service_zip varchar(10) NOT NULL,
                mailing_address varchar(200) NOT NULL, mailing_city varchar(100) NOT NULL,
                mailing_state varchar(2) NOT NULL, mailing_zip varchar(10) NOT NULL,
                customer_class varchar(20) NOT NULL, rate_schedule varchar(32) NOT NULL,
                read_cycle smallint NOT NULL, language varchar(5) NOT NULL, email varchar(254) NOT NULL,
                phone varchar(20) NOT NULL, care boolean NOT NULL, nem boolean NOT NULL,
                medical_baseline boolean NOT NULL, direct_access boolean NOT NULL,
                phase_id bigint NULL, product_id bigint NULL, file_status varchar(20) NOT NULL,
                enrollment_date date NULL, opt_out_code varchar(12) NOT NULL, customer_key varchar(64) NOT NULL,
                existing_id bigint NULL, old_status varchar(20) NULL, new_status varchar(20) NULL,
                inherited_from varchar(32) NULL
            )""")

    def write(self, rows: list[tuple] | bytes):
        if not rows:
            return
        if self.pg:
            with self.cursor.cursor.copy(
                f"COPY import_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
            ) as copy:
                copy.write(rows)
        else:
            marks = ", ".join(["%s"] * len(STAGE_COLUMNS))
            self.cursor.executemany(
                f"INSERT INTO import_stage ({', '.join(STAGE_COLUMNS)}) VALUES ({marks})", rows
            )

    def index(self):
        if self.pg:
            # PostgreSQL joins the staging table by hashing it; indexes would only cost time.
            self.cursor.execute("ANALYZE import_stage")
        else:
            self.cursor.execute(
                "CREATE INDEX import_stage_account ON import_stage (account_number)"
            )
            self.cursor.execute("CREATE INDEX import_stage_code ON import_stage (opt_out_code)")

    def drop(self):
        self.cursor.execute("DROP TABLE IF EXISTS import_stage")
        self.cursor.close()


def _progress(path: Path, enabled: bool | None):
    """A row counter on a terminal; silent in cron, CI and tests."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm

    with open(path, "rb") as fh:
        lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    return tqdm(
        total=max(lines - 1, 0), unit="rows", unit_scale=True, desc="validating", file=sys.stderr
    )


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields), the header first."""
    # surrogateescape: a byte that is not UTF-8 is carried through (into a reject file) as it was;
    # the validation reports it by line.
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
        reader = csv.reader(fh)
        yield 1, next(reader, [])
        start = reader.line_num + 1
        for rec in reader:
            yield start, rec
            start = reader.line_num + 1


BLOCK = 1 << 20


def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file after its header as (first line number, bytes) pieces that each end on a record
    boundary, so worker processes can parse them: the main process only reads."""
    with open(path, "rb") as fh:
        header = fh.readline()
        line = 2 + header.count(b"\n") - 1
        carry = b""
        while True:
            block = fh.read(BLOCK)
            data = carry + block
            if not block:
                if data:
                    yield line, data
                return
            cut = _record_boundary(data)
            if cut <= 0:
                carry = data
                continue
            yield line, data[:cut]
            line += data.count(b"\n", 0, cut)
            carry = data[cut:]


def _record_boundary(data: bytes) -> int:
    """Index just past the last newline that is not inside a quoted field (-1 if none)."""
    end = len(data)
    while True:
        i = data.rfind(b"\n", 0, end)
        if i < 0:
            return -1
        if data.count(b'"', 0, i) % 2 == 0:
            return i + 1
        end = i


def accounts_import(
    *,
    program: Program,
    path: Path,
    actor: Actor,
    skip_invalid: bool = False,
    progress: bool | None = None,
) -> ImportResult:
    """Validate and load an eligible-customer file into `program`. See the module docstring."""
    path = Path(path)
    run = ImportRun.objects.create(
        program=program,
        kind=ImportRun.Kind.ACCOUNTS,
        file_name=str(path),
        sha256=file_sha256(path),
        actor=actor.name,
    )
    result = ImportResult(run=run)
    stage = _Stage()
    try:
        header = _file_header(path)
        first_load = False
        if stage.pg:
            try:
                first_load = _load_first(program, path, header, result, progress, skip_invalid)
            except _FirstLoadClash:
                result = ImportResult(run=run)
        if not first_load:
            _validate_into_stage(program, path, header, stage, result, progress)
            if result.errors and not skip_invalid:
                raise ImportRejected(result.errors[:MAX_REPORTED_ERRORS], result.rejected)
        if result.rejected:
            result.reject_file = _write_rejects(path, result)
        if not first_load:
            _merge(program, stage, result, actor)
    except ImportRejected as exc:
        exc.run = run
        _finish(run, result, ImportRun.Outcome.REJECTED, str(exc))
        raise
    except Exception as exc:
        _finish(run, result, ImportRun.Outcome.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        stage.drop()
    _finish(
        run,
        result,
        ImportRun.Outcome.PARTIAL if result.rejected else ImportRun.Outcome.LOADED,
        result.summary(),
    )
    return result


def _finish(run: ImportRun, result: ImportResult, outcome: str, message: str):
    run.outcome, run.message, run.finished_at = outcome, message[:10000], timezone.now()
    run.rows, run.created, run.updated, run.unchanged = (
        result.rows,
        result.created,
        result.updated,
        result.unchanged,
    )
    run.rejected, run.status_kept = result.rejected, result.status_kept
    run.reject_file = str(result.reject_file or "")
    run.save()


# Validation runs in worker processes forked from this one (they inherit the validator and use
# no database connection); this process reads the CSV and feeds the staging table in file order.
_worker_validator: _Validator | None = None
# (good rows, block text) → what the main process writes: COPY text of the staging table
# (_copy_text) or of the account table (_FirstLoad.copy_text); None hands the tuples over as they are.
_worker_encode = None


def _worker_init():
    _worker_validator._random = []  # never share the parent's random codes


def _validate_block(
    piece: tuple[int, bytes],
) -> tuple[object, list[tuple[int, list[RowError]]], int]:
    """Parse and validate one block of the file (in a worker process)."""
    first_line, data = piece
    validator, width = _worker_validator, len(_worker_validator.index)
    good, bad = [], []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        return (
            (_worker_encode([], "") if _worker_encode else []),
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
    # A block makes hundreds of thousands of short-lived objects and no reference cycles; the cyclic
    # collector would only walk them, and every object of the process, again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for line, rec in _numbered_records(text, first_line):
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
    finally:
        if collecting:
            gc.enable()
    return (_worker_encode(good, text) if _worker_encode else good), bad, len(good)


def _numbered_records(text: str, first_line: int) -> Iterator[tuple[int, list[str]]]:
    """(line where it starts, fields) for each record of a block."""
    if '"' not in text and "\r" not in text:
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        # Without quotes or CRs a record is a line and its fields lie between commas, as the csv
        # module reads them (which costs more than the rest of the fast path's string work) —
        # unless a line is long enough for the csv module to reject a field.
        if max(map(len, lines), default=0) <= csv.field_size_limit():
            return zip(count(first_line), map(str.split, lines, repeat(",")))
    return _parsed_records(text, first_line)


def _parsed_records(text: str, first_line: int) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    start = first_line
    for rec in reader:
        line, start = start, first_line + reader.line_num
        yield line, rec


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


def _copy_line(row: tuple) -> str:
    """A staging tuple as a COPY line, taking its text values as they are (see _copy_text)."""
    (
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
        code,
        key,
        new_status,
    ) = row
    return (
        "\t".join(
            (
                str(line),
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
                str(cycle),
                language,
                email,
                phone,
                "t" if care else "f",
                "t" if nem else "f",
                "t" if medical else "f",
                "t" if direct else "f",
                "\\N" if phase_id is None else str(phase_id),
                "\\N" if product_id is None else str(product_id),
                status,
                "\\N" if enrollment is None else str(enrollment),
                code,
                key,
                new_status,
            )
        )
        + "\n"
    )


def _copy_text(
    rows: list[tuple], source: str | None = None, *, line=_copy_line, values=None
) -> bytes:
    """Rows in PostgreSQL's COPY text format; `source` is the CSV text they were read from, if known.
    `line` makes a row's COPY line taking its text as it is; `values` gives the row's values for
    the escaping way (by default the staging tuple itself)."""
    text = "".join(map(line, rows))
    if _may_need_copy_escapes(text, len(rows), source):
        text = "".join(
            "\t".join(map(_copy_value, values(row) if values else row)) + "\n" for row in rows
        )
    return text.encode()


def _may_need_copy_escapes(text: str, rows: int, source: str | None) -> bool:
    """Whether a value in these COPY lines may hold a backslash, tab, CR or line break (which COPY
    needs escaped). Rare enough to look for once per block: values are made of the source's text,
    so they hold no backslash or tab it lacks, and a line break only inside a quoted field."""
    if source is None or "\\" in source or "\t" in source or "\r" in text:
        return True
    return '"' in source and text.count("\n") != rows


def _file_header(path: Path) -> list[str]:
    _, header_rec = next(_records(path))
    return _read_header(iter([header_rec]), path)


def _stream(
    program: Program,
    path: Path,
    header: list[str],
    result: ImportResult,
    progress,
    *,
    write,
    step: str,
    encode,
) -> dict[int, list[RowError]]:
    """Validate the file in worker processes and hand each block's good rows to `write`, in file
    order, as `encode` makes them (see _worker_encode). Returns the rejected lines; counts and
    the first errors go in `result`."""
    global _worker_validator, _worker_encode
    import multiprocessing

    _worker_validator, _worker_encode = _Validator(program, header), encode
    bar = _progress(path, progress)
    rejected_lines: dict[int, list[RowError]] = {}
    workers = min(os.cpu_count() or 1, 4)
    use_pool = workers > 1 and path.stat().st_size > 2_000_000
    pool = (
        multiprocessing.get_context("fork").Pool(workers, initializer=_worker_init)
        if use_pool
        else None
    )
    try:
        outcomes = (
            pool.imap(_validate_block, _blocks(path))
            if pool
            else map(_validate_block, _blocks(path))
        )
        for payload, bad, n_good in result.timed_iter(step, outcomes):
            result.rows += n_good + len(bad)
            for line, errs in bad:
                rejected_lines[line] = errs
                if len(result.errors) < MAX_REPORTED_ERRORS:
                    result.errors.extend(errs)
            write(payload)
            if bar is not None:
                bar.update(result.rows - bar.n)
    finally:
        if pool is not None:
            pool.terminate()
        _worker_validator, _worker_encode = None, None
    if bar is not None:
        bar.close()
    return rejected_lines


def _validate_into_stage(
    program: Program, path: Path, header: list[str], stage: _Stage, result: ImportResult, progress
):
    stage.create()
    rejected_lines = _stream(
        program,
        path,
        header,
        result,
        progress,
        write=stage.write,
        step="validate and stage",
        encode=_copy_text if stage.pg else None,
    )
    stage.index()
    # Duplicate account numbers inside the file: the first occurrence wins, the rest are errors.
    with result.timed("duplicate check"), connection.cursor() as cur:
        cur.execute("""
            SELECT s.line_no, s.account_number, f.first_line FROM import_stage s
            JOIN (SELECT account_number, MIN(line_no) AS first_line FROM import_stage
                  GROUP BY account_number HAVING COUNT(*) > 1) f ON f.account_number = s.account_number
            WHERE s.line_no <> f.first_line ORDER BY s.line_no""")
        dupes = cur.fetchall()
        for line, account, first in dupes:
            err = RowError(line, "account_number", f"'{account}' already appears on line {first}")
            rejected_lines.setdefault(line, []).append(err)
            if len(result.errors) < MAX_REPORTED_ERRORS:
                result.errors.append(err)
        if dupes:
            cur.execute("""DELETE FROM import_stage WHERE line_no NOT IN
                           (SELECT MIN(line_no) FROM import_stage GROUP BY account_number)""")
    result.errors.sort(key=lambda e: e.line)
    result.rejected = len(rejected_lines)
    result.rejected_lines = rejected_lines


def _write_rejects(path: Path, result: ImportResult) -> Path:
    """The rejected rows as they were in the file, with line, column and reason appended."""
    out = path.with_name(path.stem + ".rejects.csv")
    rejected = result.rejected_lines
    with open(out, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        writer = csv.writer(fh)
        for line, rec in _records(path):
            if line == 1:
                writer.writerow([*rec, "reject_line", "reject_column", "reject_reason"])
            elif line in rejected:
                errs = rejected[line]
                writer.writerow(
                    [
                        *rec,
                        line,
                        "; ".join(e.column for e in errs),
                        "; ".join(e.reason for e in errs),
                    ]
                )
    return out


def _merge(program: Program, stage: _Stage, result: ImportResult, actor: Actor):
    """The set-based upsert. One transaction: all of it lands, or none of it."""
    pg = stage.pg
    now = timezone.now()
    distinct = "IS DISTINCT FROM" if pg else "IS NOT"
    p = program.pk
    result.lap()
    with transaction.atomic(), connection.cursor() as cur:
        if pg:
            _program_lock(cur, p)
        if _program_has_accounts(cur, p):  # a program's first load has nothing to link to
            _link_existing(cur, p, result, pg)
        _fix_code_collisions(cur, pg)
        result.lap("link to existing accounts")

        cur.execute("SELECT COUNT(*) FROM import_stage WHERE existing_id IS NULL")
        new_rows = cur.fetchone()[0]
        rebuild = _drop_secondary_indexes(cur, p, new_rows) if pg else None
        result.lap("drop indexes")

        cols = ", ".join(DATA_COLUMNS)
        default_product = (
            Product.objects.filter(program=program, is_default=True)
            .values_list("id", flat=True)
            .first()
        )
        cur.execute(
            f"""
            INSERT INTO accounts_serviceaccount (
                program_id, account_number, {cols}, phase_id, product_id, status, status_changed_at,
                enrollment_date, opt_out_code, customer_key, address_needs_repair, import_run_id,
                created_at, updated_at)
            SELECT %s, account_number, {cols}, phase_id, COALESCE(product_id, %s), new_status, %s,
                enrollment_date, opt_out_code, customer_key, %s, %s, %s, %s
            FROM import_stage WHERE existing_id IS NULL""",
            [p, default_product, now, False, result.run.pk, now, now],
        )
        result.created = cur.rowcount
        result.lap("insert new accounts")

        cur.execute("SELECT COUNT(*) FROM import_stage WHERE existing_id IS NOT NULL")
        existing_rows = cur.fetchone()[0]
        changed = " OR ".join(f"a.{c} {distinct} s.{c}" for c in DATA_COLUMNS)
        sets = ", ".join(f"{c} = s.{c}" for c in DATA_COLUMNS)
        mailing_changed = " OR ".join(
            f"a.{c} {distinct} s.{c}"
            for c in ("mailing_address", "mailing_city", "mailing_state", "mailing_zip")
        )
        update_sql = f"""
            UPDATE accounts_serviceaccount AS a SET {sets},
                status = CASE WHEN s.new_status <> s.old_status THEN s.new_status ELSE a.status END,
                status_changed_at = CASE WHEN s.new_status <> s.old_status THEN %s ELSE a.status_changed_at END,
                phase_id = COALESCE(s.phase_id, a.phase_id),
                product_id = COALESCE(s.product_id, a.product_id),
                enrollment_date = COALESCE(s.enrollment_date, a.enrollment_date),
                address_needs_repair = CASE WHEN {mailing_changed} THEN %s ELSE a.address_needs_repair END,
                updated_at = %s
            FROM import_stage s
            WHERE a.id = s.existing_id AND (
                {changed} OR s.new_status <> s.old_status
                OR (s.phase_id IS NOT NULL AND a.phase_id {distinct} s.phase_id)
                OR (s.product_id IS NOT NULL AND a.product_id {distinct} s.product_id)
                OR (s.enrollment_date IS NOT NULL AND a.enrollment_date {distinct} s.enrollment_date))"""
        if existing_rows:
            cur.execute(update_sql, [now, False, now])
            result.updated = cur.rowcount
        result.lap("update changed accounts")
        _rebuild(cur, rebuild or [], result)
        result.unchanged = existing_rows - result.updated

        run_label = f"import run {result.run.pk} ({Path(result.run.file_name).name})"
        cur.execute(
            """
            INSERT INTO accounts_statuschange (account_id, from_status, to_status, at, actor_id, actor_name, channel, reason)
            SELECT a.id, COALESCE(s.old_status, ''), s.new_status, %s, %s, %s, %s,
                   CASE WHEN s.inherited_from IS NOT NULL
                        THEN %s || ' line ' || s.line_no || ': same customer and premises as opted-out account ' || s.inherited_from
                        WHEN s.existing_id IS NULL THEN %s || ' line ' || s.line_no || ': account created with its status from the file'
                        ELSE %s || ' line ' || s.line_no || ': status from the file' END
            FROM import_stage s JOIN accounts_serviceaccount a
              ON a.program_id = %s AND a.account_number = s.account_number
            WHERE (s.existing_id IS NULL AND s.new_status <> %s) OR s.new_status <> s.old_status""",
            [
                now,
                actor.user_id,
                actor.name,
                "import",
                run_label,
                run_label,
                run_label,
                p,
                Status.ELIGIBLE,
            ],
        )
        cur.execute("DROP TABLE IF EXISTS import_forward")
        result.lap("status history")
    result.lap("commit")


def _link_existing(cur, p: int, result: ImportResult, pg: bool):
    """Match the file's rows to the program's accounts: which exist, the status each may move to
    (forward only), and new account numbers of customers who opted out (they stay out)."""
    opted = ", ".join(f"'{s}'" for s in sorted(OPTED_OUT_STATUSES))
    active = ", ".join(
        f"'{s}'" for s in (Status.ELIGIBLE, Status.NOTIFIED, Status.ENROLLED, Status.PARTICIPANT)
    )
    if pg:
        # Lock accounts whose status the file proposes to change, so an opt-out arriving
        # during the load is either seen here or waits for us, never overwritten.
        cur.execute(
            """
            SELECT a.id FROM accounts_serviceaccount a JOIN import_stage s
              ON a.program_id = %s AND a.account_number = s.account_number
            WHERE s.file_status <> '' AND s.file_status <> a.status FOR UPDATE OF a""",
            [p],
        )
    cur.execute("DROP TABLE IF EXISTS import_forward")
    cur.execute(
        "CREATE TEMPORARY TABLE import_forward (from_status varchar(20), to_status varchar(20))"
    )
    cur.executemany(
        "INSERT INTO import_forward VALUES (%s, %s)",
        [(a, b) for a, bs in FORWARD.items() for b in bs],
    )
    cur.execute(
        """
        UPDATE import_stage SET existing_id = a.id, old_status = a.status
        FROM accounts_serviceaccount a
        WHERE a.program_id = %s AND a.account_number = import_stage.account_number""",
        [p],
    )
    cur.execute("""
        UPDATE import_stage SET new_status = CASE
            WHEN file_status <> '' AND EXISTS (SELECT 1 FROM import_forward f
                 WHERE f.from_status = import_stage.old_status AND f.to_status = import_stage.file_status)
                 THEN file_status
            ELSE old_status END
        WHERE existing_id IS NOT NULL""")
    cur.execute("""SELECT COUNT(*) FROM import_stage WHERE existing_id IS NOT NULL
                   AND file_status <> '' AND file_status <> old_status AND new_status = old_status""")
    result.status_kept = cur.fetchone()[0]
    # Never re-enroll: a new account number for a customer and premises that opted out stays out.
    cur.execute(
        f"SELECT 1 FROM accounts_serviceaccount WHERE program_id = %s AND status IN ({opted}) LIMIT 1",
        [p],
    )
    any_opted_out = cur.fetchone() is not None
    cur.execute(
        f"""
        UPDATE import_stage SET inherited_from = (
            SELECT MIN(a.account_number) FROM accounts_serviceaccount a
            WHERE a.program_id = %s AND a.customer_key = import_stage.customer_key AND a.status IN ({opted}))
        WHERE existing_id IS NULL AND new_status IN ({active}) AND %s""",
        [p, any_opted_out],
    )
    cur.execute(
        "UPDATE import_stage SET new_status = %s WHERE inherited_from IS NOT NULL",
        [Status.OPTED_OUT_PRE],
    )
    cur.execute("SELECT COUNT(*) FROM import_stage WHERE inherited_from IS NOT NULL")
    result.inherited_opt_outs = cur.fetchone()[0]


def _program_lock(cur, program_id: int):
    """One import per program at a time (until the transaction ends); opt-outs go on meanwhile."""
    cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7317, program_id])


def _program_has_accounts(cur, program_id: int) -> bool:
    cur.execute("SELECT 1 FROM accounts_serviceaccount WHERE program_id = %s LIMIT 1", [program_id])
    return cur.fetchone() is not None


BULK_LOAD_ROWS = 100_000


class _FirstLoadClash(Exception):
    """The first-load path met a duplicate account number or personal code: it rolled back, and
    the staging path (which names the lines and re-draws codes) loads the file instead."""


class _FirstLoad:
    """A program's first large load, straight into the account table.

    With no account of the program to link to, the staging table buys nothing: the workers' rows
    go by COPY into the account table, its secondary indexes dropped first and rebuilt after, all
    in one transaction. The unique constraints, rebuilt first, are the duplicate checks: should a
    file repeat an account number (or two personal codes clash), the transaction rolls back and
    the staging path loads the file, naming the lines. Files that set a status take the staging
    path (their status-history rows name the line each status came from)."""

    COLUMNS = (
        "program_id",
        "account_number",
        *DATA_COLUMNS,
        "phase_id",
        "product_id",
        "status",
        "status_changed_at",
        "enrollment_date",
        "opt_out_code",
        "customer_key",
        "address_needs_repair",
        "import_run_id",
        "created_at",
        "updated_at",
    )

    def __init__(self, program: Program, run: ImportRun, now):
        self.program_id, self.run_id, self.now = program.pk, run.pk, now.isoformat()
        self.default_product = (
            Product.objects.filter(program=program, is_default=True)
            .values_list("id", flat=True)
            .first()
        )
        self._head = f"{self.program_id}\t"
        self._tail = f"\tf\t{self.run_id}\t{self.now}\t{self.now}\n"

    @staticmethod
    def rows_expected(cur, program: Program, path: Path, header: list[str]) -> int:
        """About how many rows the file holds, if it is a first load (0 if it is not)."""
        if "status" in header or _program_has_accounts(cur, program.pk):
            return 0
        with open(path, "rb") as fh:
            sample = fh.read(BLOCK)
        return path.stat().st_size * max(sample.count(b"\n") - 1, 1) // max(len(sample), 1)

    def values(self, t: tuple) -> tuple:
        """A staging tuple's values in COLUMNS order."""
        return (
            self.program_id,
            *t[1:21],
            t[21] if t[21] is not None else self.default_product,
            t[26],
            self.now,
            t[23],
            t[24],
            t[25],
            False,
            self.run_id,
            self.now,
            self.now,
        )

    def line(self, t: tuple) -> str:
        """values(t) as a COPY line, taking its text as it is (see _copy_text)."""
        (
            _,
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
            _,
            enrollment,
            code,
            key,
            status,
        ) = t
        product = self.default_product if product_id is None else product_id
        return (
            self._head
            + "\t".join(
                (
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
                    str(cycle),
                    language,
                    email,
                    phone,
                    "t" if care else "f",
                    "t" if nem else "f",
                    "t" if medical else "f",
                    "t" if direct else "f",
                    "\\N" if phase_id is None else str(phase_id),
                    "\\N" if product is None else str(product),
                    status,
                    self.now,
                    "\\N" if enrollment is None else str(enrollment),
                    code,
                    key,
                )
            )
            + self._tail
        )

    def copy_text(self, rows: list[tuple], source: str | None) -> bytes:
        """Staging tuples as COPY text of the account table (in a worker process)."""
        return _copy_text(rows, source, line=self.line, values=self.values)

    def load(
        self, cur, program: Program, path: Path, header: list[str], result: ImportResult, progress
    ) -> dict[int, list[RowError]]:
        copy_sql = f"COPY accounts_serviceaccount ({', '.join(self.COLUMNS)}) FROM STDIN"

        def write(payload: bytes):
            if payload:
                with cur.cursor.copy(copy_sql) as copy:
                    copy.write(payload)

        return _stream(
            program,
            path,
            header,
            result,
            progress,
            write=write,
            step="validate and load",
            encode=self.copy_text,
        )


def _load_first(
    program: Program,
    path: Path,
    header: list[str],
    result: ImportResult,
    progress,
    skip_invalid: bool,
) -> bool:
    """The first-load path (see _FirstLoad); False when the file is not a first load."""
    result.lap()
    with transaction.atomic(), connection.cursor() as cur:
        _program_lock(cur, program.pk)
        expected = _FirstLoad.rows_expected(cur, program, path, header)
        rebuild = _drop_secondary_indexes(cur, program.pk, expected) if expected else None
        if rebuild is None:
            return False  # not a first load, or too small a one to pay for rebuilding the indexes
        result.lap("drop indexes")
        try:
            rejected_lines = _FirstLoad(program, result.run, timezone.now()).load(
                cur, program, path, header, result, progress
            )
            result.errors.sort(key=lambda e: e.line)
            result.rejected, result.rejected_lines = len(rejected_lines), rejected_lines
            if result.errors and not skip_invalid:
                raise ImportRejected(result.errors[:MAX_REPORTED_ERRORS], result.rejected)
            result.lap()
            _rebuild(cur, rebuild, result)
        except IntegrityError as exc:
            raise _FirstLoadClash(str(exc)) from exc
        result.created = result.rows - result.rejected
    result.lap("commit")
    return True


def _drop_secondary_indexes(cur, program_id: int, new_rows: int) -> list[tuple[str, str]] | None:
    """For a load that adds most of a large table (a program's first million accounts), building
    the indexes once after the insert (a sort each, in parallel workers) is several times faster
    than updating them row by row. Everything is inside the merge transaction: the drop takes an
    exclusive lock, so readers wait rather than see a table without indexes, a failed load
    restores them, and re-adding a unique constraint re-checks it over every row (the staging
    path refused duplicates before; on the first-load path this is the duplicate check).
    Returns the rebuild statements as (index, SQL), or None when the load is too small to pay for
    them (nothing is dropped then)."""
    cur.execute("SELECT COUNT(*) FROM accounts_serviceaccount")
    existing = cur.fetchone()[0]
    if new_rows < BULK_LOAD_ROWS or new_rows < existing:
        return None
    cur.execute("""
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = 'accounts_serviceaccount'::regclass AND contype = 'u'""")
    constraints = cur.fetchall()
    # A partial index is kept: it takes only the rows its predicate matches (the opted-out ones),
    # so a load of eligible accounts adds nothing to it, and a rebuild would read the whole table.
    cur.execute("""
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = 'accounts_serviceaccount' AND NOT EXISTS (
            SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
          AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indexrelid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass
                          AND x.indpred IS NOT NULL)""")
    indexes = cur.fetchall()
    for name, _ in constraints:
        cur.execute(f'ALTER TABLE accounts_serviceaccount DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    # The unique constraints come back before commit; the look-up and search indexes after it,
    # off the load's critical path (accounts/services/deferred_indexes.py).
    deferred = set(deferred_index_names())
    if any(name in deferred for name, _ in indexes):
        # robust: with the broker down the load still succeeds; the daily job or ensure_indexes rebuilds.
        transaction.on_commit(_queue_indexes, robust=True)
    cur.execute("SET LOCAL maintenance_work_mem = '256MB'")  # for the rebuilds' sorts
    return [
        (name, f'ALTER TABLE accounts_serviceaccount ADD CONSTRAINT "{name}" {definition}')
        for name, definition in constraints
    ] + [(name, definition) for name, definition in indexes if name not in deferred]


def _rebuild(cur, rebuild: list[tuple[str, str]], result: ImportResult):
    for name, statement in rebuild:
        cur.execute(statement)
        result.lap("rebuild " + name)


def _queue_indexes():
    from accounts.tasks import indexes_ensure_task

    indexes_ensure_task.delay()


def _fix_code_collisions(cur, pg: bool):
    """Personal codes are random; the rare clash (with the file or an existing account) is re-drawn."""
    fresh = (
        "upper(substr(md5(random()::text || line_no::text), 1, 10))"
        if pg
        else "upper(hex(randomblob(5)))"
    )
    for _ in range(10):
        cur.execute("""
            SELECT (SELECT COUNT(*) FROM (SELECT opt_out_code FROM import_stage WHERE existing_id IS NULL
                                          GROUP BY opt_out_code HAVING COUNT(*) > 1) d)
                 + (SELECT COUNT(*) FROM import_stage s JOIN accounts_serviceaccount a
                    ON a.opt_out_code = s.opt_out_code WHERE s.existing_id IS NULL)""")
        if not cur.fetchone()[0]:
            return
        cur.execute(f"""
            UPDATE import_stage SET opt_out_code = {fresh} WHERE existing_id IS NULL AND (
                EXISTS (SELECT 1 FROM accounts_serviceaccount a WHERE a.opt_out_code = import_stage.opt_out_code)
                OR EXISTS (SELECT 1 FROM import_stage t WHERE t.opt_out_code = import_stage.opt_out_code
                           AND t.line_no < import_stage.line_no))""")
    raise RuntimeError("could not draw unique personal codes; the code space is exhausted")
