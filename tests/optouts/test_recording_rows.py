"""An opt-out's rows are written together (accounts/services/rows.py `rows_write`): every row
points at the ones it belongs to, and a failure part-way leaves nothing behind."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from accounts.models import Channel, ServiceAccount, Status, StatusChange
from accounts.services.rows import RowUpdate, row_first, rows_write
from accounts.services.status import Actor, account_transition_rows
from optouts.models import Confirmation, FeeEntry, OptOutRequest, ReentryRequest, ServiceRequest

pytestmark = pytest.mark.django_db
AGENT = Actor("agent")


def test_a_termination_writes_every_row_linked_to_the_request(make_account, today):
    from optouts.services.intake import optout_submit

    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 11, 2))
    request = optout_submit(account=account, channel=Channel.PHONE, actor=AGENT).request

    request = OptOutRequest.objects.get(pk=request.pk)
    change = StatusChange.objects.get(account=account)
    assert request.status_change_id == change.pk
    assert (change.from_status, change.to_status, change.channel) == (
        Status.PARTICIPANT,
        Status.TERMINATED,
        Channel.PHONE,
    )
    assert ServiceAccount.objects.get(pk=account.pk).status == Status.TERMINATED
    fee = FeeEntry.objects.get(account=account)
    assert fee.optout_id == request.pk and fee.amount == request.fee_amount
    assert ServiceRequest.objects.get(account=account).optout_id == request.pk
    reentry = ReentryRequest.objects.get(account=account)
    assert reentry.optout_id == request.pk
    confirmations = {c.kind: c for c in Confirmation.objects.filter(account=account)}
    assert confirmations["termination"].optout_id == request.pk
    assert (
        confirmations["reentry"].reentry_id == reentry.pk
        and confirmations["reentry"].optout_id is None
    )


def test_a_row_that_fails_leaves_none_of_the_others(make_account, today):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    with pytest.raises(IntegrityError), transaction.atomic():
        locked = ServiceAccount.objects.select_for_update().get(pk=account.pk)
        change, update = account_transition_rows(
            account=locked, to_status=Status.OPTED_OUT_FREE, channel=Channel.WEB, actor=AGENT
        )
        # A fee entry with neither an opt-out nor a rejoin breaks the ledger's check constraint.
        orphan = FeeEntry(
            program_id=account.program_id,
            account=account,
            kind=FeeEntry.Kind.TERMINATION,
            customer_class="residential",
            amount=1,
            assessed_on=today,
        )
        rows_write(update, change, orphan)
    assert ServiceAccount.objects.get(pk=account.pk).status == Status.ENROLLED
    assert not StatusChange.objects.filter(account=account).exists()
    assert not FeeEntry.objects.exists()


def test_an_update_alone_and_the_first_row_by_order(make_account):
    account = make_account(status=Status.NOTIFIED, customer_name="A")
    rows_write(
        RowUpdate(
            ServiceAccount,
            "UPDATE accounts_serviceaccount SET customer_name = %s WHERE id = %s",
            ("B", account.pk),
        )
    )
    assert ServiceAccount.objects.get(pk=account.pk).customer_name == "B"
    other = make_account(status=Status.NOTIFIED, customer_name="C")
    found = row_first(
        ServiceAccount, where="program_id = %s", params=[account.program_id], order_by="id DESC"
    )
    assert found.pk == other.pk and found.customer_name == "C"
    assert row_first(ServiceAccount, where="id = %s", params=[-1], order_by="id") is None


def test_a_row_pointing_at_a_parent_never_saved_is_refused(make_account, today):
    account = make_account(status=Status.ENROLLED)
    unsaved = OptOutRequest(account=account, program_id=account.program_id)
    fee = FeeEntry(
        program_id=account.program_id, account=account, optout=unsaved, amount=1, assessed_on=today
    )
    with pytest.raises(ValueError, match="unsaved"):  # the same refusal as Model.save gives
        rows_write(fee)
    assert not FeeEntry.objects.exists()


def test_a_transition_sets_a_related_row_given_as_an_instance(make_account, program):
    # What a rejoin does for an account with no product: the default product goes with the status.
    from accounts.services.status import account_transition

    account = make_account(status=Status.OPTED_OUT_PRE, product=None)
    product = program.products.get(is_default=True)
    account_transition(
        account=account,
        to_status=Status.REJOINED,
        channel=Channel.WEB,
        actor=AGENT,
        product=product,
    )
    assert ServiceAccount.objects.values_list("status", "product_id").get(pk=account.pk) == (
        Status.REJOINED,
        product.pk,
    )
    assert account.product == product


@pytest.mark.postgres
def test_the_recording_statements_are_prepared_on_the_server(make_account, today):
    """Django turns psycopg's prepared statements off unless the settings ask (prepare_threshold);
    without it `prepare=True` is silently ignored and every opt-out parses and plans its
    statements again (about 1 ms of database CPU)."""
    from django.db import connection

    from optouts.services.intake import optout_submit

    for _ in range(2):
        account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
        optout_submit(account=account, channel=Channel.WEB, actor=AGENT)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("FOR UPDATE OF c" in s for s in prepared), prepared
    assert any(s.startswith("WITH u0 AS (UPDATE") for s in prepared), prepared
