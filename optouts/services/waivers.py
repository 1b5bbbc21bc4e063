"""A supervisor's waiver of a termination fee, from the opt-out on the agent screen: a change of
its fee ledger entry (optouts.services.fees.fee_entry_waive)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from optouts.models import FeeEntry, OptOutRequest
from optouts.services.fees import fee_entry_waive


def optout_fee_waive(*, optout: OptOutRequest, user, reason: str) -> OptOutRequest:
    if not user.has_perm("optouts.waive_fee"):
        raise PermissionDenied("only a supervisor may waive a termination fee")
    entry = FeeEntry.objects.filter(optout=optout).first()
    if entry is None:
        raise ValueError(f"opt-out {optout.confirmation_code} has no fee to waive")
    fee_entry_waive(entry=entry, user=user, reason=reason)
    return OptOutRequest.objects.get(pk=optout.pk)
