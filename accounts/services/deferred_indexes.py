"""Indexes of the account table that a program's first load builds after it commits (PostgreSQL).

A first load drops the account table's secondary indexes and builds them again after the insert
(accounts/services/importing/account_table.py). What correctness needs is rebuilt inside the
load's transaction: the unique constraints (one account number per program, one personal code),
so a file that breaks them loads nothing. The rest only make look-ups fast — the admin's name
and address search (trigram GIN), the status and phase filters, the phone search — and are built
after the commit by `indexes_ensure` (queued by the import, and run by the daily beat job as a
safety net) with CREATE INDEX CONCURRENTLY: nobody waits for them, and until they are back those
look-ups read the table instead (about a second at a million accounts). Opt-outs, the IVR and the
next import use the unique indexes and are at full speed as soon as the load commits.
"""

from __future__ import annotations

import logging

from django.db import connection

from accounts.models import ServiceAccount

log = logging.getLogger(__name__)
TABLE = ServiceAccount._meta.db_table
# Django's `icontains` on PostgreSQL is UPPER(col::text) LIKE UPPER('%q%'): the indexes are on that
# expression (migration 0002; docs/admin.md).
SEARCH_INDEXES = {
    "account_name_trgm": "customer_name",
    "account_address_trgm": "service_address",
}


def deferred_index_names() -> list[str]:
    """The search indexes and the model's plain (not partial) look-up indexes."""
    return [*SEARCH_INDEXES, *(i.name for i in ServiceAccount._meta.indexes if i.condition is None)]


def _definition(name: str) -> str:
    if name in SEARCH_INDEXES:
        return (
            f"CREATE INDEX CONCURRENTLY {name} ON {TABLE} "
            f'USING gin ((UPPER("{SEARCH_INDEXES[name]}"::text)) gin_trgm_ops)'
        )
    index = next(i for i in ServiceAccount._meta.indexes if i.name == name)
    return str(index.create_sql(ServiceAccount, connection.schema_editor(), concurrently=True))


def indexes_missing() -> list[str]:
    """Deferred indexes that are absent or left invalid by an interrupted build."""
    if connection.vendor != "postgresql":
        return []
    names = deferred_index_names()
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = %s::regclass AND i.indisvalid AND c.relname = ANY(%s)""",
            [TABLE, names],
        )
        valid = {name for (name,) in cur.fetchall()}
    return [name for name in names if name not in valid]


def indexes_ensure() -> list[str]:
    """Build the deferred indexes that are missing (dropping an invalid leftover first); returns
    their names. Runs outside a transaction (CREATE INDEX CONCURRENTLY)."""
    built = []
    for name in indexes_missing():
        with connection.cursor() as cur:
            cur.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            log.info("building index %s", name)
            cur.execute(_definition(name))
        built.append(name)
    return built
