# Stored customer keys recomputed with the key of every script (accounts.normalize.customer_key):
# before it, every Chinese, Korean or other non-Latin name reduced to an empty name part, so two
# such customers at one premises shared a key. An ASCII name gives the same key either way, so only
# names with a non-ASCII character are read. A reload rewrites only the accounts it changes, which
# would leave the old keys in place for good (docs/rules.md R-NO-REENROLL).

from django.db import migrations, transaction

from accounts.normalize import customer_key

BATCH = 2000
# Any character outside ASCII; the same pattern on PostgreSQL (~) and SQLite (Django's REGEXP).
NON_ASCII = r"[^\x01-\x7f]"


def customer_keys_recompute(apps, schema_editor, batch: int = BATCH) -> int:
    """Rewrite the key of every account with a non-ASCII name whose stored key differs from the
    importer's; returns how many were rewritten. Batches by primary key, each committed on its
    own: no long-held cursor, and a batch's locks last only for that batch."""
    ServiceAccount = apps.get_model("accounts", "ServiceAccount")
    db = schema_editor.connection
    # Plain UPDATEs by id: bulk_update builds a CASE with a branch per row in Python, and took
    # 53 s against these 20 s for 200,000 keys of a million accounts on PostgreSQL.
    update = f"UPDATE {ServiceAccount._meta.db_table} SET customer_key = %s WHERE id = %s"
    accounts = ServiceAccount.objects.using(db.alias)
    names = accounts.filter(customer_name__regex=NON_ASCII).order_by("pk")
    last, rewritten = 0, 0
    while True:
        rows = list(
            names.filter(pk__gt=last).values_list(
                "pk", "customer_name", "service_address", "service_zip", "customer_key"
            )[:batch]
        )
        if not rows:
            return rewritten
        last = rows[-1][0]
        stale = [
            (key, pk)
            for pk, name, address, zip_code, stored in rows
            if (key := customer_key(name, address, zip_code)) != stored
        ]
        if stale:
            with transaction.atomic(using=db.alias), db.cursor() as cursor:
                cursor.executemany(update, stale)
            rewritten += len(stale)


class Migration(migrations.Migration):
    # Each batch commits on its own (above): a million accounts are not one transaction.
    atomic = False

    dependencies = [
        ("accounts", "0014_account_tally"),
    ]

    operations = [
        migrations.RunPython(customer_keys_recompute, migrations.RunPython.noop, elidable=True),
    ]
