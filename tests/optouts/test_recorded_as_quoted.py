"""optout_submit records, under the account's lock, what `optout_quote` (the preview every
channel shows) decides for the same account and day, for every kind of account."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Channel, FeeSchedule, ServiceAccount, Status
from accounts.services.status import Actor
from optouts.models import OptOutRequest, ServiceRequest
from optouts.services.intake import optout_quote, optout_submit

pytestmark = pytest.mark.django_db
AGENT = Actor("agent")
SR = ServiceRequest


def _connect(account, status):
    return SR.objects.create(
        program_id=account.program_id,
        account=account,
        type=SR.Type.CONNECT,
        source=SR.Source.ENROLLMENT,
        effective_date=account.enrollment_date,
        status=status,
        created_at=timezone.now(),
    )


CASES = {
    "notified, Connect queued": dict(
        status=Status.NOTIFIED, enrollment=dt.date(2027, 5, 2), connect=SR.Status.QUEUED
    ),
    "notified, Connect sent": dict(
        status=Status.NOTIFIED, enrollment=dt.date(2027, 5, 2), connect=SR.Status.EXPORTED
    ),
    "notified, no Connect": dict(status=Status.NOTIFIED, enrollment=dt.date(2027, 5, 2)),
    "notified, past the cutoff": dict(
        status=Status.NOTIFIED, enrollment=dt.date(2027, 3, 20), connect=SR.Status.ACCEPTED
    ),
    "free window": dict(status=Status.ENROLLED, enrollment=dt.date(2027, 2, 2)),
    "free window, business-day cutoff": dict(
        status=Status.ENROLLED, enrollment=dt.date(2027, 2, 2), cutoff=(12, "business")
    ),
    # 100 days: the read taken is three reads after the request.
    "free window, cutoff far ahead": dict(
        status=Status.ENROLLED, enrollment=dt.date(2027, 2, 2), cutoff=(100, "calendar")
    ),
    "free window, no read schedule": dict(
        status=Status.ENROLLED, enrollment=dt.date(2027, 2, 2), cycle=7
    ),
    "after the window": dict(status=Status.PARTICIPANT, enrollment=dt.date(2026, 1, 2)),
    "after the window, business class": dict(
        status=Status.PARTICIPANT, enrollment=dt.date(2026, 1, 2), customer_class="small_commercial"
    ),
    "after the window, no fee schedule": dict(
        status=Status.REJOINED, enrollment=dt.date(2026, 1, 2), customer_class="industrial"
    ),
    "moving out": dict(status=Status.PARTICIPANT, enrollment=dt.date(2026, 1, 2), moving_out=True),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_what_is_recorded_is_what_the_rules_decide_reading_each_row_themselves(
    case, make_account, program, today
):
    if "cutoff" in case:
        program.cutoff_days, program.cutoff_unit = case["cutoff"]
        program.save()
    FeeSchedule.objects.create(
        program=program,
        customer_class="small_commercial",
        effective_from=dt.date(2027, 2, 1),
        admin_fee=Decimal("50.00"),
        cost_recovery_charge=Decimal("7.10"),
    )
    account = make_account(
        status=case["status"],
        enrollment_date=case["enrollment"],
        read_cycle=case.get("cycle", 1),
        customer_class=case.get("customer_class", "residential"),
    )
    connect = _connect(account, case["connect"]) if "connect" in case else None
    moving_out = case.get("moving_out", False)
    expected = optout_quote(
        account=ServiceAccount.objects.get(pk=account.pk), request_date=today, moving_out=moving_out
    )

    request = optout_submit(
        account=account, channel=Channel.PHONE, actor=AGENT, moving_out=moving_out
    ).request

    request = OptOutRequest.objects.get(pk=request.pk)
    assert (
        request.outcome,
        request.effective_date,
        request.earliest_read_date,
        request.service_request,
    ) == (
        expected.outcome,
        expected.effective_date,
        expected.earliest_read_date,
        expected.service_request,
    )
    assert (request.admin_fee, request.cost_recovery_charge, request.fee_schedule_id) == (
        expected.admin_fee,
        expected.cost_recovery_charge,
        expected.fee_schedule_id,
    )
    if connect is not None:
        connect.refresh_from_db()
        if case["connect"] == SR.Status.QUEUED:
            assert connect.status == SR.Status.WITHDRAWN  # never sent: withdrawn, nothing to cancel
            assert not SR.objects.filter(optout=request).exists()
        else:
            assert connect.superseded
            sent = SR.objects.get(optout=request)
            assert sent.cancels_id == (connect.pk if sent.type == SR.Type.CANCEL else None)


def test_the_account_is_locked_first_and_alone(make_account, today):
    # The lock comes before anything the rules read, so a second channel waits for the first
    # one's commit and then sees its request; the program row every opt-out shares stays free.
    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    connect = _connect(account, SR.Status.ACCEPTED)

    with CaptureQueriesContext(connection) as queries:
        request = optout_submit(account=account, channel=Channel.WEB, actor=AGENT).request

    sql = [q["sql"] for q in queries.captured_queries]
    sql = [q for q in sql if not q.startswith(("SAVEPOINT", "RELEASE", "BEGIN"))]
    assert sql[0].startswith("SELECT") and '"accounts_program"' in sql[0]
    if connection.features.has_select_for_update_of:
        assert sql[0].endswith('FOR UPDATE OF "accounts_serviceaccount"')
        assert sum("FOR UPDATE" in q for q in sql) == 1
    assert (
        request.fee_amount == Decimal("6.25")
        and SR.objects.get(optout=request).type == SR.Type.DISCONNECT
    )
    connect.refresh_from_db()
    assert connect.superseded and connect.status == SR.Status.ACCEPTED
