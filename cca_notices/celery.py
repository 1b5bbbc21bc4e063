import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cca_notices.settings")

app = Celery("cca_notices")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
