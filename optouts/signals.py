"""Hook for what an opt-out sets in motion beyond intake (issue 6: fee ledger entry, CCASR request).

`optout_recorded` is sent inside optout_submit's transaction, after the OptOutRequest row is
saved: a receiver's writes commit or roll back together with the opt-out, so a fee or service
request is never created for an opt-out that was not recorded, nor lost for one that was.
Receivers get `request` (OptOutRequest) and `decision` (optouts.services.intake.Decision).
"""
from django.dispatch import Signal

optout_recorded = Signal()
