"""Enrollment status: guarded transitions, each with its audit row in the same transaction."""

import threading

import pytest
from django.db import connection, transaction

from accounts.models import ServiceAccount, Status, StatusChange
from accounts.services.status import (
    FORWARD,
    TRANSITIONS,
    Actor,
    TransitionNotAllowed,
    account_transition,
    accounts_transition_bulk,
)
from tests.factories import ServiceAccountFactory

pytestmark = pytest.mark.django_db
AGENT = Actor("agent.rivera", None)


def test_transition_writes_audit_row_with_who_when_channel_reason():
    account = ServiceAccountFactory()
    change = account_transition(
        account=account,
        to_status=Status.OPTED_OUT_PRE,
        channel="phone",
        actor=AGENT,
        reason="customer called",
    )
    account.refresh_from_db()
    assert account.status == Status.OPTED_OUT_PRE
    assert account.status_changed_at == change.at
    row = StatusChange.objects.get(account=account)
    assert (row.from_status, row.to_status, row.channel, row.actor_name, row.reason) == (
        "eligible",
        "opted_out_pre",
        "phone",
        "agent.rivera",
        "customer called",
    )


def test_default_reason_is_the_rule():
    account = ServiceAccountFactory()
    change = account_transition(
        account=account, to_status=Status.NOTIFIED, channel="system", actor=Actor("system")
    )
    assert change.reason == "first opt-out notice mailed"


def test_forbidden_transition_says_which_and_why_and_writes_nothing():
    account = ServiceAccountFactory(status=Status.MOVED_OUT)
    with pytest.raises(TransitionNotAllowed) as exc:
        account_transition(account=account, to_status=Status.ENROLLED, channel="admin", actor=AGENT)
    assert str(exc.value) == (
        f"account {account.account_number} cannot go from moved_out to enrolled; "
        "from moved_out it may only go to: none: it is final"
    )
    assert not StatusChange.objects.exists()
    account.refresh_from_db()
    assert account.status == Status.MOVED_OUT


def test_opted_out_account_cannot_be_enrolled():
    account = ServiceAccountFactory(status=Status.OPTED_OUT_PRE)
    with pytest.raises(TransitionNotAllowed, match="may only go to: rejoined, moved_out"):
        account_transition(
            account=account, to_status=Status.ENROLLED, channel="system", actor=AGENT
        )


def test_audit_row_rolls_back_with_the_change():
    account = ServiceAccountFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        account_transition(
            account=account, to_status=Status.NOTIFIED, channel="system", actor=AGENT
        )
        raise RuntimeError("mail house file failed")
    account.refresh_from_db()
    assert account.status == Status.ELIGIBLE and not StatusChange.objects.exists()


def test_bulk_moves_only_accounts_allowed_to_move():
    enrolled = ServiceAccountFactory.create_batch(3, status=Status.ENROLLED)
    opted = ServiceAccountFactory(status=Status.OPTED_OUT_FREE)
    moved = accounts_transition_bulk(
        account_ids=[a.pk for a in enrolled] + [opted.pk],
        to_status=Status.PARTICIPANT,
        channel="system",
        actor=Actor("beat"),
        chunk_size=2,
    )
    assert moved == 3
    assert set(
        ServiceAccount.objects.filter(status=Status.PARTICIPANT).values_list("pk", flat=True)
    ) == {a.pk for a in enrolled}
    opted.refresh_from_db()
    assert opted.status == Status.OPTED_OUT_FREE
    assert StatusChange.objects.filter(to_status=Status.PARTICIPANT, channel="system").count() == 3


def test_forward_closure_never_reaches_enrollment_from_an_opt_out():
    for opted in (
        Status.OPTED_OUT_PRE,
        Status.OPTED_OUT_FREE,
        Status.TERMINATED,
        Status.RETURNED_BUNDLED,
    ):
        assert not FORWARD[opted] & {
            Status.ENROLLED,
            Status.PARTICIPANT,
            Status.NOTIFIED,
            Status.ELIGIBLE,
        }
    assert Status.PARTICIPANT in FORWARD[Status.ELIGIBLE]
    assert set(TRANSITIONS) == set(Status.values)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_transitions_serialise_on_the_row():
    """Two channels acting at once: one wins, the other is refused on the winner's status."""
    account = ServiceAccountFactory()
    barrier = threading.Barrier(2)
    outcomes = []

    def act(to_status, channel):
        try:
            barrier.wait()
            account_transition(
                account=ServiceAccount.objects.get(pk=account.pk),
                to_status=to_status,
                channel=channel,
                actor=Actor(channel),
            )
            outcomes.append(("ok", to_status))
        except TransitionNotAllowed:
            outcomes.append(("refused", to_status))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=act, args=(Status.OPTED_OUT_PRE, "web")),
        threading.Thread(target=act, args=(Status.OPTED_OUT_PRE, "ivr")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o[0] for o in outcomes) == ["ok", "refused"]
    assert StatusChange.objects.filter(account_id=account.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_locked_transition_needs_the_callers_transaction():
    """(A transactional test: ordinary tests run inside a transaction already.)"""
    account = ServiceAccountFactory()
    with pytest.raises(ValueError, match="needs the caller's transaction"):
        account_transition(
            account=account, to_status=Status.NOTIFIED, channel="system", actor=AGENT, locked=True
        )
    assert not StatusChange.objects.exists()


def test_locked_transition_writes_in_the_callers_transaction():
    account = ServiceAccountFactory()
    with transaction.atomic():
        locked = ServiceAccount.objects.select_for_update().get(pk=account.pk)
        account_transition(
            account=locked, to_status=Status.OPTED_OUT_PRE, channel="web", actor=AGENT, locked=True
        )
    account.refresh_from_db()
    assert account.status == Status.OPTED_OUT_PRE
    assert StatusChange.objects.get(account=account).from_status == Status.ELIGIBLE


def test_refused_locked_transition_leaves_the_callers_transaction_usable():
    account = ServiceAccountFactory(status=Status.MOVED_OUT)
    other = ServiceAccountFactory()
    with transaction.atomic():
        locked = ServiceAccount.objects.select_for_update().get(pk=account.pk)
        with pytest.raises(TransitionNotAllowed):
            account_transition(
                account=locked, to_status=Status.ENROLLED, channel="web", actor=AGENT, locked=True
            )
        # the same transaction goes on and commits other work
        account_transition(account=other, to_status=Status.NOTIFIED, channel="system", actor=AGENT)
    other.refresh_from_db()
    assert other.status == Status.NOTIFIED
    assert StatusChange.objects.filter(account=account).count() == 0
