"""Hook for what an opt-out sets in motion beyond intake (issue 6: fee ledger entry, CCASR request).

`optout_recorded` is sent inside optout_submit's transaction, with the account locked and the
OptOutRequest built but not yet written. Receivers get `request` (OptOutRequest), `decision`
(optouts.services.intake.Decision) and `live_connect` (the account's live CCASR Connect or None,
read with the lock) and return the rows the opt-out sets in motion, as unsaved
model instances in the order they must be written (a row may point at `request` or at a row
before it). optout_submit writes them with the opt-out in one statement (`rows_write`), so a fee
or service request is never created for an opt-out that was not recorded, nor lost for one that was.
"""

from django.dispatch import Signal

optout_recorded = Signal()
