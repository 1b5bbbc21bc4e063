"""Import of the utility's eligible-customer CSV (format: docs/formats/eligible-customers.md).

Every row is validated first; rows go into a temporary staging table (COPY on PostgreSQL,
batched inserts on SQLite) and are merged with one set of SQL statements in one transaction:
a file with a bad row writes nothing (unless skip_invalid), and a reload never duplicates an
account, never moves its status backwards and never re-enrolls a customer who opted out.
"""
from __future__ import annotations

import base64
import csv
import difflib
import io
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from django.db import connection, transaction
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
from accounts.services.files import file_sha256
from accounts.services.status import FORWARD, IMPORTABLE_STATUSES, Actor

REQUIRED_COLUMNS = (
    "account_number", "customer_name", "service_address", "service_city", "service_zip",
    "mailing_address", "mailing_city", "mailing_state", "mailing_zip", "customer_class",
    "rate_schedule", "read_cycle", "language", "email", "phone", "care", "nem",
    "medical_baseline", "direct_access", "phase",
)
OPTIONAL_COLUMNS = ("status", "enrollment_date", "product")
# Statuses for which the file must say when CCA service started.
NEEDS_ENROLLMENT_DATE = {Status.ENROLLED, Status.PARTICIPANT, Status.OPTED_OUT_FREE, Status.TERMINATED}

# ISO 639-1.
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
# Crockford's base-32 alphabet: no I, L, O or U, so a code read over the phone is unambiguous.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CODE_ALPHABET.encode())
MAX_REPORTED_ERRORS = 1000

