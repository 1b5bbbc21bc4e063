"""The outbox sweep (optouts.services.outbox): what a broker outage kept from leaving goes out
once, and nothing else is touched."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Channel
from accounts.services.status import Actor
from cca_notices.beat_schedule import BEAT_SCHEDULE
from cca_notices.celery import _outbox_sweep_on_start
from optouts.models import Confirmation
from optouts.services.intake import optout_submit
from optouts.services.outbox import outbox_redeliver

pytestmark = pytest.mark.django_db
C = Confirmation


def test_the_sweep_sends_pending_email_once_and_leaves_letters(make_account, today):
    # No phone: an SMS's fate without Twilio credentials is the confirmation service's rule.
    by_email = optout_submit(
        account=make_account(phone=""), channel=Channel.WEB, actor=Actor("web")
    ).request
    by_letter = optout_submit(
        account=make_account(email="", phone=""), channel=Channel.WEB, actor=Actor("web")
    ).request
    fresh = optout_submit(
        account=make_account(phone=""), channel=Channel.WEB, actor=Actor("web")
    ).request
    hour_ago = timezone.now() - dt.timedelta(hours=1)
    C.objects.exclude(optout=fresh).update(created_at=hour_ago)
    mail.outbox.clear()  # the tests run tasks eagerly: undo what the after-commit queue sent
    C.objects.update(status=C.Status.PENDING, sent_at=None)

    counts = outbox_redeliver(older_than=dt.timedelta(minutes=1))
    assert counts == {"sent": 1, "failed": 0}
    assert C.objects.get(optout=by_email).status == C.Status.SENT
    assert C.objects.get(optout=by_letter).status == C.Status.PENDING  # the daily run's job
    assert C.objects.get(optout=fresh).status == C.Status.PENDING  # its own task's turn first
    assert [m.to for m in mail.outbox] == [[by_email.contact_email]]
    assert outbox_redeliver(older_than=dt.timedelta(minutes=1)) == {"sent": 0, "failed": 0}


def test_beat_runs_the_heartbeat_and_the_sweep_and_a_starting_worker_sweeps():
    assert BEAT_SCHEDULE["heartbeat"]["task"] == "cca_notices.health.heartbeat"
    assert BEAT_SCHEDULE["outbox-redeliver"]["task"] == "optouts.tasks.outbox_redeliver"
    sent = []
    consumer = SimpleNamespace(app=SimpleNamespace(send_task=sent.append))
    _outbox_sweep_on_start(sender=consumer)
    assert sent == ["optouts.tasks.outbox_redeliver"]
