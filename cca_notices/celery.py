import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cca_notices.settings")

app = Celery("cca_notices")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _outbox_sweep_on_start(sender, **kwargs):
    """A worker that starts (after an outage, a deploy) sends what the broker never carried."""
    sender.app.send_task("optouts.tasks.outbox_redeliver")
