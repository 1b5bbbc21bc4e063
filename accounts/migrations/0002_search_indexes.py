"""Trigram indexes so staff can search a million accounts by part of a name or address.

PostgreSQL only: SQLite (the embedded default, demo-sized) scans instead. The index expressions
match what Django emits for `icontains` on PostgreSQL: UPPER(col::text) LIKE UPPER('%q%').
"""
from django.db import migrations

INDEXES = {
    "account_name_trgm": "customer_name",
    "account_address_trgm": "service_address",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON accounts_serviceaccount '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
