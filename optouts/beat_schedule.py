"""The opt-out app's daily job, merged into the project's schedule by cca_notices/beat_schedule.py.
It runs after notices-daily (02:15), so accounts enrolled that night get their Connect queued."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    "optouts-daily": {"task": "optouts.tasks.optouts_daily", "schedule": crontab(hour=3, minute=0)},
}
