"""The accounts tally: accounts per program, phase, customer class, service city and status,
the groups the dashboard's and the board report's opt-out rates roll up (accounts.services.tally
says how a tally is rebuilt and when it is trusted).

Rebuilt by the beat (cca_notices.services.dashboard_tally, every REFRESH_EVERY) and, after an
import, by the task queued here once the import commits.
"""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.models import AccountTally, ServiceAccount
from accounts.services.tally import (
    Refreshed,
    tally_queueing_is_paused,
    tally_refresh_wanted,
    tally_replace,
)

ACCOUNTS = "accounts"


def _sql() -> str:
    t, a = AccountTally._meta.db_table, ServiceAccount._meta.db_table
    return (
        f"INSERT INTO {t} (program_id, phase_id, customer_class, service_city, status, accounts) "
        f"SELECT program_id, phase_id, customer_class, service_city, status, COUNT(*) FROM {a} "
        "WHERE program_id = %s "
        "GROUP BY program_id, phase_id, customer_class, service_city, status"
    )


def account_tally_refresh(*, program_id: int) -> Refreshed:
    """Rebuild the program's accounts tally from its accounts (one scan, one transaction)."""
    return tally_replace(
        program_id=program_id, name=ACCOUNTS, model=AccountTally, sql=_sql(), params=[program_id]
    )


def account_tally_groups(*, program_id: int) -> list[tuple[int | None, str, str, str, int]]:
    """The tally's rows: (phase id, class, city, status, accounts)."""
    return list(
        AccountTally.objects.filter(program_id=program_id)
        .order_by()
        .values_list("phase_id", "customer_class", "service_city", "status", "accounts")
    )


@shared_task(name="accounts.tasks.account_tally_refresh")
def account_tally_task(program_id: int, requested_at: str | None = None) -> float | None:
    if not tally_refresh_wanted(program_id=program_id, name=ACCOUNTS, requested_at=requested_at):
        return None
    return account_tally_refresh(program_id=program_id).seconds


def account_tally_refresh_after_commit(*, program_id: int) -> None:
    """Once the caller's transaction commits, queue a rebuild of the program's accounts tally.
    robust: a broker outage must not fail the change itself; the beat's next run catches up."""

    def queue() -> None:
        account_tally_task.delay(program_id, timezone.now().isoformat())

    if not tally_queueing_is_paused():
        transaction.on_commit(queue, robust=True)