STAGE_COLUMNS = (
    "line_no", "account_number", "customer_name", "service_address", "service_city", "service_zip",
    "mailing_address", "mailing_city", "mailing_state", "mailing_zip", "customer_class",
    "rate_schedule", "read_cycle", "language", "email", "phone", "care", "nem",
    "medical_baseline", "direct_access", "phase_id", "product_id", "file_status",
    "enrollment_date", "opt_out_code", "customer_key", "new_status",
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

    def summary(self) -> str:
        text = (f"{self.rows} rows: {self.created} created, {self.updated} updated, "
                f"{self.unchanged} unchanged, {self.rejected} rejected")
        if self.status_kept:
            text += f"; {self.status_kept} status(es) in the file ignored (would move an account backwards or re-enroll it)"
        if self.inherited_opt_outs:
            text += f"; {self.inherited_opt_outs} new account(s) kept opted out (same customer and premises as an opted-out account)"
        if self.reject_file:
            text += f"; rejected rows in {self.reject_file}"
        return text


class _Validator:
    """Turns one CSV record into a staging tuple or a list of RowErrors."""

    def __init__(self, program: Program, columns: list[str]):
        self.program = program
        self.index = {name: i for i, name in enumerate(columns)}
        # Column positions as attributes (None for an optional column the file does not have).
        self.cols = SimpleNamespace(**{name: self.index.get(name) for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS})
        self.flag_cols = [(col, self.index[col]) for col in ("care", "nem", "medical_baseline", "direct_access")]
        self.tariffs = dict(RateSchedule.objects.filter(utility_id=program.utility_id).values_list("code", "customer_class"))
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
            self._random = [text[i:i + 10] for i in range(0, len(text), 10)]
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
        # Hot path of a million-row load: fields are stripped once and read by position.
        f = list(map(str.strip, rec))
        c = self.cols
        errors: list[RowError] = []
        norm = self._norm

        account = f[c.account_number]
        if not _ACCOUNT.match(account):
            errors.append(RowError(line, "account_number", f"'{account}' must be 1–32 letters, digits or dashes"))
        name = norm(normalize.person_name, f[c.customer_name], "customer_name", line, errors)
        street = norm(normalize.street_line, f[c.service_address], "service_address", line, errors)
        city = norm(normalize.city, f[c.service_city], "service_city", line, errors)
        zip5 = norm(normalize.zip_code, f[c.service_zip], "service_zip", line, errors)
        m_street, m_city, m_state, m_zip = f[c.mailing_address], f[c.mailing_city], f[c.mailing_state], f[c.mailing_zip]
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
            errors.append(RowError(line, "customer_class", f"'{klass}' is not one of {', '.join(sorted(CLASSES))}"))
        tariff = f[c.rate_schedule].upper()
        if not tariff:
            errors.append(RowError(line, "rate_schedule", "is blank"))
        elif self.tariffs:
            tariff_class = self.tariffs.get(tariff)
            if tariff_class is None:
                errors.append(RowError(line, "rate_schedule", f"'{tariff}' is not a rate schedule of {self.program.utility.code}"))
            elif tariff_class != klass and klass in CLASSES:
                errors.append(RowError(line, "rate_schedule", f"'{tariff}' is a {tariff_class} tariff but customer_class is {klass}"))
        cycle_text = f[c.read_cycle]
        cycle = int(cycle_text) if cycle_text.isdigit() else 0
        if not 1 <= cycle <= 99:
            errors.append(RowError(line, "read_cycle", f"'{cycle_text}' is not a read cycle (1–99)"))
        language = f[c.language].lower() or self.default_language
        if language not in LANGUAGES:
            errors.append(RowError(line, "language", f"'{language}' is not an ISO 639-1 language code"))
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
                errors.append(RowError(line, "phase", f"'{phase_name}' is not a phase of {self.program.slug} ({', '.join(k for k in self.phases if not k.isdigit()) or 'none defined'})"))
        else:
            phase_id = self._phase_by_rule(klass, tariff, city or "")

        status = ""
        if c.status is not None:
            status = f[c.status]
            if status and status not in IMPORTABLE_STATUSES:
                errors.append(RowError(line, "status", f"'{status}' is not one of {', '.join(IMPORTABLE_STATUSES)}"))
        enrollment = None
        if c.enrollment_date is not None and f[c.enrollment_date]:
            text = f[c.enrollment_date]
            try:
                enrollment = date.fromisoformat(text)
            except ValueError:
                errors.append(RowError(line, "enrollment_date", f"'{text}' is not a date (YYYY-MM-DD)"))
        if status in NEEDS_ENROLLMENT_DATE and enrollment is None and not any(e.column == "enrollment_date" for e in errors):
            errors.append(RowError(line, "enrollment_date", f"is required when status is {status}"))
        product_id = None
        if c.product is not None and f[c.product]:
            code = f[c.product]
            product_id = self.products.get(code)
            if product_id is None:
                errors.append(RowError(line, "product", f"'{code}' is not a product of {self.program.slug} ({', '.join(self.products) or 'none defined'})"))

        if errors:
            return errors
        return (
            line, account, name, street, city, zip5, m_street, m_city, m_state, m_zip,
            klass, tariff, cycle, language, email, phone, *flags,
            phase_id, product_id, status, enrollment, self._code(),
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
            errors.append(RowError(1, col or "(blank)", "unknown column" + (f" (did you mean {hint[0]}?)" if hint else "")))
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

    def write(self, rows: "list[tuple] | bytes"):
        if not rows:
            return
        if self.pg:
            with self.cursor.cursor.copy(f"COPY import_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy:
                copy.write(rows)
        else:
            marks = ", ".join(["%s"] * len(STAGE_COLUMNS))
            self.cursor.executemany(f"INSERT INTO import_stage ({', '.join(STAGE_COLUMNS)}) VALUES ({marks})", rows)

    def index(self):
        if self.pg:
            # PostgreSQL joins the staging table by hashing it; indexes would only cost time.
            self.cursor.execute("ANALYZE import_stage")
        else:
            self.cursor.execute("CREATE INDEX import_stage_account ON import_stage (account_number)")
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
    return tqdm(total=max(lines - 1, 0), unit="rows", unit_scale=True, desc="validating", file=sys.stderr)


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
    *, program: Program, path: Path, actor: Actor, skip_invalid: bool = False, progress: bool | None = None,
) -> ImportResult:
    """Validate and load an eligible-customer file into `program`. See the module docstring."""
    path = Path(path)
    run = ImportRun.objects.create(
        program=program, kind=ImportRun.Kind.ACCOUNTS, file_name=str(path), sha256=file_sha256(path), actor=actor.name,
    )
    result = ImportResult(run=run)
    stage = _Stage()
    try:
        _validate_into_stage(program, path, stage, result, progress)
        if result.errors and not skip_invalid:
            raise ImportRejected(result.errors[:MAX_REPORTED_ERRORS], result.rejected)
        if result.rejected:
            result.reject_file = _write_rejects(path, result)
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
    _finish(run, result, ImportRun.Outcome.PARTIAL if result.rejected else ImportRun.Outcome.LOADED, result.summary())
    return result


def _finish(run: ImportRun, result: ImportResult, outcome: str, message: str):
    run.outcome, run.message, run.finished_at = outcome, message[:10000], timezone.now()
    run.rows, run.created, run.updated, run.unchanged = result.rows, result.created, result.updated, result.unchanged
    run.rejected, run.status_kept = result.rejected, result.status_kept
    run.reject_file = str(result.reject_file or "")
    run.save()


# Validation runs in worker processes forked from this one (they inherit the validator and use
# no database connection); this process reads the CSV and feeds the staging table in file order.
_worker_validator: "_Validator | None" = None
_worker_copy_format = False


def _worker_init():
    _worker_validator._random = []  # never share the parent's random codes


def _validate_block(piece: tuple[int, bytes]) -> tuple[object, list[tuple[int, list[RowError]]], int]:
    """Parse and validate one block of the file (in a worker process)."""
    first_line, data = piece
    validator, width = _worker_validator, len(_worker_validator.index)
    good, bad = [], []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        return (_copy_text([]) if _worker_copy_format else []), [
            (line, [RowError(line, "row", f"is not UTF-8 text (byte {data[exc.start]:#04x}); nothing after it in this block was read")])], 0
    reader = csv.reader(io.StringIO(text, newline=""))
    start = first_line
    row = validator.row
    for rec in reader:
        line, start = start, first_line + reader.line_num
        if not rec or (len(rec) == 1 and not rec[0].strip()):
            continue  # blank line
        outcome = row(rec, line) if len(rec) == width else [
            RowError(line, "row", f"has {len(rec)} fields; the header has {width}")]
        if outcome.__class__ is list:
            bad.append((line, outcome))
        else:
            good.append(outcome)
    return (_copy_text(good) if _worker_copy_format else good), bad, len(good)


def _copy_value(v) -> str:
    if v is None:
        return "\\N"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, str):
        if "\\" in v or "\t" in v or "\n" in v or "\r" in v:
            return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return v
    return str(v)


def _copy_text(rows: list[tuple]) -> bytes:
    """Rows in PostgreSQL's COPY text format."""
    return "".join("\t".join(map(_copy_value, row)) + "\n" for row in rows).encode()


def _validate_into_stage(program: Program, path: Path, stage: _Stage, result: ImportResult, progress):
    global _worker_validator, _worker_copy_format
    import multiprocessing

    _, header_rec = next(_records(path))
    header = _read_header(iter([header_rec]), path)
    _worker_validator, _worker_copy_format = _Validator(program, header), stage.pg
    stage.create()
    bar = _progress(path, progress)
    rejected_lines: dict[int, list[RowError]] = {}
    workers = min(os.cpu_count() or 1, 4)
    use_pool = workers > 1 and path.stat().st_size > 2_000_000
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_worker_init) if use_pool else None
    try:
        outcomes = pool.imap(_validate_block, _blocks(path)) if pool else map(_validate_block, _blocks(path))
        for payload, bad, n_good in outcomes:
            result.rows += n_good + len(bad)
            for line, errs in bad:
                rejected_lines[line] = errs
                if len(result.errors) < MAX_REPORTED_ERRORS:
                    result.errors.extend(errs)
            stage.write(payload)
            if bar is not None:
                bar.update(result.rows - bar.n)
    finally:
        if pool is not None:
            pool.terminate()
        _worker_validator = None
    if bar is not None:
        bar.close()
    stage.index()
    # Duplicate account numbers inside the file: the first occurrence wins, the rest are errors.
    with connection.cursor() as cur:
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
                writer.writerow([*rec, line, "; ".join(e.column for e in errs), "; ".join(e.reason for e in errs)])
    return out


