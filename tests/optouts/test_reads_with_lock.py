"""optout_submit reads the read dates, the fee schedule and the live Connect in the statement that
locks the account (accounts/services/rows.py `row_lock_with_rows`). What it records must be what
the same rules decide when they read each row themselves (`optout_quote`, the preview)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Channel, FeeSchedule, ReadDate, ServiceAccount, Status
from accounts.services import rows
from accounts.services.reads import READS_AHEAD, NoReadDate, effective_read_date
from accounts.services.rows import RowsWith, row_lock_with_rows
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
    # 100 days: past the READS_AHEAD read dates read with the lock, so the schedule is read again.
    "free window, cutoff beyond the dates read": dict(
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


def test_an_opt_out_reads_and_writes_in_two_statements(make_account, today, monkeypatch):
    # The lock with everything the rules read, then every row in one write (BEGIN and COMMIT
    # aside), the sent Connect marked superseded in it too.
    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    connect = _connect(account, SR.Status.ACCEPTED)
    sent = []
    real = rows._fetchone
    monkeypatch.setattr(
        rows, "_fetchone", lambda conn, sql, params: sent.append(sql) or real(conn, sql, params)
    )

    with CaptureQueriesContext(connection) as orm:
        request = optout_submit(account=account, channel=Channel.WEB, actor=AGENT).request

    # One read (the lock); on PostgreSQL the rows go in one more statement, elsewhere one by one.
    assert [sql.split()[0] for sql in sent][:2] == (
        ["SELECT", "WITH"] if connection.vendor == "postgresql" else ["SELECT"]
    )
    assert [sql.split()[0] for sql in sent].count("SELECT") == 1
    if connection.vendor == "postgresql":
        assert len(sent) == 2
        assert [
            q["sql"]
            for q in orm.captured_queries
            if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
        ] == []
    assert (
        request.fee_amount == Decimal("6.25")
        and SR.objects.get(optout=request).type == SR.Type.DISCONNECT
    )
    connect.refresh_from_db()
    assert connect.superseded and connect.status == SR.Status.ACCEPTED


def test_rows_read_with_the_lock_come_in_order_with_only_their_fields(make_account, program):
    account = make_account(status=Status.ENROLLED, read_cycle=1)
    locked, found = row_lock_with_rows(
        ServiceAccount,
        account.pk,
        parent_field="program",
        rows={
            "reads": RowsWith(
                ReadDate,
                where="utility_id = p.utility_id AND read_cycle = c.read_cycle AND read_date >= %s",
                order_by="read_date",
                fields=("read_date",),
                params=(dt.date(2029, 11, 1),),
                count=3,
            ),
            "none": RowsWith(
                FeeSchedule,
                where="program_id = c.program_id AND customer_class = %s",
                order_by="id",
                fields=("id", "admin_fee"),
                params=("no-such-class",),
            ),
        },
    )
    assert locked.pk == account.pk and locked.program.pk == program.pk
    # Cycle 1 reads on the 2nd of each month through 2029: two dates left, not three.
    assert [r.read_date for r in found["reads"]] == [dt.date(2029, 11, 2), dt.date(2029, 12, 2)]
    assert found["reads"][0].get_deferred_fields() >= {"utility_id", "read_cycle"}
    assert found["none"] == []


@pytest.mark.parametrize(
    "fields, why",
    [
        (("admin_fee", "id"), "field order"),
        (("note",), None),  # note is blank but never NULL: allowed
    ],
)
def test_rows_with_the_lock_refuse_fields_that_cannot_be_read_back(fields, why, make_account):
    account = make_account()
    ask = {
        "x": RowsWith(FeeSchedule, where="program_id = c.program_id", order_by="id", fields=fields)
    }
    if why:
        with pytest.raises(ValueError, match=why):
            row_lock_with_rows(ServiceAccount, account.pk, parent_field="program", rows=ask)
    else:
        assert (
            len(
                row_lock_with_rows(ServiceAccount, account.pk, parent_field="program", rows=ask)[1][
                    "x"
                ]
            )
            == 1
        )


def test_a_first_field_that_can_be_null_is_refused(make_account):
    account = make_account()
    ask = {"x": RowsWith(SR, where="account_id = c.id", order_by="id", fields=("effective_date",))}
    with pytest.raises(ValueError, match="can be NULL"):
        row_lock_with_rows(ServiceAccount, account.pk, parent_field="program", rows=ask)


def test_read_dates_given_are_used_only_as_far_as_they_reach(program, today):
    rows_ahead = [
        ReadDate(read_date=d)
        for d in (dt.date(2027, 3, 12), dt.date(2027, 4, 2), dt.date(2027, 5, 2))
    ]
    # 03-10 + 15 days = 03-25: the second date given.
    assert effective_read_date(
        program=program, read_cycle=1, request_date=today, ahead=rows_ahead
    ) == dt.date(2027, 4, 2)
    # Fewer than READS_AHEAD given and none late enough: there is none in the schedule either.
    with pytest.raises(NoReadDate):
        effective_read_date(program=program, read_cycle=1, request_date=today, ahead=rows_ahead[:1])
    # READS_AHEAD given and none late enough: the schedule is read (cycle 1 has 2027-04-02 on).
    program.cutoff_days = 70
    early = [ReadDate(read_date=dt.date(2027, 3, 11 + n)) for n in range(READS_AHEAD)]
    assert effective_read_date(
        program=program, read_cycle=1, request_date=today, ahead=early
    ) == dt.date(2027, 6, 2)
