from django.core.management.base import BaseCommand
from django.db import connection

from accounts.services.deferred_indexes import deferred_index_names, indexes_ensure


class Command(BaseCommand):
    help = (
        "Build the account table's look-up and search indexes that are missing or invalid "
        "(a program's first load queues this itself; see docs/operations.md)."
    )

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            self.stdout.write(
                "these indexes are PostgreSQL's (SQLite keeps its own): nothing to do"
            )
            return
        built = indexes_ensure()
        for name in built:
            self.stdout.write(f"built {name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"indexes: {len(built)} built, "
                f"{len(deferred_index_names()) - len(built)} already in place"
            )
        )