def _merge(program: Program, stage: _Stage, result: ImportResult, actor: Actor):
    """The set-based upsert. One transaction: all of it lands, or none of it."""
    pg = stage.pg
    now = timezone.now()
    distinct = "IS DISTINCT FROM" if pg else "IS NOT"
    opted = ", ".join(f"'{s}'" for s in sorted(OPTED_OUT_STATUSES))
    active = ", ".join(f"'{s}'" for s in (Status.ELIGIBLE, Status.NOTIFIED, Status.ENROLLED, Status.PARTICIPANT))
    p = program.pk
    with transaction.atomic(), connection.cursor() as cur:
        if pg:
            # One import per program at a time; web and phone opt-outs go on meanwhile.
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7317, p])
            # Lock accounts whose status the file proposes to change, so an opt-out arriving
            # during the load is either seen here or waits for us, never overwritten.
            cur.execute("""
                SELECT a.id FROM accounts_serviceaccount a JOIN import_stage s
                  ON a.program_id = %s AND a.account_number = s.account_number
                WHERE s.file_status <> '' AND s.file_status <> a.status FOR UPDATE OF a""", [p])
        cur.execute("DROP TABLE IF EXISTS import_forward")
        cur.execute("CREATE TEMPORARY TABLE import_forward (from_status varchar(20), to_status varchar(20))")
        cur.executemany("INSERT INTO import_forward VALUES (%s, %s)", [(a, b) for a, bs in FORWARD.items() for b in bs])
        cur.execute("""
            UPDATE import_stage SET existing_id = a.id, old_status = a.status
            FROM accounts_serviceaccount a
            WHERE a.program_id = %s AND a.account_number = import_stage.account_number""", [p])
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
        cur.execute(f"SELECT 1 FROM accounts_serviceaccount WHERE program_id = %s AND status IN ({opted}) LIMIT 1", [p])
        any_opted_out = cur.fetchone() is not None
        cur.execute(f"""
            UPDATE import_stage SET inherited_from = (
                SELECT MIN(a.account_number) FROM accounts_serviceaccount a
                WHERE a.program_id = %s AND a.customer_key = import_stage.customer_key AND a.status IN ({opted}))
            WHERE existing_id IS NULL AND new_status IN ({active}) AND %s""", [p, any_opted_out])
        cur.execute("UPDATE import_stage SET new_status = %s WHERE inherited_from IS NOT NULL", [Status.OPTED_OUT_PRE])
        cur.execute("SELECT COUNT(*) FROM import_stage WHERE inherited_from IS NOT NULL")
        result.inherited_opt_outs = cur.fetchone()[0]
        _fix_code_collisions(cur, pg)

        cur.execute("SELECT COUNT(*) FROM import_stage WHERE existing_id IS NULL")
        new_rows = cur.fetchone()[0]
        rebuild = _drop_secondary_indexes(cur, p, new_rows) if pg else []

        cols = ", ".join(DATA_COLUMNS)
        default_product = Product.objects.filter(program=program, is_default=True).values_list("id", flat=True).first()
        cur.execute(f"""
            INSERT INTO accounts_serviceaccount (
                program_id, account_number, {cols}, phase_id, product_id, status, status_changed_at,
                enrollment_date, opt_out_code, customer_key, address_needs_repair, import_run_id,
                created_at, updated_at)
            SELECT %s, account_number, {cols}, phase_id, COALESCE(product_id, %s), new_status, %s,
                enrollment_date, opt_out_code, customer_key, %s, %s, %s, %s
            FROM import_stage WHERE existing_id IS NULL""",
            [p, default_product, now, False, result.run.pk, now, now])
        result.created = cur.rowcount

        cur.execute("SELECT COUNT(*) FROM import_stage WHERE existing_id IS NOT NULL")
        existing_rows = cur.fetchone()[0]
        changed = " OR ".join(f"a.{c} {distinct} s.{c}" for c in DATA_COLUMNS)
        sets = ", ".join(f"{c} = s.{c}" for c in DATA_COLUMNS)
        mailing_changed = " OR ".join(f"a.{c} {distinct} s.{c}" for c in ("mailing_address", "mailing_city", "mailing_state", "mailing_zip"))
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
        for statement in rebuild:
            cur.execute(statement)
        result.unchanged = existing_rows - result.updated

        run_label = f"import run {result.run.pk} ({Path(result.run.file_name).name})"
        cur.execute("""
            INSERT INTO accounts_statuschange (account_id, from_status, to_status, at, actor_id, actor_name, channel, reason)
            SELECT a.id, COALESCE(s.old_status, ''), s.new_status, %s, %s, %s, %s,
                   CASE WHEN s.inherited_from IS NOT NULL
                        THEN %s || ' line ' || s.line_no || ': same customer and premises as opted-out account ' || s.inherited_from
                        WHEN s.existing_id IS NULL THEN %s || ' line ' || s.line_no || ': account created with its status from the file'
                        ELSE %s || ' line ' || s.line_no || ': status from the file' END
            FROM import_stage s JOIN accounts_serviceaccount a
              ON a.program_id = %s AND a.account_number = s.account_number
            WHERE (s.existing_id IS NULL AND s.new_status <> %s) OR s.new_status <> s.old_status""",
            [now, actor.user_id, actor.name, "import", run_label, run_label, run_label, p, Status.ELIGIBLE])
        cur.execute("DROP TABLE IF EXISTS import_forward")


