"""Daily jobs (celery beat). Each job picks up everything due or overdue from stored due dates,
so a day the beat missed is caught up the next day. Times are America/Los_Angeles."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    # Before the mail-batch build of the morning, so new customers' notices are already there.
    "notices-daily": {
        "task": "cca_notices.tasks.notices_daily",
        "schedule": crontab(hour=2, minute=15),
    },
    # After notices-daily (new customers' notices exist, leavers' notices are cancelled); files are
    # ready for the mail house at the start of the business day.
    "mail-batches-daily": {
        "task": "cca_notices.tasks.mail_batches_daily",
        "schedule": crontab(hour=3, minute=30),
    },
    # A program's first load queues the rebuild of the account table's look-up and search indexes;
    # should that task be lost (no worker, a restart), this puts them back. A no-op when they are
    # there.
    "indexes-daily": {
        "task": "accounts.tasks.indexes_ensure",
        "schedule": crontab(hour=1, minute=45),
    },
}

# The dashboard's tallies (opt-out rates, notice compliance), rebuilt set-based; the dashboard
# trusts one for accounts.services.tally.MAX_AGE (20 minutes) and computes live after that.
BEAT_SCHEDULE["dashboard-tallies"] = {
    "task": "cca_notices.tasks.dashboard_tallies_refresh_all",
    "schedule": 300.0,
}

# The beat's heartbeat (/readyz reads its age) and the outbox sweep that sends the confirmations
# a broker outage kept from leaving (optouts.services.outbox).
BEAT_SCHEDULE["heartbeat"] = {"task": "cca_notices.health.heartbeat", "schedule": 60.0}
BEAT_SCHEDULE["outbox-redeliver"] = {"task": "optouts.tasks.outbox_redeliver", "schedule": 300.0}

# The opt-out app's daily job (confirmations due, Connect requests for accounts enrolled overnight).
from optouts.beat_schedule import BEAT_SCHEDULE as OPTOUTS_BEAT  # noqa: E402

BEAT_SCHEDULE.update(OPTOUTS_BEAT)
