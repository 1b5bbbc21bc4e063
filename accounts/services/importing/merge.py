"""The merge of the staging table into the program's accounts, in one transaction: all of it
lands, or none of it.

A reload (a program that already has accounts) first keeps only the rows that matter: one join
on the unique key (program, account number) links each row to its account and drops the rows
that would change nothing, so the monthly file of a million customers, nearly all unchanged,
leaves a staging table of the few thousand new or changed ones. The status rule (forward only),
the never-re-enroll rule, the personal codes, the insert and the update then work on those.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from accounts.models import PRE_ENROLLMENT_STATUSES, Product, Program, Status
from accounts.services.importing.account_table import (
    indexes_rebuild,
    program_has_accounts,
    program_lock,
    secondary_indexes_drop,
)
from accounts.services.importing.columns import DATA_COLUMNS, STAGE_COLUMNS
from accounts.services.importing.results import ImportResult
from accounts.services.importing.staging import Stage
from accounts.services.personal_codes import personal_codes_new
from accounts.services.same_customer import any_opted_out_sql, opted_out_same_customer_sql
from accounts.services.status import FORWARD, Actor

MAILING_COLUMNS = ("mailing_address", "mailing_city", "mailing_state", "mailing_zip")
# A new account the file gives one of these statuses inherits an opt-out of the same customer.
INHERITS_OPT_OUT = tuple(sorted(PRE_ENROLLMENT_STATUSES | {Status.ENROLLED, Status.PARTICIPANT}))


def _distinct(pg: bool) -> str:
    return "IS DISTINCT FROM" if pg else "IS NOT"


def changes_sql(pg: bool) -> str:
    """Whether staged row `s` changes the data of its account `a`: a data column differs, or the
    file sets a phase, product or enrollment date the account does not have."""
    d = _distinct(pg)
    return " OR ".join(
        [
            *(f"a.{c} {d} s.{c}" for c in DATA_COLUMNS),
            f"(s.phase_id IS NOT NULL AND a.phase_id {d} s.phase_id)",
            f"(s.product_id IS NOT NULL AND a.product_id {d} s.product_id)",
            f"(s.enrollment_date IS NOT NULL AND a.enrollment_date {d} s.enrollment_date)",
        ]
    )


def merge(program: Program, stage: Stage, result: ImportResult, actor: Actor) -> None:
    """The set-based upsert of the staging table."""
    pg = stage.pg
    now = timezone.now()
    p = program.pk
    staged = result.rows - result.rejected
    result.lap()
    with transaction.atomic(), connection.cursor() as cur:
        if pg:
            program_lock(cur, p)
        if program_has_accounts(cur, p):  # a program's first load has nothing to link to
            if pg and _file_sets_status(cur):
                _lock_status_changes(cur, p)
            _keep_new_and_changed(cur, p, pg)
            result.lap("link to existing accounts")
            _statuses_link(cur, p, result)
        _code_collisions_fix(cur)
        result.lap("statuses and personal codes")

        cur.execute("SELECT COUNT(*) FROM import_stage WHERE existing_id IS NULL")
        new_rows = cur.fetchone()[0]
        rebuild = secondary_indexes_drop(cur, p, new_rows) if pg else None
        result.lap("drop indexes")

        result.created = _insert_new(cur, program, result, now)
        result.lap("insert new accounts")

        result.updated = _update_changed(cur, pg, now)
        result.lap("update changed accounts")
        indexes_rebuild(cur, rebuild or [], result)
        result.unchanged = staged - new_rows - result.updated

        _history_write(cur, p, result, actor, now)
        cur.execute("DROP TABLE IF EXISTS import_forward")
        result.lap("status history")
    result.lap("commit")


def _file_sets_status(cur: CursorWrapper) -> bool:
    cur.execute("SELECT 1 FROM import_stage WHERE file_status <> '' LIMIT 1")
    return cur.fetchone() is not None


def _lock_status_changes(cur: CursorWrapper, p: int) -> None:
    """Lock the accounts whose status the file proposes to change, so an opt-out arriving during
    the load is either seen here or waits for us, never overwritten."""
    cur.execute(
        """
        SELECT a.id FROM accounts_serviceaccount a JOIN import_stage s
          ON a.program_id = %s AND a.account_number = s.account_number
        WHERE s.file_status <> '' AND s.file_status <> a.status FOR UPDATE OF a""",
        [p],
    )


def _keep_new_and_changed(cur: CursorWrapper, p: int, pg: bool) -> None:
    """Replace the staging table by its rows that are new or would change their account, each
    linked to its account (existing_id, old_status): one join on the unique key."""
    staged = ", ".join(f"s.{c}" for c in STAGE_COLUMNS)
    if pg:
        # The join hashes a million accounts once; in the default 4 MB it would spill to disk.
        cur.execute("SET LOCAL work_mem = '256MB'")
    # A row whose file status differs from its account's is kept for the status rule (which may
    # refuse it, and counts the refusals).
    cur.execute(
        f"""
        CREATE TEMPORARY TABLE import_linked AS
        SELECT {staged}, a.id AS existing_id, a.status AS old_status,
               CAST(NULL AS varchar(32)) AS inherited_from
        FROM import_stage s LEFT JOIN accounts_serviceaccount a
          ON a.program_id = %s AND a.account_number = s.account_number
        WHERE a.id IS NULL OR (s.file_status <> '' AND s.file_status <> a.status)
           OR {changes_sql(pg)}""",
        [p],
    )
    cur.execute("DROP TABLE import_stage")
    cur.execute("ALTER TABLE import_linked RENAME TO import_stage")
    if pg:
        cur.execute("ANALYZE import_stage")  # small now: the statements below look accounts up
    else:
        cur.execute("CREATE INDEX import_stage_account ON import_stage (account_number)")
        cur.execute("CREATE INDEX import_stage_code ON import_stage (opt_out_code)")


def _statuses_link(cur: CursorWrapper, p: int, result: ImportResult) -> None:
    """The status each linked row may move to (forward only), and the new account numbers of
    customers who opted out (they stay out)."""
    cur.execute("DROP TABLE IF EXISTS import_forward")
    cur.execute(
        "CREATE TEMPORARY TABLE import_forward (from_status varchar(20), to_status varchar(20))"
    )
    cur.executemany(
        "INSERT INTO import_forward VALUES (%s, %s)",
        [(a, b) for a, bs in FORWARD.items() for b in bs],
    )
    cur.execute("""
        UPDATE import_stage SET new_status = CASE
            WHEN file_status <> '' AND EXISTS (
                SELECT 1 FROM import_forward f
                WHERE f.from_status = import_stage.old_status
                  AND f.to_status = import_stage.file_status)
            THEN file_status
            ELSE old_status END
        WHERE existing_id IS NOT NULL""")
    cur.execute("""
        SELECT COUNT(*) FROM import_stage WHERE existing_id IS NOT NULL
          AND file_status <> '' AND file_status <> old_status AND new_status = old_status""")
    result.status_kept = cur.fetchone()[0]
    cur.execute(any_opted_out_sql(), [p])
    if cur.fetchone() is None:
        return
    active = ", ".join(f"'{s}'" for s in INHERITS_OPT_OUT)
    same = opted_out_same_customer_sql(customer_key_sql="import_stage.customer_key")
    cur.execute(
        f"""UPDATE import_stage SET inherited_from = {same}
            WHERE existing_id IS NULL AND new_status IN ({active})""",
        [p],
    )
    cur.execute(
        "UPDATE import_stage SET new_status = %s WHERE inherited_from IS NOT NULL",
        [Status.OPTED_OUT_PRE],
    )
    cur.execute("SELECT COUNT(*) FROM import_stage WHERE inherited_from IS NOT NULL")
    result.inherited_opt_outs = cur.fetchone()[0]


def _code_collisions_fix(cur: CursorWrapper) -> None:
    """Personal codes are random; the rare clash (within the file or with an existing account)
    is drawn again."""
    for _ in range(10):
        # Both halves join by hashing: the staging table has no index on PostgreSQL.
        cur.execute("""
            SELECT s.line_no FROM import_stage s JOIN (
                SELECT opt_out_code, MIN(line_no) AS first_line FROM import_stage
                WHERE existing_id IS NULL GROUP BY opt_out_code HAVING COUNT(*) > 1) d
              ON d.opt_out_code = s.opt_out_code AND s.line_no > d.first_line
            WHERE s.existing_id IS NULL
            UNION
            SELECT s.line_no FROM import_stage s JOIN accounts_serviceaccount a
              ON a.opt_out_code = s.opt_out_code
            WHERE s.existing_id IS NULL""")
        clashes = [line for (line,) in cur.fetchall()]
        if not clashes:
            return
        cur.executemany(
            "UPDATE import_stage SET opt_out_code = %s WHERE line_no = %s",
            list(zip(personal_codes_new(len(clashes)), clashes, strict=True)),
        )
    raise RuntimeError("could not draw unique personal codes; the code space is exhausted")


def _insert_new(cur: CursorWrapper, program: Program, result: ImportResult, now: datetime) -> int:
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
        [program.pk, default_product, now, False, result.run.pk, now, now],
    )
    return cur.rowcount


def _update_changed(cur: CursorWrapper, pg: bool, now: datetime) -> int:
    """Overwrite the data of the accounts the file changes; the rest are not written at all."""
    d = _distinct(pg)
    sets = ", ".join(f"{c} = s.{c}" for c in DATA_COLUMNS)
    mailing_changed = " OR ".join(f"a.{c} {d} s.{c}" for c in MAILING_COLUMNS)
    moved = "s.new_status <> s.old_status"
    cur.execute(
        f"""
        UPDATE accounts_serviceaccount AS a SET {sets},
            status = CASE WHEN {moved} THEN s.new_status ELSE a.status END,
            status_changed_at = CASE WHEN {moved} THEN %s ELSE a.status_changed_at END,
            phase_id = COALESCE(s.phase_id, a.phase_id),
            product_id = COALESCE(s.product_id, a.product_id),
            enrollment_date = COALESCE(s.enrollment_date, a.enrollment_date),
            -- the key follows the name, service address and ZIP it is made of (R-NO-REENROLL)
            customer_key = s.customer_key,
            address_needs_repair = CASE WHEN {mailing_changed} THEN %s
                                        ELSE a.address_needs_repair END,
            updated_at = %s
        FROM import_stage s
        WHERE a.id = s.existing_id AND ({changes_sql(pg)} OR {moved})""",
        [now, False, now],
    )
    return cur.rowcount


def _history_write(
    cur: CursorWrapper, p: int, result: ImportResult, actor: Actor, now: datetime
) -> None:
    """A status-history row for each account created with a status other than eligible and
    each account whose status the file moved."""
    run_label = f"import run {result.run.pk} ({Path(result.run.file_name).name})"
    cur.execute(
        """
        INSERT INTO accounts_statuschange (
            account_id, from_status, to_status, at, actor_id, actor_name, channel, reason)
        SELECT a.id, COALESCE(s.old_status, ''), s.new_status, %s, %s, %s, %s,
               CASE WHEN s.inherited_from IS NOT NULL
                    THEN %s || ' line ' || s.line_no
                         || ': same customer and premises as opted-out account '
                         || s.inherited_from
                    WHEN s.existing_id IS NULL
                    THEN %s || ' line ' || s.line_no
                         || ': account created with its status from the file'
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