BULK_LOAD_ROWS = 100_000


def _drop_secondary_indexes(cur, program_id: int, new_rows: int) -> list[str]:
    """For a load that adds most of a large table (a program's first million accounts), building
    the indexes once after the insert (a sort each, in parallel workers) is several times faster
    than updating them row by row. Everything is inside the merge transaction: the drop takes an
    exclusive lock, so readers wait rather than see a table without indexes, a failed load
    restores them, and re-adding a unique constraint re-checks it over every row (duplicates were
    already refused above, so it cannot fail on good data). Returns the rebuild statements."""
    cur.execute("SELECT COUNT(*) FROM accounts_serviceaccount")
    existing = cur.fetchone()[0]
    if new_rows < BULK_LOAD_ROWS or new_rows < existing:
        return []
    cur.execute("""
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = 'accounts_serviceaccount'::regclass AND contype = 'u'""")
    constraints = cur.fetchall()
    cur.execute("""
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = 'accounts_serviceaccount' AND NOT EXISTS (
            SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""")
    indexes = cur.fetchall()
    for name, _ in constraints:
        cur.execute(f'ALTER TABLE accounts_serviceaccount DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    return (["SET LOCAL maintenance_work_mem = '256MB'"]
            + [f'ALTER TABLE accounts_serviceaccount ADD CONSTRAINT "{name}" {definition}' for name, definition in constraints]
            + [definition for _, definition in indexes])


def _fix_code_collisions(cur, pg: bool):
    """Personal codes are random; the rare clash (with the file or an existing account) is re-drawn."""
    fresh = "upper(substr(md5(random()::text || line_no::text), 1, 10))" if pg else "upper(hex(randomblob(5)))"
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
