import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail

from accounts.models import Channel, Status, StatusChange
from accounts.services.status import Actor
from optouts.models import Confirmation, OptOutRequest, Outcome, ReturnPath, ServiceRequestType
from optouts.services.intake import OptOutRefused, optout_quote, optout_submit
from optouts.services.reentry import add_months

pytestmark = pytest.mark.django_db
WEB = Actor("web")


def test_before_enrollment_cancels_the_pending_connect(make_account, today):
    account = make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 5, 2))
    d = optout_quote(account=account, request_date=today)
    assert d.outcome == Outcome.BEFORE_ENROLLMENT
    assert d.to_status == Status.OPTED_OUT_PRE
    assert d.service_request == ServiceRequestType.CANCEL
    assert d.effective_date == today
    assert d.fee == 0 and d.return_options == ()


def test_before_enrollment_past_the_cutoff_disconnects_at_the_next_read_without_fee(
    make_account, today
):
    # Enrollment on 03-20 is inside the 15-day cutoff of 03-10: the Connect is already gone.
    account = make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 3, 20))
    d = optout_quote(account=account, request_date=today)
    assert d.outcome == Outcome.BEFORE_ENROLLMENT
    assert d.service_request == ServiceRequestType.DISCONNECT
    assert d.effective_date == dt.date(2027, 4, 2)
    assert d.fee == 0


def test_free_window_has_no_fee_and_takes_effect_at_the_read_after_the_cutoff(make_account, today):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    d = optout_quote(account=account, request_date=today)
    assert d.outcome == Outcome.FREE_WINDOW
    assert d.free_window_ends == dt.date(2027, 4, 3)
    # 03-10 + 15 days = 03-25: the 04-02 read is the first it can catch.
    assert d.effective_date == dt.date(2027, 4, 2)
    assert d.fee == 0 and d.service_request == ServiceRequestType.DISCONNECT


def test_a_new_customers_free_window_runs_from_its_service_start(make_account, today):
    # Moved in: on CCA service from the first day of utility service, no enrollment read.
    account = make_account(
        status=Status.ENROLLED, enrollment_date=None, service_start_date=dt.date(2027, 1, 2)
    )
    d = optout_quote(account=account, request_date=today)
    assert d.free_window_ends == dt.date(2027, 3, 3) == account.free_window_ends()
    assert d.outcome == Outcome.AFTER_FREE_WINDOW and d.fee > 0
    inside = optout_quote(account=account, request_date=dt.date(2027, 3, 3))
    assert inside.outcome == Outcome.FREE_WINDOW
    # Neither date: a data gap, read in the customer's favour.
    unknown = make_account(status=Status.ENROLLED, enrollment_date=None, service_start_date=None)
    d = optout_quote(account=unknown, request_date=today)
    assert d.outcome == Outcome.FREE_WINDOW and d.free_window_ends is None


def test_request_inside_the_cutoff_moves_to_the_following_read(make_account):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    assert optout_quote(
        account=account, request_date=dt.date(2027, 3, 18)
    ).effective_date == dt.date(2027, 4, 2)
    assert optout_quote(
        account=account, request_date=dt.date(2027, 3, 19)
    ).effective_date == dt.date(2027, 5, 2)


def test_after_the_free_window_charges_the_fee_in_force_and_offers_two_ways_back(
    make_account, today
):
    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 11, 2))
    d = optout_quote(account=account, request_date=today)
    assert d.outcome == Outcome.AFTER_FREE_WINDOW
    assert d.to_status == Status.TERMINATED
    assert d.fee == Decimal("6.25")  # 2027 row: $5 admin + $1.25 cost recovery
    assert d.effective_date == dt.date(2027, 4, 2)
    advance, tbs = d.return_options
    assert (advance.path, advance.bundled_from, advance.no_rejoin_until) == (
        ReturnPath.ADVANCE_NOTICE,
        dt.date(2027, 10, 2),
        dt.date(2028, 10, 2),
    )
    assert (tbs.path, tbs.bundled_from, tbs.standard_rates_from, tbs.no_rejoin_until) == (
        ReturnPath.TRANSITIONAL,
        dt.date(2027, 4, 2),
        dt.date(2027, 10, 2),
        dt.date(2028, 4, 2),
    )


def test_enrolled_past_the_window_is_after_it(make_account, today):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 1, 2))
    assert optout_quote(account=account, request_date=today).outcome == Outcome.AFTER_FREE_WINDOW


def test_business_day_cutoff(make_account, program):
    program.cutoff_days, program.cutoff_unit = 5, "business"
    program.save()
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    # 2027-03-26 (Fri) + 5 business days = 04-02 (Cesar Chavez Day 03-31 is observed on Wed 03-31).
    assert optout_quote(
        account=account, request_date=dt.date(2027, 3, 24)
    ).effective_date == dt.date(2027, 4, 2)
    assert optout_quote(
        account=account, request_date=dt.date(2027, 3, 29)
    ).effective_date == dt.date(2027, 5, 2)


