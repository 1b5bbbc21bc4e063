"""A supervisor's waiver of a termination fee: now a change of the fee ledger entry
(optouts.services.fees.fee_entry_waive), kept under its issue-5 name for the agent screen."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from optouts.models import FeeEntry, OptOutRequest


def optout_fee_waive(*, optout: OptOutRequest, user, reason: str) -> OptOutRequest:
    from optouts.services.fees import fee_entry_waive

    if not user.has_perm("optouts.waive_fee"):
        raise PermissionDenied("only a supervisor may waive a termination fee")
    entry = FeeEntry.objects.filter(optout=optout).first()
    if entry is None:
        raise ValueError(f"opt-out {optout.confirmation_code} has no fee to waive")
    fee_entry_waive(entry=entry, user=user, reason=reason)
    return OptOutRequest.objects.get(pk=optout.pk)
