"""Rejoin: a customer who opted out opts back in (docs/fees.md "Rejoin").

Allowed unless inside the minimum bundled stay (the answer says until when); large customers
pay the program's entry fee; the account goes to `rejoined` through accounts.services.status, its
current opt-out stops being current (a later opt-out may be recorded) and a Connect is queued.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import OPTED_OUT_STATUSES, CustomerClass, Product, ServiceAccount, Status
from accounts.services import calendar
from accounts.services.reads import NoReadDate, effective_read_date
from accounts.services.status import Actor, account_transition
from optouts.models import Move, OptOutRequest, RejoinRequest, ServiceRequest
from optouts.services.ccasr import ccasr_request_create
from optouts.services.confirmations import confirmation_queue
from optouts.services.fees import fee_assess_for_rejoin
from optouts.services.intake import confirmation_code_new

ZERO = Decimal("0.00")
LARGE_CLASSES = frozenset({CustomerClass.LARGE_COMMERCIAL, CustomerClass.INDUSTRIAL})
# A terminated customer is still on CCA service until the Disconnect's read: not yet.
REJOINABLE = OPTED_OUT_STATUSES - {Status.TERMINATED}


@dataclass(frozen=True)
class RejoinDecision:
    allowed: bool
    message: str
    not_before: dt.date | None = None
    entry_fee: Decimal = ZERO
    effective_date: dt.date | None = None


class RejoinRefused(Exception):
    def __init__(self, decision: RejoinDecision):
        self.decision = decision
        super().__init__(decision.message)


def _min_stay_until(account: ServiceAccount) -> dt.date | None:
    current = (
        OptOutRequest.objects.filter(account=account, is_current=True)
        .select_related("reentry")
        .first()
    )
    if current is None:
        # Moved within the territory: the opt-out (and its minimum stay) stayed with the old number.
        move = (
            Move.objects.filter(new_account=account)
            .exclude(old_account=account)
            .order_by("-created_at")
            .first()
        )
        old = move.old_account if move and move.old_account_id else None
        return _min_stay_until(old) if old is not None else None
    reentry = getattr(current, "reentry", None)
    if reentry is not None and reentry.min_stay_until:
        return reentry.min_stay_until
    return current.no_rejoin_until


def rejoin_quote(*, account: ServiceAccount, request_date: dt.date | None = None) -> RejoinDecision:
    """Whether the customer may rejoin on `request_date`, when service would resume and the fee."""
    request_date = request_date or calendar.today()
    program = account.program
    until = _min_stay_until(account)
    if account.status == Status.TERMINATED:
        when = f" and the minimum bundled stay ends on {until:%Y-%m-%d}" if until else ""
        return RejoinDecision(
            False,
            "Your return to the utility has not taken effect yet; "
            f"you can rejoin once it has{when}.",
            not_before=until,
        )
    if account.status not in REJOINABLE:
        return RejoinDecision(
            False,
            f"Account {account.account_number} is {account.get_status_display().lower()}: "
            "there is nothing to rejoin.",
        )
    if until and request_date < until:
        return RejoinDecision(
            False,
            f"The minimum stay on utility (bundled) service of {program.min_bundled_stay_months} "
            f"months runs until {until:%Y-%m-%d}; you can rejoin from that date.",
            not_before=until,
        )
    fee = program.large_customer_entry_fee if account.customer_class in LARGE_CLASSES else ZERO
    try:
        effective = effective_read_date(
            program=program, read_cycle=account.read_cycle, request_date=request_date
        )
    except NoReadDate:
        effective = None
    text = (
        f"You can rejoin; CCA service resumes on your meter-read date {effective or '(next read)'}"
    )
    if fee:
        kind = account.get_customer_class_display().lower()
        text += f"; an entry fee of ${fee} applies to {kind} customers"
    return RejoinDecision(True, text + ".", entry_fee=fee, effective_date=effective)


def rejoin_submit(
    *,
    account: ServiceAccount,
    channel: str,
    actor: Actor,
    contact_email: str = "",
    note: str = "",
    request_date: dt.date | None = None,
    received_at: dt.datetime | None = None,
) -> RejoinRequest:
    """Record a rejoin; raises RejoinRefused (nothing written) when the rules refuse it."""
    request_date = request_date or calendar.today()
    received_at = received_at or timezone.now()
    for attempt in range(2):
        try:
            with transaction.atomic():
                locked = (
                    ServiceAccount.objects.select_for_update(of=("self",))
                    .select_related("program", "product")
                    .get(pk=account.pk)
                )
                decision = rejoin_quote(account=locked, request_date=request_date)
                if not decision.allowed:
                    raise RejoinRefused(decision)
                previous = OptOutRequest.objects.filter(account=locked, is_current=True).first()
                product = (
                    locked.product
                    or Product.objects.filter(program_id=locked.program_id, is_default=True).first()
                )
                from_status = locked.status
                # Other account columns the change sets (account_transition's **fields).
                columns: dict[str, Any] = (
                    {"product": product} if product and locked.product_id is None else {}
                )
                change = account_transition(
                    account=locked,
                    to_status=Status.REJOINED,
                    channel=channel,
                    actor=actor,
                    at=received_at,
                    reason=f"rejoined; service resumes {decision.effective_date or 'next read'}",
                    **columns,
                )
                if previous is not None:
                    OptOutRequest.objects.filter(pk=previous.pk).update(is_current=False)
                rejoin = RejoinRequest.objects.create(
                    program_id=locked.program_id,
                    account=locked,
                    previous_optout=previous,
                    confirmation_code=confirmation_code_new(),
                    channel=channel,
                    actor_id=actor.user_id,
                    actor_name=actor.name,
                    received_at=received_at,
                    request_date=request_date,
                    from_status=from_status,
                    status_change=change,
                    effective_date=decision.effective_date,
                    entry_fee=decision.entry_fee,
                    product_code=product.code if product else "",
                    language=(locked.language or "en")[:5],
                    contact_email=contact_email or locked.email,
                    note=note,
                )
                fee_assess_for_rejoin(rejoin=rejoin)
                ccasr_request_create(
                    account=locked,
                    type=ServiceRequest.Type.CONNECT,
                    source=ServiceRequest.Source.REJOIN,
                    effective_date=decision.effective_date,
                    rejoin=rejoin,
                    product_code=rejoin.product_code,
                )
                confirmation_queue(
                    kind="rejoin",
                    account=locked,
                    rejoin=rejoin,
                    email=rejoin.contact_email,
                    language=rejoin.language,
                    request_date=request_date,
                )
                return rejoin
        except IntegrityError as exc:
            if attempt or "confirmation_code" not in str(exc):
                raise
    raise AssertionError("unreachable")
