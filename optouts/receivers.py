"""What an opt-out sets in motion, attached to `optout_recorded` (sent inside optout_submit's
transaction): the fee ledger entry, the CCASR request, the re-entry record and the confirmations.
All of it commits or rolls back with the opt-out."""
from django.dispatch import receiver

from optouts.models import OptOutRequest, Outcome
from optouts.signals import optout_recorded


@receiver(optout_recorded, sender=OptOutRequest, dispatch_uid="optouts.follow_ups")
def optout_follow_ups(sender, request: OptOutRequest, decision, **kwargs):
    from optouts.services.ccasr import ccasr_for_optout
    from optouts.services.confirmations import confirmations_for_optout
    from optouts.services.fees import fee_assess_for_optout
    from optouts.services.reentry import reentry_record_for_optout

    fee_assess_for_optout(optout=request)
    ccasr_for_optout(optout=request)
    reentry = reentry_record_for_optout(optout=request) if request.outcome == Outcome.AFTER_FREE_WINDOW else None
    confirmations_for_optout(optout=request, reentry=reentry)
