"""The daily jobs are registered with beat and point at tasks that exist."""

from django.conf import settings

from cca_notices.celery import app


def test_every_daily_job_is_scheduled_and_its_task_exists():
    app.loader.import_default_modules()
    names = set(settings.CELERY_BEAT_SCHEDULE)
    assert {"notices-daily", "mail-batches-daily", "optouts-daily"} <= names
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]


def test_a_worker_finds_the_confirmation_task_queued_after_commit():
    # Defined beside its service; the worker loads it through optouts.tasks.
    app.loader.import_default_modules()
    assert "optouts.tasks.confirmation_send" in app.tasks
