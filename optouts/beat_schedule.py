"""The opt-out app's daily job. cca_notices/beat_schedule.py (not this app's file) merges it:
    from optouts.beat_schedule import BEAT_SCHEDULE as OPTOUTS_BEAT
    BEAT_SCHEDULE.update(OPTOUTS_BEAT)
It runs after notices-daily (02:15), so accounts enrolled that night get their Connect queued."""
from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    "optouts-daily": {"task": "optouts.tasks.optouts_daily", "schedule": crontab(hour=3, minute=0)},
}
