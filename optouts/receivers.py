"""What an opt-out sets in motion, attached to `optout_recorded` (sent inside optout_submit's
transaction): the fee ledger entry, the CCASR request, the re-entry record and the confirmations,
returned as rows for optout_submit to write with the opt-out. All of it commits or rolls back
with the opt-out."""

from django.dispatch import receiver

from accounts.services.rows import NOT_READ
from optouts.models import OptOutRequest, Outcome
from optouts.signals import optout_recorded


@receiver(optout_recorded, sender=OptOutRequest, dispatch_uid="optouts.follow_ups")
def optout_follow_ups(
    sender, request: OptOutRequest, decision, live_connect=NOT_READ, **kwargs
) -> list:
    from optouts.services.ccasr import ccasr_rows_for_optout
    from optouts.services.confirmations import confirmation_rows_for_optout
    from optouts.services.fees import fee_entry_for_optout
    from optouts.services.reentry import reentry_for_optout

    fee = fee_entry_for_optout(optout=request)
    utility_rows = ccasr_rows_for_optout(optout=request, live_connect=live_connect)
    reentry = (
        reentry_for_optout(optout=request) if request.outcome == Outcome.AFTER_FREE_WINDOW else None
    )
    rows = [
        fee,
        *utility_rows,
        reentry,
        *confirmation_rows_for_optout(optout=request, reentry=reentry),
    ]
    return [row for row in rows if row is not None]