def test_refused_before_notice_when_the_program_says_so(make_account, program, today):
    program.accept_optouts_before_notice = False
    program.optout_refusal_message = "Opt-outs open on April 1."
    program.save()
    account = make_account(status=Status.ELIGIBLE)
    d = optout_quote(account=account, request_date=today)
    assert d.outcome == Outcome.REFUSED_BEFORE_NOTICE and not d.accepted
    with pytest.raises(OptOutRefused, match="April 1"):
        optout_submit(account=account, channel=Channel.WEB, actor=WEB)
    assert not OptOutRequest.objects.exists()
    account.refresh_from_db()
    assert account.status == Status.ELIGIBLE


def test_moving_out_closes_without_fee(make_account, today):
    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    sub = optout_submit(
        account=account, channel=Channel.PHONE, actor=Actor("agent"), moving_out=True
    )
    assert sub.request.outcome == Outcome.MOVED_OUT and sub.request.fee_amount == 0
    account.refresh_from_db()
    assert account.status == Status.MOVED_OUT


def test_submit_records_the_decision_and_moves_the_status(
    make_account, today, django_capture_on_commit_callbacks
):
    account = make_account(
        status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 11, 2), language="es"
    )
    with django_capture_on_commit_callbacks(execute=True):
        sub = optout_submit(
            account=account, channel=Channel.WEB, actor=WEB, return_path=ReturnPath.TRANSITIONAL
        )
    r = sub.request
    assert sub.created
    assert len(r.confirmation_code) == 10 and r.confirmation_code.isdigit()
    assert (r.outcome, r.fee_amount, r.return_path) == (
        Outcome.AFTER_FREE_WINDOW,
        Decimal("6.25"),
        ReturnPath.TRANSITIONAL,
    )
    assert r.fee_schedule.effective_from == dt.date(2027, 1, 1)
    assert r.bundled_from == dt.date(2027, 4, 2) and r.language == "es"
    account.refresh_from_db()
    assert account.status == Status.TERMINATED
    change = StatusChange.objects.get(account=account)
    assert (change.channel, change.actor_name, r.status_change_id) == (
        Channel.WEB,
        "web",
        change.pk,
    )
    # The confirmation went out after commit, in the customer's language.
    assert len(mail.outbox) == 1
    assert r.confirmation_code in mail.outbox[0].subject
    assert "Código de confirmación" in mail.outbox[0].body
    conf = Confirmation.objects.get(optout=r)
    assert (conf.method, conf.status) == ("email", "sent") and conf.sent_at is not None


def test_a_broker_outage_after_commit_does_not_fail_the_recorded_opt_out(
    make_account, today, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    from optouts.services.confirmations import confirmation_send_task

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(confirmation_send_task, "delay", broker_down)
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    with django_capture_on_commit_callbacks(execute=True):
        sub = optout_submit(account=account, channel=Channel.WEB, actor=WEB)
    assert sub.created and OptOutRequest.objects.filter(pk=sub.request.pk).exists()
    assert "redis is down" in caplog.text  # logged, not raised
    assert (
        Confirmation.objects.get(optout=sub.request).status == Confirmation.Status.PENDING
    )  # the outbox keeps it


def test_repeated_submission_returns_the_first_confirmation(make_account, today):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    first = optout_submit(account=account, channel=Channel.WEB, actor=WEB)
    again = optout_submit(account=account, channel=Channel.IVR, actor=Actor("ivr"))
    assert again.request.confirmation_code == first.request.confirmation_code and not again.created
    assert OptOutRequest.objects.count() == 1
    assert StatusChange.objects.filter(account=account).count() == 1


def test_already_opted_out_without_a_request_row_is_refused(make_account, today):
    account = make_account(status=Status.OPTED_OUT_PRE)
    with pytest.raises(OptOutRefused) as exc:
        optout_submit(account=account, channel=Channel.WEB, actor=WEB)
    assert exc.value.decision.outcome == Outcome.ALREADY_OPTED_OUT


def test_missing_read_schedule_still_records_the_request(make_account, program, today):
    account = make_account(
        status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2), read_cycle=7
    )
    r = optout_submit(account=account, channel=Channel.WEB, actor=WEB).request
    assert r.effective_date is None and r.earliest_read_date == dt.date(2027, 3, 25)


def test_bad_return_path_writes_nothing(make_account, today):
    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    with pytest.raises(ValueError, match="return_path"):
        optout_submit(account=account, channel=Channel.WEB, actor=WEB, return_path="someday")
    account.refresh_from_db()
    assert account.status == Status.PARTICIPANT and not StatusChange.objects.exists()


def test_sms_without_twilio_settings_is_not_sent_and_says_why(
    make_account, today, settings, django_capture_on_commit_callbacks, caplog
):
    settings.TWILIO_ACCOUNT_SID = ""
    account = make_account(status=Status.NOTIFIED, email="", phone="+14155550123")
    with django_capture_on_commit_callbacks(execute=True):
        r = optout_submit(account=account, channel=Channel.WEB, actor=WEB).request
    assert "SMS not sent" in caplog.text
    assert r.confirmations.get(method="sms").status == "pending"
    assert not mail.outbox


@pytest.mark.parametrize(
    "day,months,expected",
    [
        (dt.date(2027, 8, 31), 6, dt.date(2028, 2, 29)),
        (dt.date(2027, 12, 15), 1, dt.date(2028, 1, 15)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected
