"""The account table during a load: one load per program at a time, and the secondary indexes a
large load drops and builds again after its insert."""

from __future__ import annotations

from django.db import transaction
from django.db.backends.utils import CursorWrapper

from accounts.services.deferred_indexes import deferred_index_names
from accounts.services.importing.results import ImportResult
from accounts.tasks import indexes_ensure_task

BULK_LOAD_ROWS = 100_000


def program_lock(cur: CursorWrapper, program_id: int) -> None:
    """One import per program at a time (until the transaction ends); opt-outs go on meanwhile."""
    cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7317, program_id])


def program_has_accounts(cur: CursorWrapper, program_id: int) -> bool:
    cur.execute("SELECT 1 FROM accounts_serviceaccount WHERE program_id = %s LIMIT 1", [program_id])
    return cur.fetchone() is not None


def secondary_indexes_drop(
    cur: CursorWrapper, program_id: int, new_rows: int
) -> list[tuple[str, str]] | None:
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
          AND NOT EXISTS (
            SELECT 1 FROM pg_index x
            WHERE x.indexrelid
                  = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass
              AND x.indpred IS NOT NULL)""")
    indexes = cur.fetchall()
    for name, _ in constraints:
        cur.execute(f'ALTER TABLE accounts_serviceaccount DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    # The unique constraints come back before commit; the look-up and search indexes after it,
    # off the load's critical path (deferred_indexes.py).
    deferred = set(deferred_index_names())
    if any(name in deferred for name, _ in indexes):
        # robust: with the broker down the load still succeeds; the daily job or ensure_indexes
        # builds them.
        transaction.on_commit(indexes_queue, robust=True)
    cur.execute("SET LOCAL maintenance_work_mem = '256MB'")  # for the rebuilds' sorts
    return [
        (name, f'ALTER TABLE accounts_serviceaccount ADD CONSTRAINT "{name}" {definition}')
        for name, definition in constraints
    ] + [(name, definition) for name, definition in indexes if name not in deferred]


def indexes_rebuild(
    cur: CursorWrapper, rebuild: list[tuple[str, str]], result: ImportResult
) -> None:
    for name, statement in rebuild:
        cur.execute(statement)
        result.lap("rebuild " + name)


def indexes_queue() -> None:
    indexes_ensure_task.delay()
