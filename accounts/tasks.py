"""Thin Celery tasks for the registry."""

from celery import shared_task

from accounts.services.deferred_indexes import indexes_ensure


@shared_task(name="accounts.tasks.indexes_ensure")
def indexes_ensure_task() -> list[str]:
    return indexes_ensure()
