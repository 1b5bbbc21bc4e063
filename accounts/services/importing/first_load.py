"""A program's first large load (PostgreSQL), straight into the account table."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from accounts.models import ImportRun, Product, Program
from accounts.services.importing import workers
from accounts.services.importing.account_table import (
    indexes_rebuild,
    program_has_accounts,
    program_lock,
    secondary_indexes_drop,
)
from accounts.services.importing.columns import DATA_COLUMNS
from accounts.services.importing.copy_text import copy_text
from accounts.services.importing.results import (
    MAX_REPORTED_ERRORS,
    ImportRejected,
    ImportResult,
    RowError,
)


class FirstLoadClash(Exception):
    """The first-load path met a duplicate account number or personal code: it rolled back, and
    the staging path (which names the lines and re-draws codes) loads the file instead."""


class FirstLoad:
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

    def __init__(self, program: Program, run: ImportRun, now: datetime):
        self.program_id, self.run_id, self.now = program.pk, run.pk, now.isoformat()
        self.default_product = (
            Product.objects.filter(program=program, is_default=True)
            .values_list("id", flat=True)
            .first()
        )
        self._head = f"{self.program_id}\t"
        self._tail = f"\tf\t{self.run_id}\t{self.now}\t{self.now}\n"

    @staticmethod
    def rows_expected(cur: CursorWrapper, program: Program, path: Path, header: list[str]) -> int:
        """About how many rows the file holds, if it is a first load (0 if it is not)."""
        if "status" in header or program_has_accounts(cur, program.pk):
            return 0
        with open(path, "rb") as fh:
            sample = fh.read(workers.BLOCK)
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
        """values(t) as a COPY line, taking its text as it is (see copy_text)."""
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
        return copy_text(rows, source, line=self.line, values=self.values)

    def load(
        self,
        cur: CursorWrapper,
        program: Program,
        path: Path,
        header: list[str],
        result: ImportResult,
        progress: bool | None,
    ) -> dict[int, list[RowError]]:
        copy_sql = f"COPY accounts_serviceaccount ({', '.join(self.COLUMNS)}) FROM STDIN"

        def write(payload: bytes) -> None:
            if payload:
                with cur.cursor.copy(copy_sql) as copy:
                    copy.write(payload)

        return workers.blocks_stream(
            program,
            path,
            header,
            result,
            progress,
            write=write,
            step="validate and load",
            encode=self.copy_text,
        )


def first_load(
    program: Program,
    path: Path,
    header: list[str],
    result: ImportResult,
    progress: bool | None,
    skip_invalid: bool,
) -> bool:
    """The first-load path (see FirstLoad); False when the file is not a first load."""
    result.lap()
    with transaction.atomic(), connection.cursor() as cur:
        program_lock(cur, program.pk)
        expected = FirstLoad.rows_expected(cur, program, path, header)
        rebuild = secondary_indexes_drop(cur, program.pk, expected) if expected else None
        if rebuild is None:
            return False  # not a first load, or too small a one to pay for rebuilding the indexes
        result.lap("drop indexes")
        try:
            rejected_lines = FirstLoad(program, result.run, timezone.now()).load(
                cur, program, path, header, result, progress
            )
            result.errors.sort(key=lambda e: e.line)
            result.rejected, result.rejected_lines = len(rejected_lines), rejected_lines
            if result.errors and not skip_invalid:
                raise ImportRejected(result.errors[:MAX_REPORTED_ERRORS], result.rejected)
            result.lap()
            indexes_rebuild(cur, rebuild, result)
        except IntegrityError as exc:
            raise FirstLoadClash(str(exc)) from exc
        result.created = result.rows - result.rejected
    result.lap("commit")
    return True
