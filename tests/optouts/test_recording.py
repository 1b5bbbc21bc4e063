"""An opt-out's rows are written together in optout_submit's transaction: every row points at
the ones it belongs to, and a failure part-way leaves nothing behind."""

import datetime as dt

import pytest
from django.db import IntegrityError

from accounts.models import Channel, ServiceAccount, Status, StatusChange
from accounts.services.status import Actor, account_transition
from optouts.models import Confirmation, FeeEntry, OptOutRequest, ReentryRequest, ServiceRequest
from optouts.services import intake
from optouts.services.intake import optout_submit

pytestmark = pytest.mark.django_db
AGENT = Actor("agent")


def test_a_termination_writes_every_row_linked_to_the_request(make_account, today):
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


def test_a_row_that_fails_leaves_none_of_the_others(make_account, today, monkeypatch):
    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 11, 2))

    def fails(**kwargs):
        raise IntegrityError("the last row cannot be written")

    monkeypatch.setattr(intake, "confirmations_for_optout", fails)
    with pytest.raises(IntegrityError):
        optout_submit(account=account, channel=Channel.PHONE, actor=AGENT)
    assert ServiceAccount.objects.get(pk=account.pk).status == Status.PARTICIPANT
    assert not StatusChange.objects.filter(account=account).exists()
    assert not OptOutRequest.objects.exists()
    assert not FeeEntry.objects.exists()
    assert not ServiceRequest.objects.exists()
    assert not ReentryRequest.objects.exists()


def test_a_colliding_confirmation_code_is_drawn_again(make_account, today, monkeypatch):
    first = optout_submit(
        account=make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2)),
        channel=Channel.WEB,
        actor=AGENT,
    ).request
    codes = iter([first.confirmation_code, "2222222222"])
    monkeypatch.setattr(intake, "confirmation_code_new", lambda: next(codes))
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))

    second = optout_submit(account=account, channel=Channel.WEB, actor=AGENT)

    assert second.created and second.request.confirmation_code == "2222222222"
    # The first attempt rolled back whole: one status change, one request, one confirmation.
    assert StatusChange.objects.filter(account=account).count() == 1
    assert OptOutRequest.objects.filter(account=account).count() == 1
    assert Confirmation.objects.filter(account=account).count() == 1


def test_a_transition_sets_a_related_row_given_as_an_instance(make_account, program):
    # What a rejoin does for an account with no product: the default product goes with the status.
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
