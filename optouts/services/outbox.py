"""The outbox after an outage: what is waiting to leave, and the sweep that sends what the
broker never carried.

An opt-out's side effects are rows written in its transaction (confirmations by e-mail, SMS and
letter; CCASRs); after commit only the e-mail and SMS are queued on the broker. When the broker
was down that queueing failed (logged, the request still answered), so the sweep, run by beat
every few minutes and once when a worker starts, sends every e-mail and SMS still pending.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db.models import Min, Q
from django.utils import timezone

from optouts.models import Confirmation, ServiceRequest
from optouts.services.confirmations import confirmation_send, sendable_q
from optouts.services.edi_export import ccasr_undelivered_oldest

log = logging.getLogger(__name__)
C = Confirmation

# What has not reached the customer or the utility yet, by kind: the /readyz outbox checks.
OUTBOX_KINDS = ("confirmation", "letter", "ccasr")


def _undelivered() -> dict[str, Q]:
    """The confirmation rows still to leave, by kind. A confirmation that stopped retrying
    (`failed`) waits for a person on the staff home, not here; an e-mail or SMS counts only once
    this deployment can send it (confirmations.sendable_q). A letter is on its way once it is in
    a mail-house batch."""
    return {
        "confirmation": Q(status=C.Status.PENDING) & sendable_q(),
        "letter": Q(method=C.Method.LETTER, status__in=[C.Status.PENDING, C.Status.ISSUED]),
    }


def outbox_oldest() -> dict[str, dt.datetime | None]:
    """When the oldest undelivered item of each kind was created (None: nothing waiting). A
    CCASR waits once it can be sent (its effective date is known) until it is exported, and its
    interchange until it is delivered (the partner's folder; SFTP when a host is set)."""
    oldest: dict[str, dt.datetime | None] = {
        kind: C.objects.filter(q).aggregate(t=Min("created_at"))["t"]
        for kind, q in _undelivered().items()
    }
    queued = ServiceRequest.objects.filter(
        status=ServiceRequest.Status.QUEUED, effective_date__isnull=False
    ).aggregate(t=Min("created_at"))["t"]
    waiting = [t for t in (queued, ccasr_undelivered_oldest()) if t is not None]
    oldest["ccasr"] = min(waiting, default=None)
    return oldest


def outbox_redeliver(*, older_than: dt.timedelta = dt.timedelta(minutes=1), limit: int = 1000):
    """Send the e-mail and SMS confirmations still pending `older_than` after they were written
    (the after-commit task has had its chance). Each send claims its row, so a task that does run
    meanwhile never sends one twice. Returns counts."""
    cutoff = timezone.now() - older_than
    pks = list(
        C.objects.filter(
            sendable_q(),
            status=C.Status.PENDING,
            claimed_at=None,
            created_at__lte=cutoff,
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    counts = {"sent": 0, "failed": 0}
    for pk in pks:
        try:
            if confirmation_send(confirmation_id=pk):
                counts["sent"] += 1
        except Exception:
            log.exception("confirmation %s not sent by the outbox sweep", pk)
            counts["failed"] += 1
    if counts["sent"] or counts["failed"]:
        log.info("outbox sweep: %(sent)s sent, %(failed)s failed", counts)
    return counts


@shared_task(name="optouts.tasks.outbox_redeliver")
def outbox_redeliver_task() -> dict[str, int]:
    after = getattr(settings, "OUTBOX_REDELIVER_AFTER_S", 60)
    return outbox_redeliver(older_than=dt.timedelta(seconds=after))
