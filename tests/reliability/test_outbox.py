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


def test_sms_without_twilio_never_fills_the_sweep_or_ages_readiness(make_account, settings):
    """1,000 texts that cannot leave must not hold back the e-mail behind them."""
    from optouts.services.outbox import outbox_oldest

    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM_NUMBER = ""
    texted = optout_submit(
        account=make_account(phone="+14155550123", email=""),
        channel=Channel.WEB,
        actor=Actor("web"),
    ).request
    emailed = optout_submit(
        account=make_account(phone=""), channel=Channel.WEB, actor=Actor("web")
    ).request
    hour_ago = timezone.now() - dt.timedelta(hours=1)
    C.objects.update(created_at=hour_ago, status=C.Status.PENDING, sent_at=None)
    sms = C.objects.get(optout=texted, method=C.Method.SMS)
    C.objects.filter(pk=sms.pk).update(created_at=hour_ago - dt.timedelta(hours=1))
    mail.outbox.clear()
    counts = outbox_redeliver(older_than=dt.timedelta(minutes=1), limit=1)
    assert counts == {"sent": 1, "failed": 0}  # the e-mail, though the SMS is older
    assert C.objects.get(optout=emailed, method=C.Method.EMAIL).status == C.Status.SENT
    sms.refresh_from_db()
    assert sms.status == C.Status.PENDING and sms.sent_at is None  # waits, never "sent"
    assert outbox_oldest()["confirmation"] is None  # nothing this deployment can send waits
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "token"
    settings.TWILIO_FROM_NUMBER = "+14155550100"
    assert outbox_oldest()["confirmation"] == sms.created_at  # now it can: it is waiting


def test_a_confirmation_refused_every_time_stops_retrying_and_waits_for_staff(
    make_account, settings, monkeypatch
):
    import optouts.services.confirmations as confirmations

    settings.CONFIRMATION_MAX_ATTEMPTS = 3
    optout = optout_submit(
        account=make_account(phone=""), channel=Channel.WEB, actor=Actor("web")
    ).request
    row = C.objects.get(optout=optout, method=C.Method.EMAIL)
    C.objects.filter(pk=row.pk).update(status=C.Status.PENDING, sent_at=None, attempts=0)

    def refuse(conf):
        raise OSError("550 mailbox unavailable")

    monkeypatch.setattr(confirmations, "_send_email", refuse)
    for attempt in (1, 2, 3):
        with pytest.raises(OSError):
            confirmations.confirmation_send(confirmation_id=row.pk)
        row.refresh_from_db()
        assert row.attempts == attempt and row.claimed_at is None
        assert row.status == (C.Status.FAILED if attempt == 3 else C.Status.PENDING)
    assert row.last_error == "550 mailbox unavailable" and row.sent_at is None
    assert confirmations.confirmation_send(confirmation_id=row.pk) is False  # no 4th try
    assert outbox_redeliver(older_than=dt.timedelta(0)) == {"sent": 0, "failed": 0}
