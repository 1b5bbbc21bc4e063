"""Daily jobs (celery beat). Each job picks up everything due or overdue from stored due dates,
so a day the beat missed is caught up the next day. Times are America/Los_Angeles."""
from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    # Before the mail-batch build of the morning, so new customers' notices are already there.
    "notices-daily": {"task": "cca_notices.tasks.notices_daily", "schedule": crontab(hour=2, minute=15)},
}
