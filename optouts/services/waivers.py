"""A supervisor's waiver of a termination fee (a stub until the fee ledger of issue 6)."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from optouts.models import OptOutRequest


def optout_fee_waive(*, optout: OptOutRequest, user, reason: str) -> OptOutRequest:
    if not user.has_perm("optouts.waive_fee"):
        raise PermissionDenied("only a supervisor may waive a termination fee")
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("reason: say why the fee is waived")
    with transaction.atomic():
        locked = OptOutRequest.objects.select_for_update().get(pk=optout.pk)
        if locked.fee_amount == 0:
            raise ValueError(f"opt-out {locked.confirmation_code} has no fee to waive")
        if locked.fee_waived:
            return locked
        locked.fee_waived, locked.fee_waived_by, locked.fee_waived_at = True, user, timezone.now()
        locked.fee_waiver_reason = reason
        locked.save(update_fields=["fee_waived", "fee_waived_by", "fee_waived_at", "fee_waiver_reason"])
    return locked
