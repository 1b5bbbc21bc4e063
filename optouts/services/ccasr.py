"""The CCASR queue: service requests to the utility (Connect, Disconnect, Update, Cancel).

Created by mass enrollment when the CCA sends the Connects (`ccasr_connects_for_enrollment`),
opt-outs (`ccasr_for_optout`, called by optout_submit), product changes (`ccasr_request_update`,
called by the retention switch), rejoins (rejoin_submit), moves and the enrollment reconciliation.
The EDI 814 interchange is written by `optouts.services.edi_export` and the utility's answers read
by `optouts.services.edi_responses` (docs/formats/ccasr-edi.md).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import (
    ACTIVE_STATUSES,
    PRE_ENROLLMENT_STATUSES,
    Channel,
    Program,
    ServiceAccount,
    Status,
)
from accounts.services import calendar
from accounts.services.reads import NoReadDate, effective_read_date
from accounts.services.status import Actor, account_transition, can_transition
from accounts.services.trading_partners import trading_partner_for
from cca_notices.models import Notice
from optouts.models import (
    LIVE_CONNECT,
    OptOutRequest,
    Outcome,
    ServiceRequest,
    ServiceRequestType,
)

SR = ServiceRequest
# Connects are queued this many days before the enrollment read, so a pre-enrollment opt-out
# before then never reaches the utility at all (it is withdrawn, not cancelled).
CONNECT_LEAD_DAYS = 45


def _lead_days() -> int:
    return int(getattr(settings, "CCASR_CONNECT_LEAD_DAYS", CONNECT_LEAD_DAYS))


def ccasr_request_create(
    *,
    account: ServiceAccount,
    type: str,
    source: str,
    effective_date: dt.date | None,
    optout: OptOutRequest | None = None,
    rejoin=None,
    product_code: str = "",
    cancels: ServiceRequest | None = None,
    note: str = "",
) -> ServiceRequest:
    return SR.objects.create(
        program_id=account.program_id,
        account=account,
        type=type,
        source=source,
        effective_date=effective_date,
        optout=optout,
        rejoin=rejoin,
        product_code=product_code,
        cancels=cancels,
        note=note,
        created_at=timezone.now(),
    )


def ccasr_withdraw_pending_connect(
    *, account: ServiceAccount, why: str
) -> tuple[bool, ServiceRequest | None]:
    """Withdraw a Connect not yet sent (claimed with a conditional update, so an export running at
    the same moment either took it first or never sees it). Returns (withdrawn, the sent Connect
    that must be cancelled instead, if any), the sent one marked superseded."""
    connect = SR.objects.filter(LIVE_CONNECT, account=account).first()
    if connect is None:
        return False, None
    if connect.status == SR.Status.QUEUED:
        if SR.objects.filter(pk=connect.pk, status=SR.Status.QUEUED).update(
            status=SR.Status.WITHDRAWN, superseded=True, note=why
        ):
            return True, None
        connect.refresh_from_db()  # an export claimed it first: it was sent
    # Unconditional: once claimed by an export, a Connect's row changes only through the
    # utility's answer, which leaves `superseded` alone.
    SR.objects.filter(pk=connect.pk).update(superseded=True)
    connect.superseded = True
    return False, connect


def ccasr_for_optout(*, optout: OptOutRequest) -> ServiceRequest | None:
    """What an opt-out sets in motion at the utility (docs/formats/ccasr.md "Who queues what").

    A Connect not yet sent is withdrawn and nothing goes to the utility; a sent one is marked
    superseded and cancelled (before enrollment), or the account is disconnected on its effective
    read date. Returns the request queued, if any."""
    account = optout.account
    withdrawn, sent_connect = ccasr_withdraw_pending_connect(
        account=account, why=f"opt-out {optout.confirmation_code}"
    )
    if withdrawn:
        return None
    if optout.service_request == ServiceRequestType.CANCEL:
        if sent_connect is None:
            return None  # never asked the utility for anything: nothing to cancel
        return ccasr_request_create(
            account=account,
            type=SR.Type.CANCEL,
            source=SR.Source.OPTOUT,
            effective_date=optout.request_date,
            optout=optout,
            cancels=sent_connect,
        )
    if (
        optout.outcome == Outcome.MOVED_OUT
        and account.status == Status.MOVED_OUT
        and sent_connect is None
        and optout.from_status in PRE_ENROLLMENT_STATUSES
    ):
        return None
    return ccasr_request_create(
        account=account,
        type=SR.Type.DISCONNECT,
        source=SR.Source.OPTOUT,
        effective_date=optout.effective_date,
        optout=optout,
    )


def ccasr_request_update(
    *, account: ServiceAccount, product_code: str, request_date: dt.date | None = None
) -> ServiceRequest | None:
    """A product change on an account the utility has (or will have) on CCA service."""
    connect = SR.objects.filter(LIVE_CONNECT, account=account).first()
    if account.status not in ACTIVE_STATUSES and connect is None:
        return None  # not on CCA service yet and no Connect: the Connect will carry the product
    queued_connect = connect if connect and connect.status == SR.Status.QUEUED else None
    if queued_connect is not None:
        # Not sent yet: the Connect carries the new product instead of a second request.
        SR.objects.filter(pk=queued_connect.pk, status=SR.Status.QUEUED).update(
            product_code=product_code
        )
        return None
    request_date = request_date or calendar.today()
    try:
        effective = effective_read_date(
            program=account.program, read_cycle=account.read_cycle, request_date=request_date
        )
    except NoReadDate:
        effective = None
    return ccasr_request_create(
        account=account,
        type=SR.Type.UPDATE,
        source=SR.Source.PRODUCT_CHANGE,
        effective_date=effective,
        product_code=product_code,
    )


def ccasr_connects_for_enrollment(*, program: Program, today: dt.date | None = None) -> int:
    """Set-based: a Connect for each account about to be (or already) enrolled that has none.

    The enrollment date is the account's own or, before enrollment, the one the notice engine
    stored on its first post-enrollment / new-customer notice. Accounts are picked once their
    enrollment read is within the lead time (`CCASR_CONNECT_LEAD_DAYS`, default 45). Called by
    `export_ccasr` before it writes the file, and by the daily task. Nothing when the trading
    partner's profile says the utility generates them (R-CCASR-WHO): its enrollment
    notifications are imported and reconciled instead (optouts.services.edi_reconciliation)."""
    if trading_partner_for(program=program).utility_generates_connects:
        return 0
    today = today or calendar.today()
    through = today + dt.timedelta(days=_lead_days())
    notice_date = Subquery(
        Notice.objects.filter(
            account=OuterRef("pk"), kind__in=["post_enrollment_1", "new_customer_1"]
        )
        .order_by("mail_date")
        .values("enrollment_date")[:1]
    )
    live_connect = SR.objects.filter(LIVE_CONNECT, account=OuterRef("pk"))
    rows = list(
        ServiceAccount.objects.filter(
            program=program,
            status__in=(Status.ELIGIBLE, Status.NOTIFIED, Status.ENROLLED),
            direct_access=False,
        )
        .annotate(when=Coalesce("enrollment_date", notice_date), has_connect=Exists(live_connect))
        .filter(when__isnull=False, when__lte=through, has_connect=False)
        .values_list("pk", "when", "product__code")
    )
    now = timezone.now()
    objs = [
        SR(
            program=program,
            account_id=pk,
            type=SR.Type.CONNECT,
            source=SR.Source.ENROLLMENT,
            effective_date=when,
            product_code=product or "",
            created_at=now,
        )
        for pk, when, product in rows
    ]
    try:
        with transaction.atomic():
            SR.objects.bulk_create(objs, batch_size=5000)
    except IntegrityError:
        # Another run queued some of them meanwhile: add the rest one by one (the constraint
        # decides).
        created = 0
        for obj in objs:
            try:
                with transaction.atomic():
                    obj.pk = None
                    obj.save()
                created += 1
            except IntegrityError:
                pass
        return created
    return len(objs)


RESENDABLE_FIELDS = (
    "program_id",
    "account_id",
    "type",
    "source",
    "effective_date",
    "product_code",
    "optout_id",
    "rejoin_id",
    "cancels_id",
)


def ccasr_resend(
    *, request_ids, actor_name: str, effective_date: dt.date | None = None, note: str = ""
) -> list[ServiceRequest]:
    """Rejected requests, corrected by staff, are sent again as new requests that supersede them
    (`resends` points at the rejected one, which keeps the utility's answer). The new request is
    built from the account as it is now; `effective_date` replaces the old one when given."""
    created = []
    for pk in list(request_ids):
        with transaction.atomic():
            old = SR.objects.select_for_update().filter(pk=pk, status=SR.Status.REJECTED).first()
            if old is None or SR.objects.filter(resends=old).exists():
                continue  # not rejected, or already sent again
            values = {f: getattr(old, f) for f in RESENDABLE_FIELDS}
            if effective_date is not None:
                values["effective_date"] = effective_date
            history = (
                f"resends #{old.pk}, rejected {old.responded_at:%Y-%m-%d} "
                f"{old.rejection_code} {old.rejection_reason}".strip()
            )
            new = SR.objects.create(
                **values,
                resends=old,
                created_at=timezone.now(),
                note="\n".join(x for x in (history, f"by {actor_name}", note) if x),
            )
            SR.objects.filter(pk=old.pk).update(
                note="\n".join(x for x in (old.note, f"sent again as #{new.pk}") if x)
            )
            created.append(new)
    return created


def ccasr_disconnects_take_effect(
    *, today: dt.date | None = None, program_ids=None, actor: Actor | None = None
) -> dict[str, int]:
    """Accepted Disconnects whose effective date (a meter read) has arrived: the account returns
    to bundled service now, through accounts.services.status. Picked from stored dates, so a
    missed day is caught up; each request is claimed with a conditional update (`took_effect_at`)
    in the same transaction as the status change, so it is applied exactly once."""
    today = today or calendar.today()
    actor = actor or Actor("optouts-daily")
    due = SR.objects.filter(
        type=SR.Type.DISCONNECT,
        status=SR.Status.ACCEPTED,
        took_effect_at__isnull=True,
        effective_date__lte=today,
    )
    if program_ids is not None:
        due = due.filter(program_id__in=program_ids)
    counts: Counter[str] = Counter()
    for pk in list(due.order_by("effective_date", "pk").values_list("pk", flat=True)):
        with transaction.atomic():
            now = timezone.now()
            if not SR.objects.filter(
                pk=pk, status=SR.Status.ACCEPTED, took_effect_at__isnull=True
            ).update(took_effect_at=now):
                continue  # another run applied it
            sr = SR.objects.select_related("account").get(pk=pk)
            account = sr.account
            if can_transition(account.status, Status.RETURNED_BUNDLED):
                ref = f", ref {sr.utility_reference}" if sr.utility_reference else ""
                account_transition(
                    account=account,
                    to_status=Status.RETURNED_BUNDLED,
                    channel=Channel.SYSTEM,
                    actor=actor,
                    at=now,
                    reason=(
                        f"disconnect {sr.pk} (accepted by the utility{ref}) "
                        f"took effect on {sr.effective_date}"
                    ),
                )
                counts["returned_bundled"] += 1
            elif sr.source == SR.Source.RECONCILIATION:
                # The registry was right all along (opted out in time): the utility's wrong
                # enrollment is undone and the account keeps its status.
                SR.objects.filter(pk=pk).update(
                    note=sr.note + f"\n{today}: the utility's enrollment undone; the account "
                    f"stays {account.status}"
                )
                counts["enrollment_undone"] += 1
            else:
                # e.g. the customer rejoined or moved out before the read: nothing to return.
                SR.objects.filter(pk=pk).update(
                    note=(sr.note + "\n" if sr.note else "")
                    + f"{today}: not applied, account is {account.status}"
                )
                counts["not_applicable"] += 1
    return dict(counts)
