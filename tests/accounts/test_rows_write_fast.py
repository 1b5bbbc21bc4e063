"""rows_write (accounts/services/rows.py) builds its statement once per shape of graph and skips
Django's value preparation where it is provably a no-op; what it writes must stay what the ORM
writes for the same rows."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Channel, FeeSchedule, Status, StatusChange
from accounts.services import rows
from accounts.services.rows import RowUpdate, rows_write
from optouts.models import Confirmation, FeeEntry, OptOutRequest, Outcome, ServiceRequest
from tests.factories import ServiceAccountFactory

pytestmark = pytest.mark.django_db
AT = dt.datetime(2027, 3, 10, 17, 30, 5, 123456, tzinfo=dt.UTC)
# Columns that necessarily differ between two writes of the same rows: compared by linkage.
OWN = {"id", "confirmation_code", "status_change_id", "optout_id"}


@pytest.fixture
def account(db):
    return ServiceAccountFactory(status=Status.PARTICIPANT, email="customer@example.com")


@pytest.fixture
def schedule(account):
    return FeeSchedule.objects.create(
        program=account.program,
        customer_class="residential",
        effective_from=dt.date(2027, 1, 1),
        admin_fee=Decimal("5.00"),
        cost_recovery_charge=Decimal("1.25"),
    )


def optout_rows(account, schedule, code, *, confirmations=1):
    """The rows an opt-out writes, unsaved, each child pointing at its parent as an instance."""
    change = StatusChange(
        account=account,
        from_status=Status.PARTICIPANT,
        to_status=Status.TERMINATED,
        at=AT,
        actor_name="agent",
        channel=Channel.PHONE,
    )
    request = OptOutRequest(
        program=account.program,
        account=account,
        confirmation_code=code,
        channel=Channel.PHONE,
        actor=None,
        actor_name="agent",
        received_at=AT,
        request_date=dt.date(2027, 3, 10),
        is_current=False,
        outcome=Outcome.AFTER_FREE_WINDOW,
        from_status="participant",
        to_status="terminated",
        status_change=change,
        enrollment_date=dt.date(2026, 11, 2),
        free_window_ends=dt.date(2027, 1, 2),
        effective_date=None,
        earliest_read_date=dt.date(2027, 4, 2),
        service_request="disconnect",
        fee_amount=Decimal("6.25"),
        admin_fee=Decimal("5.00"),
        cost_recovery_charge=Decimal("1.25"),
        fee_schedule=schedule,
        return_path="",
        language="es",
        contact_email="",
        contact_phone="",
        note="",
        fee_waived_at=None,
    )
    fee = FeeEntry(
        program=account.program,
        account=account,
        kind=FeeEntry.Kind.TERMINATION,
        optout=request,
        fee_schedule=schedule,
        customer_class="residential",
        admin_fee=Decimal("5"),
        cost_recovery_charge=Decimal("1.25"),
        amount=Decimal("6.25"),
        reason="termination",
        assessed_on=dt.date(2027, 3, 10),
        created_at=AT,
    )
    service_request = ServiceRequest(
        program=account.program,
        account=account,
        type="disconnect",
        source="optout",
        effective_date=None,
        optout=request,
        created_at=AT,
    )
    kinds = [Confirmation.Kind.TERMINATION, Confirmation.Kind.OPTOUT][:confirmations]
    owed = [
        Confirmation(
            program_id=account.program_id,
            account=account,
            kind=kind,
            method="email",
            optout=request,
            language="es",
            email="customer@example.com",
            created_at=AT,
            due_date=dt.date(2027, 3, 20),
        )
        for kind in kinds
    ]
    return [change, request, fee, service_request, *owed]


def sent_to_database(monkeypatch) -> list:
    """(sql, params) of each statement rows_write sends, still sent."""
    sent, fetch = [], rows._fetchone

    def fetchone(conn, sql, params):
        sent.append((sql, params))
        return fetch(conn, sql, params)

    monkeypatch.setattr(rows, "_fetchone", fetchone)
    return sent


def written(obj) -> dict:
    return {
        k: v for k, v in type(obj).objects.filter(pk=obj.pk).values().get().items() if k not in OWN
    }


def test_rows_write_writes_what_the_orm_writes(account):
    # A parent given unsaved and saved before the write: its key is taken from it then, as save does.
    schedule = FeeSchedule(
        program=account.program,
        customer_class="residential",
        effective_from=dt.date(2027, 1, 1),
        admin_fee=Decimal("5.00"),
    )
    fast = optout_rows(account, schedule, "1000000001")
    slow = optout_rows(account, schedule, "1000000002")
    schedule.save()
    rows_write(*fast)
    for obj in slow:
        obj.save(force_insert=True)

    for a, b in zip(fast, slow, strict=True):
        assert written(a) == written(b), type(a).__name__
    change, request, *children = fast
    assert OptOutRequest.objects.values_list("confirmation_code", "status_change_id").get(
        pk=request.pk
    ) == ("1000000001", change.pk)
    for child in children:
        assert (
            type(child).objects.values_list("optout_id", flat=True).get(pk=child.pk) == request.pk
        )
        assert child.optout_id == request.pk and not child._state.adding
    assert (
        OptOutRequest.objects.values_list("fee_schedule_id", flat=True).get(pk=request.pk)
        == schedule.pk
    )
    assert request.fee_schedule_id == schedule.pk and request.status_change_id == change.pk


@pytest.mark.postgres
def test_the_statement_is_built_once_per_shape(account, schedule, monkeypatch):
    sent = sent_to_database(monkeypatch)
    rows._write_plan.cache_clear()

    def write(code, **kw):
        update = RowUpdate(
            type(account),
            "UPDATE accounts_serviceaccount SET customer_name = %s WHERE id = %s",
            ("B", account.pk),
        )
        rows_write(update, *optout_rows(account, schedule, code, **kw))

    write("1000000001")
    write("1000000002")
    assert rows._write_plan.cache_info().currsize == 1
    (first, _), (second, _) = sent
    assert second is first  # the very text, not only an equal one
    write("1000000003", confirmations=2)
    assert rows._write_plan.cache_info().currsize == 2
    third = sent[2][0]
    assert third != first and third.count("INSERT INTO") == first.count("INSERT INTO") + 1
    assert OptOutRequest.objects.filter(account=account).count() == 3


def test_a_value_of_another_type_is_still_prepared_by_its_field(account, schedule, monkeypatch):
    sent = sent_to_database(monkeypatch)
    change, request, *_ = optout_rows(account, schedule, "1000000001")
    change.actor_name = 1234  # CharField: Django writes str(value)
    request.is_current = 0  # BooleanField: bool(value)
    request.request_date = dt.datetime(2027, 3, 10, 12, tzinfo=dt.UTC)  # DateField: the date
    rows_write(change, request)

    assert StatusChange.objects.get(pk=change.pk).actor_name == "1234"
    assert OptOutRequest.objects.values_list("is_current", "request_date").get(pk=request.pk) == (
        False,
        dt.date(2027, 3, 10),
    )
    if connection.vendor == "postgresql":  # elsewhere rows_write goes through rows_insert
        [(_, params)] = sent
        assert "1234" in params and 1234 not in params
        assert not any(type(p) is dt.datetime and p.hour == 12 for p in params)
