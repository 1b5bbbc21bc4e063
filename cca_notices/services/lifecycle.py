"""A notice's life: scheduled → batched → mailed → returned (undeliverable).

Each step is a conditional update (`filter(status=from).update(...)`), so two workers or a
re-imported mail-house report never apply a step twice. A step already taken is skipped and
counted; a notice in any other status stops the whole call before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Channel, ServiceAccount, Status
from accounts.services.audit import audit_bulk
from accounts.services.status import Actor, accounts_transition_bulk
from cca_notices.models import MailBatch, Notice

NS = Notice.Status
# Ids per statement: a batch of half a million notices is applied in slices, in one transaction.
CHUNK = 10_000


def _chunks(ids: list[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


class NoticeTransitionNotAllowed(Exception):
    pass


@dataclass(frozen=True)
class StepResult:
    changed: int
    already: int


def _guard(ids: list[int], *, allowed_from: tuple[str, ...], to: str) -> list[int]:
    """Ids still to move; raises naming the notices that are in a status the step cannot leave."""
    rows = dict(Notice.objects.filter(pk__in=ids).values_list("pk", "status"))
    missing = [pk for pk in ids if pk not in rows]
    if missing:
        raise NoticeTransitionNotAllowed(f"no notice with id {', '.join(map(str, missing[:5]))}")
    wrong = {pk: s for pk, s in rows.items() if s not in allowed_from and s != to}
    if wrong:
        sample = ", ".join(f"notice {pk} is {s}" for pk, s in list(wrong.items())[:5])
        raise NoticeTransitionNotAllowed(
            f"{len(wrong)} notice(s) cannot become {to} "
            f"(only from {', '.join(allowed_from)}): {sample}"
        )
    return [pk for pk, s in rows.items() if s != to]


def notice_mark_batched(
    *,
    batch: MailBatch,
    notice_ids: Iterable[int],
    piece_ids: Mapping[int, str] | None = None,
    at=None,
) -> StepResult:
    """Put scheduled notices into `batch`, with their mail-piece serials when known."""
    at = at or timezone.now()
    ids = list(notice_ids)
    changed = already = 0
    with transaction.atomic():
        for chunk in _chunks(ids):
            todo = _guard(chunk, allowed_from=(NS.SCHEDULED,), to=NS.BATCHED)
            already += len(chunk) - len(todo)
            changed += Notice.objects.filter(pk__in=todo, status=NS.SCHEDULED).update(
                status=NS.BATCHED, batch=batch, batched_at=at, updated_at=at
            )
            if piece_ids:
                rows = [Notice(pk=pk, piece_id=piece_ids[pk]) for pk in todo if pk in piece_ids]
                Notice.objects.bulk_update(rows, ["piece_id"], batch_size=2000)
        audit_bulk(instance=batch, what="notices batched", counts={"batched": changed}, ids=ids)
    return StepResult(changed, already)


def notice_mark_mailed(
    *,
    notice_ids: Iterable[int],
    mailed_on: dt.date,
    actor: Actor,
    at=None,
) -> StepResult:
    """The mail house confirmed mailing. An account's first mailed notice makes it `notified`."""
    at = at or timezone.now()
    ids = list(notice_ids)
    changed = already = 0
    with transaction.atomic():
        for chunk in _chunks(ids):
            todo = _guard(chunk, allowed_from=(NS.BATCHED, NS.SCHEDULED), to=NS.MAILED)
            already += len(chunk) - len(todo)
            changed += Notice.objects.filter(
                pk__in=todo, status__in=(NS.BATCHED, NS.SCHEDULED)
            ).update(status=NS.MAILED, mailed_on=mailed_on, mailed_at=at, updated_at=at)
            accounts = set(Notice.objects.filter(pk__in=todo).values_list("account_id", flat=True))
            # Only eligible accounts move, so an account's later notices change nothing.
            accounts_transition_bulk(
                account_ids=ServiceAccount.objects.filter(
                    pk__in=accounts, status=Status.ELIGIBLE
                ).values_list("pk", flat=True),
                to_status=Status.NOTIFIED,
                channel=Channel.MAIL_HOUSE,
                actor=actor,
                at=at,
                reason=f"first opt-out notice mailed on {mailed_on}",
            )
        audit_bulk(
            model=Notice,
            what=f"notices mailed on {mailed_on}",
            counts={"mailed": changed, "already": already},
            ids=ids,
        )
    return StepResult(changed, already)


def notice_mark_returned(
    *,
    notice_ids: Iterable[int],
    return_date: dt.date,
    reason: str,
    actor: Actor,
    at=None,
) -> StepResult:
    """Undeliverable mail: recorded for proof of notice and address repair. It does not stop
    enrollment (docs/rules.md R-RETURNED-MAIL: a returned notice is a failure to opt out)."""
    if not reason.strip():
        raise ValueError("a returned notice needs a reason (e.g. 'insufficient address')")
    at = at or timezone.now()
    ids = list(notice_ids)
    changed = already = 0
    with transaction.atomic():
        for chunk in _chunks(ids):
            todo = _guard(chunk, allowed_from=(NS.MAILED,), to=NS.RETURNED)
            already += len(chunk) - len(todo)
            changed += Notice.objects.filter(pk__in=todo, status=NS.MAILED).update(
                status=NS.RETURNED,
                return_date=return_date,
                return_reason=reason.strip()[:200],
                returned_at=at,
                updated_at=at,
            )
            account_ids = Notice.objects.filter(pk__in=todo).values("account_id")
            ServiceAccount.objects.filter(pk__in=account_ids).update(
                address_needs_repair=True, updated_at=at
            )
        audit_bulk(
            model=Notice,
            what=f"notices returned on {return_date}: {reason.strip()[:200]}",
            counts={"returned": changed, "already": already},
            ids=ids,
        )
    return StepResult(changed, already)


def notice_ids_for_pieces(*, piece_ids: Iterable[str]) -> dict[str, int]:
    """Match a mail-house report's piece serials to notices."""
    return dict(Notice.objects.filter(piece_id__in=list(piece_ids)).values_list("piece_id", "pk"))
