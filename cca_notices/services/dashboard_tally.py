"""The dashboard's pre-aggregated tallies of a program: the notices tally (notices per
enrollment date, kind, status, mail date and "mailed after its mail date", what notice
compliance rolls up) and, through accounts.services.account_tally, the accounts tally (what the
opt-out rates roll up). How a tally is rebuilt and when it is trusted: accounts.services.tally.

Kept current two ways: the beat rebuilds every program's tallies every REFRESH_EVERY, and the
bulk changes — a schedule run, the daily due work, a batch claim, a mail-house report, a moves
file, an enrollment reconciliation — queue a rebuild of their program once they commit
(`dashboard_tallies_refresh_after_commit`, one explicit call in each). Single-row changes (an
opt-out, a rejoin, an admin edit) wait for the beat; the dashboard says "as of" when.
"""

from __future__ import annotations

from collections.abc import Iterable

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.models import Program
from accounts.services.account_tally import ACCOUNTS, account_tally_refresh
from accounts.services.tally import (
    Refreshed,
    tally_queueing_is_paused,
    tally_refresh_wanted,
    tally_replace,
)
from cca_notices.models import Notice, NoticeTally

NOTICES = "notices"


def _sql() -> str:
    t, n = NoticeTally._meta.db_table, Notice._meta.db_table
    # NULL > date is NULL: a notice not mailed is not "mailed late" (as the live query reads it).
    late = "CASE WHEN mailed_on > mail_date THEN TRUE ELSE FALSE END"
    return (
        f"INSERT INTO {t} (program_id, enrollment_date, kind, status, mail_date, mailed_late, "
        f"notices) SELECT program_id, enrollment_date, kind, status, mail_date, {late}, COUNT(*) "
        f"FROM {n} WHERE program_id = %s "
        f"GROUP BY program_id, enrollment_date, kind, status, mail_date, {late}"
    )


def notice_tally_refresh(*, program_id: int) -> Refreshed:
    """Rebuild the program's notices tally from its notices (one scan, one transaction)."""
    return tally_replace(
        program_id=program_id, name=NOTICES, model=NoticeTally, sql=_sql(), params=[program_id]
    )


def notice_tally_groups(*, program_id: int) -> list[tuple]:
    """The tally's rows: (enrollment date, kind, status, mail date, mailed late, notices)."""
    return list(
        NoticeTally.objects.filter(program_id=program_id)
        .order_by()
        .values_list("enrollment_date", "kind", "status", "mail_date", "mailed_late", "notices")
    )


REFRESHES = {ACCOUNTS: account_tally_refresh, NOTICES: notice_tally_refresh}


def dashboard_tallies_refresh(*, program_id: int) -> dict[str, Refreshed]:
    """Both tallies of a program, each in its own transaction."""
    return {name: refresh(program_id=program_id) for name, refresh in REFRESHES.items()}


@shared_task(name="cca_notices.tasks.dashboard_tallies_refresh")
def dashboard_tallies_task(
    program_id: int, requested_at: str | None = None, names: list[str] | None = None
) -> dict[str, float]:
    done = {}
    for name in names or list(REFRESHES):
        # A rebuild that began after this change committed already counts it.
        if tally_refresh_wanted(program_id=program_id, name=name, requested_at=requested_at):
            done[name] = REFRESHES[name](program_id=program_id).seconds
    return done


@shared_task(name="cca_notices.tasks.dashboard_tallies_refresh_all")
def dashboard_tallies_all_task() -> dict[int, dict[str, float]]:
    """The beat's run: every program's tallies."""
    return {
        pk: {name: r.seconds for name, r in dashboard_tallies_refresh(program_id=pk).items()}
        for pk in Program.objects.order_by("pk").values_list("pk", flat=True)
    }


def dashboard_tallies_refresh_after_commit(
    *, program_ids: Iterable[int], names: Iterable[str] = (ACCOUNTS, NOTICES)
) -> None:
    """Once the caller's transaction commits, queue a rebuild of these programs' tallies (`names`:
    only those the change can alter). robust: a broker outage must not fail the change itself;
    the beat's next run catches up."""
    ids = sorted(set(program_ids))
    which = sorted(set(names))

    def queue() -> None:
        at = timezone.now().isoformat()
        for pk in ids:
            dashboard_tallies_task.delay(pk, at, which)

    if ids and not tally_queueing_is_paused():
        transaction.on_commit(queue, robust=True)
