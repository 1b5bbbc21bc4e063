"""The temporary staging table: every good row of the file, loaded by COPY on PostgreSQL and by
batched INSERT elsewhere, then checked for account numbers the file repeats."""

from __future__ import annotations

from pathlib import Path

from django.db import connection

from accounts.models import Program
from accounts.services.importing import workers
from accounts.services.importing.columns import STAGE_COLUMNS
from accounts.services.importing.copy_text import copy_text
from accounts.services.importing.results import MAX_REPORTED_ERRORS, ImportResult, RowError

# STAGE_COLUMNS, then what the merge works out per row (existing_id, old_status, inherited_from).
STAGE_TABLE = """
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
    enrollment_date date NULL, opt_out_code varchar(12) NOT NULL,
    customer_key varchar(64) NOT NULL, new_status varchar(20) NULL,
    existing_id bigint NULL, old_status varchar(20) NULL, inherited_from varchar(32) NULL"""


class Stage:
    """The staging table `import_stage`, temporary: it lives as long as the connection's session."""

    def __init__(self) -> None:
        self.pg = connection.vendor == "postgresql"
        self.cursor = connection.cursor()

    def create(self) -> None:
        self.cursor.execute("DROP TABLE IF EXISTS import_stage")
        self.cursor.execute(f"CREATE TEMPORARY TABLE import_stage ({STAGE_TABLE})")

    def write(self, rows: list[tuple] | bytes) -> None:
        if not rows:
            return
        if isinstance(rows, bytes):  # COPY text, on PostgreSQL
            with self.cursor.cursor.copy(
                f"COPY import_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
            ) as copy:
                copy.write(rows)
        else:
            marks = ", ".join(["%s"] * len(STAGE_COLUMNS))
            self.cursor.executemany(
                f"INSERT INTO import_stage ({', '.join(STAGE_COLUMNS)}) VALUES ({marks})", rows
            )

    def index(self) -> None:
        if self.pg:
            # PostgreSQL joins the staging table by hashing it; indexes would only cost time.
            self.cursor.execute("ANALYZE import_stage")
        else:
            self.cursor.execute(
                "CREATE INDEX import_stage_account ON import_stage (account_number)"
            )
            self.cursor.execute("CREATE INDEX import_stage_code ON import_stage (opt_out_code)")

    def drop(self) -> None:
        self.cursor.execute("DROP TABLE IF EXISTS import_stage")
        self.cursor.close()


def stage_load(
    program: Program,
    path: Path,
    header: list[str],
    stage: Stage,
    result: ImportResult,
    progress: bool | None,
) -> None:
    """Validate the file into the staging table; bad rows and repeated account numbers go in
    `result` (the first occurrence of an account number wins, the rest are errors)."""
    stage.create()
    rejected_lines = workers.blocks_stream(
        program,
        path,
        header,
        result,
        progress,
        write=stage.write,
        step="validate and stage",
        encode=copy_text if stage.pg else None,
    )
    stage.index()
    with result.timed("duplicate check"), connection.cursor() as cur:
        cur.execute("""
            SELECT s.line_no, s.account_number, f.first_line FROM import_stage s
            JOIN (SELECT account_number, MIN(line_no) AS first_line FROM import_stage
                  GROUP BY account_number HAVING COUNT(*) > 1) f
              ON f.account_number = s.account_number
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
