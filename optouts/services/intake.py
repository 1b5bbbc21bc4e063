"""The opt-out rules, in one place: every channel (web, IVR, call-centre admin, reply cards, API)
asks `optout_quote` what would happen and records with `optout_submit`.

The rules, as staff read them: docs/optouts.md "The rules".
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import (
    OPTED_OUT_STATUSES,
    PRE_ENROLLMENT_STATUSES,
    FeeSchedule,
    Program,
    ServiceAccount,
    Status,
)
from accounts.services import calendar, contact
from accounts.services.fees import fee_schedule_in_force
from accounts.services.reads import NoReadDate, cutoff_date, effective_read_date
from accounts.services.status import Actor, account_transition
from optouts.models import (
    ACCEPTED_OUTCOMES,
    OptOutRequest,
    Outcome,
    ReturnPath,
    ServiceRequestType,
)
from optouts.services.ccasr import ccasr_for_optout
from optouts.services.confirmations import (
    confirmations_for_optout,
    confirmations_queue_after_commit,
)
from optouts.services.fees import fee_entry_for_optout
from optouts.services.reentry import reentry_for_optout, reentry_plan

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ReturnOption:
    """One way back to the utility after the free window, with its dates."""

    path: str
    bundled_from: dt.date | None
    standard_rates_from: dt.date | None
    no_rejoin_until: dt.date | None


@dataclass(frozen=True)
class Decision:
    outcome: str
    account_id: int
    request_date: dt.date
    from_status: str
    to_status: str | None
    enrollment_date: dt.date | None
    free_window_ends: dt.date | None
    earliest_read_date: dt.date | None
    effective_date: dt.date | None
    service_request: str
    admin_fee: Decimal = ZERO
    cost_recovery_charge: Decimal = ZERO
    fee_schedule_id: int | None = None
    # The row itself, so recording the fee does not read it a second time.
    fee_schedule: FeeSchedule | None = field(default=None, compare=False, repr=False)
    return_options: tuple[ReturnOption, ...] = field(default_factory=tuple)
    # English, marked for translation: each channel says it in the customer's language.
    refusal_message: str = ""

    @property
    def accepted(self) -> bool:
        return self.outcome in ACCEPTED_OUTCOMES

    @property
    def fee(self) -> Decimal:
        return self.admin_fee + self.cost_recovery_charge

    def return_option(self, path: str | None) -> ReturnOption | None:
        for option in self.return_options:
            if option.path == (path or ReturnPath.ADVANCE_NOTICE):
                return option
        return None


class OptOutRefused(Exception):
    """The account cannot be opted out now; `decision.outcome` says why."""

    def __init__(self, decision: Decision, message: str):
        self.decision = decision
        super().__init__(message)


def _return_options(*, program: Program, effective: dt.date | None) -> tuple[ReturnOption, ...]:
    """The two ways back as the re-entry will record them (blank dates until the read is known)."""
    plans = (
        reentry_plan(program=program, path=path, effective_date=effective)
        for path in (ReturnPath.ADVANCE_NOTICE, ReturnPath.TRANSITIONAL)
    )
    return tuple(
        ReturnOption(p.path, p.bundled_from, p.standard_rates_from, p.min_stay_until) for p in plans
    )


def optout_quote(
    *,
    account: ServiceAccount,
    request_date: dt.date | None = None,
    moving_out: bool = False,
) -> Decision:
    """What an opt-out arriving on `request_date` would do, without recording anything."""
    program = account.program
    request_date = request_date or calendar.today()
    status = account.status
    enrollment = account.enrollment_date
    window_end = account.free_window_ends()
    cutoff = cutoff_date(program=program, request_date=request_date)

    def effective():
        try:
            return effective_read_date(
                program=program,
                read_cycle=account.read_cycle,
                request_date=request_date,
            )
        except NoReadDate:
            # Recorded anyway (never lose a request); the date is set when the schedule arrives.
            log.warning(
                "no read date for account %s cycle %s after %s",
                account.pk,
                account.read_cycle,
                cutoff,
            )
            return None

    base: dict[str, Any] = dict(
        account_id=account.pk,
        request_date=request_date,
        from_status=status,
        enrollment_date=enrollment,
        free_window_ends=window_end,
        earliest_read_date=cutoff,
    )

    if status == Status.MOVED_OUT:
        return Decision(
            outcome=Outcome.CLOSED,
            to_status=None,
            effective_date=None,
            service_request="",
            refusal_message=gettext_noop("This account is closed."),
            **base,
        )
    if status in OPTED_OUT_STATUSES:
        return Decision(
            outcome=Outcome.ALREADY_OPTED_OUT,
            to_status=None,
            effective_date=None,
            service_request="",
            refusal_message=gettext_noop("This account has already opted out."),
            **base,
        )
    if moving_out:
        pending_connect = status in PRE_ENROLLMENT_STATUSES
        return Decision(
            outcome=Outcome.MOVED_OUT,
            to_status=Status.MOVED_OUT,
            effective_date=request_date if pending_connect else effective(),
            service_request=ServiceRequestType.CANCEL
            if pending_connect
            else ServiceRequestType.DISCONNECT,
            **base,
        )
    if status == Status.ELIGIBLE and not program.accept_optouts_before_notice:
        return Decision(
            outcome=Outcome.REFUSED_BEFORE_NOTICE,
            to_status=None,
            effective_date=None,
            service_request="",
            refusal_message=program.optout_refusal_message
            or gettext_noop(
                "Opt-outs open when the first notice is mailed. "
                "Please contact us again after you receive it."
            ),
            **base,
        )
    if status in PRE_ENROLLMENT_STATUSES:
        # A Connect already past the cutoff cannot be withdrawn: the customer is enrolled on that
        # read and disconnected at the next one, still without a fee (never enrolled by choice).
        if enrollment is not None and enrollment < cutoff:
            return Decision(
                outcome=Outcome.BEFORE_ENROLLMENT,
                to_status=Status.OPTED_OUT_PRE,
                effective_date=effective(),
                service_request=ServiceRequestType.DISCONNECT,
                **base,
            )
        return Decision(
            outcome=Outcome.BEFORE_ENROLLMENT,
            to_status=Status.OPTED_OUT_PRE,
            effective_date=request_date,
            service_request=ServiceRequestType.CANCEL,
            **base,
        )
    # Enrolled: a missing start of service is a data gap, read in the customer's favour.
    if status == Status.ENROLLED and (window_end is None or request_date <= window_end):
        return Decision(
            outcome=Outcome.FREE_WINDOW,
            to_status=Status.OPTED_OUT_FREE,
            effective_date=effective(),
            service_request=ServiceRequestType.DISCONNECT,
            **base,
        )
    # ENROLLED after the window, PARTICIPANT, REJOINED: termination with a fee.
    when = effective()
    row = fee_schedule_in_force(
        program=program, customer_class=account.customer_class, on=request_date
    )
    if row is None:
        log.warning(
            "program %s has no fee schedule for %s on %s",
            program.slug,
            account.customer_class,
            request_date,
        )
    return Decision(
        outcome=Outcome.AFTER_FREE_WINDOW,
        to_status=Status.TERMINATED,
        effective_date=when,
        service_request=ServiceRequestType.DISCONNECT,
        admin_fee=row.admin_fee if row else ZERO,
        cost_recovery_charge=row.cost_recovery_charge if row else ZERO,
        fee_schedule_id=row.pk if row else None,
        fee_schedule=row,
        return_options=_return_options(program=program, effective=when),
        **base,
    )


def confirmation_code_new() -> str:
    """Ten digits, so the IVR can speak it and a customer can key it; random, so not guessable."""
    return f"{secrets.randbelow(9 * 10**9) + 10**9}"


@dataclass(frozen=True)
class Submission:
    request: OptOutRequest
    created: bool


def optout_submit(
    *,
    account: ServiceAccount,
    channel: str,
    actor: Actor,
    return_path: str | None = None,
    moving_out: bool = False,
    language: str = "",
    contact_email: str = "",
    contact_phone: str = "",
    note: str = "",
    request_date: dt.date | None = None,
    received_at: dt.datetime | None = None,
) -> Submission:
    """Record an opt-out exactly once.

    The account row is locked first, so a web and a phone request for the same account arriving
    together run one after the other; the second finds the first's request and returns it (same
    confirmation code). Raises `OptOutRefused` when the rules refuse it; nothing is written then.
    A contact the channel passes goes through the one rule per field (accounts.services.contact),
    which raises InvalidValue for one that is not a telephone number or e-mail address.
    """
    contact_email = contact.email_address(contact_email)
    contact_phone = contact.phone_e164(contact_phone)
    received_at = received_at or timezone.now()
    request_date = request_date or calendar.today()
    kwargs = dict(
        account_id=account.pk,
        channel=channel,
        actor=actor,
        return_path=return_path,
        moving_out=moving_out,
        language=language,
        contact_email=contact_email,
        contact_phone=contact_phone,
        note=note,
        request_date=request_date,
        received_at=received_at,
    )
    try:
        return _submit_once(**kwargs)
    except IntegrityError as exc:
        if "one_current_optout_per_account" in str(exc):
            # Another channel recorded this account's opt-out first (the lock makes this rare:
            # see _submit_once). Answer with that one, as a repeated submission would be.
            existing = OptOutRequest.objects.filter(account_id=account.pk, is_current=True).first()
            if existing is not None:
                return Submission(existing, False)
            raise
        # A ten-digit code collided (about one in 10^9 per pair of requests). The transaction
        # rolled back whole, so run it again: a new code, or the opt-out that won a race.
        if "confirmation_code" not in str(exc):
            raise
        return _submit_once(**kwargs)


# Statuses an opt-out leaves an account in: only an account in one of them can have a current
# opt-out request (a rejoin, the only way out of them back to CCA service, retires its request).
_AFTER_OPTOUT = OPTED_OUT_STATUSES | {Status.MOVED_OUT}


def _submit_once(
    *,
    account_id,
    channel,
    actor,
    return_path,
    moving_out,
    language,
    contact_email,
    contact_phone,
    note,
    request_date,
    received_at,
) -> Submission:
    with transaction.atomic():
        # The account row only is locked, not the program row every opt-out shares.
        locked = (
            ServiceAccount.objects.select_for_update(of=("self",))
            .select_related("program")
            .get(pk=account_id)
        )
        # Read after the lock (a new snapshot), so a request that another channel committed while
        # this one waited is seen. Only an opted-out account can have one; for any other, the
        # partial unique index one_current_optout_per_account still refuses a second (above).
        if locked.status in _AFTER_OPTOUT:
            existing = OptOutRequest.objects.filter(account=locked, is_current=True).first()
            if existing is not None:
                return Submission(existing, False)
        decision = optout_quote(account=locked, request_date=request_date, moving_out=moving_out)
        if not decision.accepted:
            raise OptOutRefused(decision, decision.refusal_message)
        assert decision.to_status is not None  # every accepted outcome moves the account
        option = None
        if decision.outcome == Outcome.AFTER_FREE_WINDOW:
            # A reply card or a utility file cannot choose: the tariff default is advance notice.
            option = decision.return_option(return_path)
            if option is None:
                raise ValueError(
                    f"return_path {return_path!r} is not one of "
                    f"{[o.path for o in decision.return_options]}"
                )
        change = account_transition(
            account=locked,
            to_status=decision.to_status,
            channel=channel,
            actor=actor,
            at=received_at,
            locked=True,
            reason=(
                f"opt-out: {Outcome(decision.outcome).label}, effective "
                f"{decision.effective_date or 'on the next meter read'}"
            ),
        )
        request = OptOutRequest.objects.create(
            program=locked.program,
            account=locked,
            confirmation_code=confirmation_code_new(),
            channel=channel,
            actor_id=actor.user_id,
            actor_name=actor.name,
            received_at=received_at,
            request_date=request_date,
            outcome=decision.outcome,
            from_status=decision.from_status,
            to_status=decision.to_status,
            status_change=change,
            enrollment_date=decision.enrollment_date,
            free_window_ends=decision.free_window_ends,
            effective_date=decision.effective_date,
            earliest_read_date=decision.earliest_read_date,
            service_request=decision.service_request,
            fee_amount=decision.fee,
            admin_fee=decision.admin_fee,
            cost_recovery_charge=decision.cost_recovery_charge,
            fee_schedule=decision.fee_schedule,
            return_path=option.path if option else "",
            bundled_from=option.bundled_from if option else None,
            standard_rates_from=option.standard_rates_from if option else None,
            no_rejoin_until=option.no_rejoin_until if option else None,
            language=(language or locked.language or "en")[:5],
            contact_email=contact_email or locked.email,
            contact_phone=contact_phone or locked.phone,
            note=note,
        )
        # What the opt-out sets in motion, in the same transaction: all of it or none of it.
        fee_entry_for_optout(optout=request)
        ccasr_for_optout(optout=request)
        reentry = reentry_for_optout(optout=request)
        confirmations_for_optout(optout=request, reentry=reentry)
        _after_commit(request)
    return Submission(request, True)


def _after_commit(request: OptOutRequest) -> None:
    confirmations_queue_after_commit(request=request)
