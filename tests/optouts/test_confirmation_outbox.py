"""An opt-out's e-mail and SMS go out only through its Confirmation rows (the outbox): queued by
id after commit, each claimed with a conditional update, a failure kept on the row."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Channel, Status
from accounts.services.status import Actor
from optouts.models import Confirmation
from optouts.services import confirmations
from optouts.services.confirmations import confirmation_send, confirmations_send_due
from optouts.services.intake import optout_submit

pytestmark = pytest.mark.django_db
WEB = Actor("web")


def submit(account, callbacks):
    with callbacks(execute=True):
        return optout_submit(account=account, channel=Channel.WEB, actor=WEB).request


def test_an_opt_out_with_an_address_and_a_phone_gets_an_email_and_an_sms_row_each_sent_once(
    make_account, today, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "token"
    settings.TWILIO_FROM_NUMBER = "+14155550100"
    texts = []

    class Client:
        def __init__(self, sid, token):
            self.messages = self

        def create(self, **kw):
            texts.append(kw)

    monkeypatch.setattr("twilio.rest.Client", Client)
    account = make_account(status=Status.NOTIFIED, phone="+14155550123")
    optout = submit(account, django_capture_on_commit_callbacks)
    rows = {c.method: c for c in Confirmation.objects.filter(optout=optout)}
    assert set(rows) == {"email", "sms"}
    assert (rows["email"].email, rows["sms"].phone) == ("customer@example.com", "+14155550123")
    assert all(c.status == "sent" and c.sent_at and c.attempts == 1 for c in rows.values())
    assert rows["sms"].due_date == rows["email"].due_date == today + dt.timedelta(days=7)
    assert len(mail.outbox) == 1 and len(texts) == 1
    assert confirmations_send_due()["sent"] == 0 and len(mail.outbox) == 1 and len(texts) == 1


def test_an_sms_without_twilio_settings_stays_pending_with_the_reason_never_marked_sent(
    make_account, today, settings, django_capture_on_commit_callbacks
):
    settings.TWILIO_ACCOUNT_SID = ""
    optout = submit(
        make_account(status=Status.NOTIFIED, phone="+14155550123"),
        django_capture_on_commit_callbacks,
    )
    sms = Confirmation.objects.get(optout=optout, method="sms")
    assert (sms.status, sms.sent_at, sms.claimed_at, sms.attempts) == ("pending", None, None, 0)
    assert "TWILIO_ACCOUNT_SID" in sms.last_error
    counts = confirmations_send_due()
    assert (counts["sms_unconfigured"], counts["texted"]) == (1, 0)
    assert Confirmation.objects.get(pk=sms.pk).status == "pending"


def test_sms_goes_through_twilio_to_the_rows_phone_when_configured(
    make_account, today, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "token"
    settings.TWILIO_FROM_NUMBER = "+14155550100"
    sent = []

    class Messages:
        def create(self, **kw):
            sent.append(kw)

    class Client:
        def __init__(self, sid, token):
            self.messages = Messages()

    monkeypatch.setattr("twilio.rest.Client", Client)
    optout = submit(
        make_account(email="", phone="+14155550123", language="es"),
        django_capture_on_commit_callbacks,
    )
    assert [(m["to"], m["from_"]) for m in sent] == [("+14155550123", "+14155550100")]
    assert optout.confirmation_code in sent[0]["body"]
    sms = Confirmation.objects.get(optout=optout, method="sms")
    assert sms.status == "sent"
    # No address: the opt-out's confirmation is a letter, issued by the daily run.
    assert Confirmation.objects.get(optout=optout, method="letter").status == "pending"


def test_a_claimed_row_is_not_sent_again(make_account, today):
    optout = optout_submit(account=make_account(), channel=Channel.WEB, actor=WEB).request
    conf = Confirmation.objects.get(optout=optout)
    assert conf.status == "pending"  # queued after commit: the test's transaction never commits
    Confirmation.objects.filter(pk=conf.pk).update(
        claimed_at=dt.datetime(2027, 3, 10, tzinfo=dt.UTC)
    )
    assert confirmation_send(confirmation_id=conf.pk) is False and not mail.outbox
    Confirmation.objects.filter(pk=conf.pk).update(claimed_at=None)
    assert confirmation_send(confirmation_id=conf.pk) is True
    assert confirmation_send(confirmation_id=conf.pk) is False
    assert len(mail.outbox) == 1


def test_a_claim_whose_lease_ran_out_is_taken_again(make_account, today, settings):
    """A worker killed after its claim never releases it; the lease lets the next run send it."""
    optout = optout_submit(account=make_account(), channel=Channel.WEB, actor=WEB).request
    conf = Confirmation.objects.get(optout=optout)
    crashed = timezone.now() - dt.timedelta(seconds=settings.CONFIRMATION_CLAIM_LEASE_SECONDS - 5)
    Confirmation.objects.filter(pk=conf.pk).update(claimed_at=crashed, attempts=1)
    assert confirmations_send_due()["sent"] == 0 and not mail.outbox  # the lease still holds
    Confirmation.objects.filter(pk=conf.pk).update(claimed_at=crashed - dt.timedelta(seconds=10))
    assert confirmations_send_due()["emailed"] == 1
    conf.refresh_from_db()
    assert (conf.status, conf.attempts, len(mail.outbox)) == ("sent", 2, 1)


def test_a_failure_releases_the_claim_and_keeps_the_error_for_the_next_run(
    make_account, today, monkeypatch
):
    optout = optout_submit(account=make_account(), channel=Channel.WEB, actor=WEB).request
    conf = Confirmation.objects.get(optout=optout)

    def down(*args, **kwargs):
        raise OSError("smtp is down")

    monkeypatch.setattr(confirmations, "send_mail", down)
    with pytest.raises(OSError):
        confirmation_send(confirmation_id=conf.pk)
    conf.refresh_from_db()
    assert (conf.status, conf.claimed_at, conf.attempts) == ("pending", None, 1)
    assert conf.last_error == "smtp is down"
    assert confirmations_send_due()["failed"] == 1
    monkeypatch.undo()
    assert confirmations_send_due()["emailed"] == 1
    conf.refresh_from_db()
    assert (conf.status, conf.attempts, conf.last_error) == ("sent", 3, "")
    assert len(mail.outbox) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_confirmation_once(make_account, today):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    optout = optout_submit(account=make_account(), channel=Channel.WEB, actor=WEB).request
    Confirmation.objects.filter(optout=optout).update(
        status="pending", sent_at=None, claimed_at=None
    )
    mail.outbox.clear()
    pk = Confirmation.objects.get(optout=optout).pk
    barrier = Barrier(2)

    def run(_):
        try:
            barrier.wait()
            return confirmation_send(confirmation_id=pk)
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(run, range(2)))
    assert results == [False, True]
    assert len(mail.outbox) == 1
