"""Thin Celery tasks for the registry."""

from celery import shared_task

from accounts.services.account_tally import account_tally_task
from accounts.services.deferred_indexes import indexes_ensure

# The accounts tally's rebuild after an import (defined beside its service).
__all__ = ["account_tally_task", "indexes_ensure_task"]


@shared_task(name="accounts.tasks.indexes_ensure")
def indexes_ensure_task() -> list[str]:
    return indexes_ensure()
