"""Enrollment-status transitions: the only code that writes ServiceAccount.status.

Each change is guarded (a transition not in TRANSITIONS raises `TransitionNotAllowed` naming
both statuses and why) and writes its StatusChange audit row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Channel, ServiceAccount, Status, StatusChange
from accounts.services.audit import audit_bulk

S = Status

# from-status → {to-status: why this step exists}. Reading the table is reading the rules.
TRANSITIONS: dict[str, dict[str, str]] = {
    S.ELIGIBLE: {
        S.NOTIFIED: "first opt-out notice mailed",
        S.ENROLLED: "enrolled on its meter-read date",
        S.OPTED_OUT_PRE: "opted out before enrollment",
        S.MOVED_OUT: "moved out of the territory",
    },
    S.NOTIFIED: {
        S.ENROLLED: "enrolled on its meter-read date",
        S.OPTED_OUT_PRE: "opted out before enrollment",
        S.MOVED_OUT: "moved out of the territory",
    },
    S.ENROLLED: {
        S.PARTICIPANT: "did not opt out within the notice period",
        S.OPTED_OUT_FREE: "opted out within the free window",
        S.TERMINATED: "left after the free window",
        S.MOVED_OUT: "moved out of the territory",
    },
    S.PARTICIPANT: {
        S.TERMINATED: "left after the free window",
        S.MOVED_OUT: "moved out of the territory",
    },
    S.REJOINED: {
        S.TERMINATED: "left after rejoining",
        S.MOVED_OUT: "moved out of the territory",
    },
    S.OPTED_OUT_PRE: {
        S.REJOINED: "opted back in",
        S.MOVED_OUT: "moved out of the territory",
    },
    S.OPTED_OUT_FREE: {
        S.RETURNED_BUNDLED: "disconnect took effect",
        S.REJOINED: "opted back in",
        S.MOVED_OUT: "moved out of the territory",
    },
    S.TERMINATED: {
        S.RETURNED_BUNDLED: "disconnect took effect",
        S.MOVED_OUT: "moved out of the territory",
    },
    S.RETURNED_BUNDLED: {
        S.REJOINED: "opted back in after the minimum bundled stay",
        S.MOVED_OUT: "moved out of the territory",
    },
    S.MOVED_OUT: {},
}

# Statuses a utility file may state for an account (a program migrating onto the app).
IMPORTABLE_STATUSES = (
    S.ELIGIBLE,
    S.NOTIFIED,
    S.ENROLLED,
    S.PARTICIPANT,
    S.OPTED_OUT_PRE,
    S.OPTED_OUT_FREE,
    S.TERMINATED,
    S.RETURNED_BUNDLED,
)


def _forward_closure() -> dict[str, frozenset[str]]:
    """Statuses reachable from each status without a rejoin: a file may skip steps forward,
    but a reload never re-enrolls anyone (only the customer's own rejoin can)."""
    out = {}
    for start in TRANSITIONS:
        seen, todo = set(), [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt != S.REJOINED and nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        out[start] = frozenset(seen)
    return out


FORWARD = _forward_closure()


class TransitionNotAllowed(Exception):
    def __init__(self, account: ServiceAccount | None, from_status: str, to_status: str):
        self.from_status, self.to_status = from_status, to_status
        allowed = ", ".join(TRANSITIONS.get(from_status, {})) or "none: it is final"
        label = f"account {account.account_number}" if account is not None else "account"
        super().__init__(
            f"{label} cannot go from {from_status} to {to_status}; "
            f"from {from_status} it may only go to: {allowed}"
        )


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, {})


@dataclass(frozen=True)
class Actor:
    """Who made a change: a staff user, or a named process (import, IVR, beat task)."""

    name: str
    user_id: int | None = None

    @classmethod
    def of(cls, user) -> Actor:
        if user is None or not getattr(user, "is_authenticated", False):
            return cls("anonymous")
        return cls(user.get_username(), user.pk)


def account_transition(
    *,
    account: ServiceAccount,
    to_status: str,
    channel: str,
    actor: Actor,
    reason: str = "",
    at: datetime | None = None,
    locked: bool = False,
    **fields,
) -> StatusChange:
    """Move one account to `to_status`, locking its row so concurrent channels serialise.

    `fields` are other account columns the same change sets (e.g. enrollment_date).
    `locked=True` says the caller has already loaded `account` with SELECT … FOR UPDATE inside
    its own open transaction (optout_submit does): the row is then not read and locked a second
    time, and the guard checks the status the caller read under that lock.
    """
    at = at or timezone.now()
    if locked:
        if not transaction.get_connection().in_atomic_block:
            raise ValueError(
                "a locked transition needs the caller's transaction that holds the row lock"
            )
        # The guard runs before the atomic block, so a refusal leaves the caller's transaction
        # usable; no savepoint: an error after the first write marks the caller's whole
        # transaction for rollback, so the audit row and the status never part.
        _guard(account, to_status)
        with transaction.atomic(savepoint=False):
            return _transition_write(account, to_status, channel, actor, reason, at, fields)
    with transaction.atomic():
        current = ServiceAccount.objects.select_for_update().get(pk=account.pk)
        _guard(current, to_status)
        change = _transition_write(current, to_status, channel, actor, reason, at, fields)
    _transition_apply(account, to_status, at, fields)
    return change


def _guard(account: ServiceAccount, to_status: str) -> None:
    if not can_transition(account.status, to_status):
        raise TransitionNotAllowed(account, account.status, to_status)


def _transition_write(account, to_status, channel, actor, reason, at, fields) -> StatusChange:
    """The audit row and the account's new status (`account` shows it afterwards)."""
    change = StatusChange.objects.create(
        account=account,
        from_status=account.status,
        to_status=to_status,
        at=at,
        actor_id=actor.user_id,
        actor_name=actor.name,
        channel=channel,
        reason=reason or TRANSITIONS[account.status][to_status],
    )
    ServiceAccount.objects.filter(pk=account.pk).update(
        status=to_status, status_changed_at=at, updated_at=at, **fields
    )
    _transition_apply(account, to_status, at, fields)
    return change


def _transition_apply(account: ServiceAccount, to_status: str, at: datetime, fields: dict) -> None:
    account.status, account.status_changed_at = to_status, at
    account.updated_at = at
    for name, value in fields.items():
        setattr(account, name, value)


def accounts_transition_bulk(
    *,
    account_ids: Iterable[int],
    to_status: str,
    channel: str,
    actor: Actor,
    reason: str = "",
    at: datetime | None = None,
    chunk_size: int = 5000,
    **fields,
) -> int:
    """Set-based transition for scheduled work (deemed participation, mass enrollment).

    Accounts whose current status may not move to `to_status` are left alone (another channel
    got there first); the count of those moved is returned. `fields` are other account columns
    the same change sets (e.g. enrollment_date), on the moved accounts only.
    """
    at = at or timezone.now()
    sources = [s for s, targets in TRANSITIONS.items() if to_status in targets]
    ids = list(account_ids)
    moved = 0
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        with transaction.atomic():
            rows = list(
                ServiceAccount.objects.select_for_update()
                .filter(pk__in=chunk, status__in=sources)
                .values_list("pk", "status")
            )
            if not rows:
                continue
            StatusChange.objects.bulk_create(
                StatusChange(
                    account_id=pk,
                    from_status=old,
                    to_status=to_status,
                    at=at,
                    actor_id=actor.user_id,
                    actor_name=actor.name,
                    channel=channel,
                    reason=reason or TRANSITIONS[old][to_status],
                )
                for pk, old in rows
            )
            moved += ServiceAccount.objects.filter(pk__in=[pk for pk, _ in rows]).update(
                status=to_status, status_changed_at=at, updated_at=at, **fields
            )
            # The StatusChange rows are the per-account trail; the audit log gets one entry.
            audit_bulk(
                model=ServiceAccount,
                what=f"status set to {to_status} ({channel}): {reason}",
                counts={"moved": len(rows)},
                ids=[pk for pk, _ in rows],
                changes={"status": [sorted({old for _, old in rows}), to_status]},
            )
    return moved


SYSTEM = Actor("system")
__all__ = [
    "FORWARD",
    "IMPORTABLE_STATUSES",
    "SYSTEM",
    "TRANSITIONS",
    "Actor",
    "Channel",
    "TransitionNotAllowed",
    "account_transition",
    "accounts_transition_bulk",
    "can_transition",
]
