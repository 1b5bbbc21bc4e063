"""The retention step: before an opt-out is final, offer the program's default product."""

from __future__ import annotations

from django.db import transaction

from accounts.models import (
    ACTIVE_STATUSES,
    PRE_ENROLLMENT_STATUSES,
    Product,
    ServiceAccount,
)
from optouts.models import RetentionAcceptance
from optouts.services.ccasr import ccasr_request_update

# On CCA service or about to be: the customers an offer can keep.
OFFERED_TO = ACTIVE_STATUSES | PRE_ENROLLMENT_STATUSES


def retention_offer(*, account: ServiceAccount) -> Product | None:
    """The default (cheaper) product, offered to an enrolled customer on a premium one."""
    if account.product_id is None or account.status not in OFFERED_TO:
        return None
    default = Product.objects.filter(program_id=account.program_id, is_default=True).first()
    if default is None or account.product_id in (None, default.pk):
        return None
    return default


def retention_accept(*, account: ServiceAccount, channel: str) -> RetentionAcceptance:
    """The customer stays on the default product instead of leaving; the utility is told with an
    Update service request (or the Connect not yet sent carries the new product)."""
    with transaction.atomic():
        locked = (
            ServiceAccount.objects.select_for_update(of=("self",))
            .select_related("product")
            .get(pk=account.pk)
        )
        offer = retention_offer(account=locked)
        if offer is None:
            raise ValueError(f"account {locked.account_number}: no retention offer applies")
        row = RetentionAcceptance.objects.create(
            account=locked,
            from_product_code=locked.product.code if locked.product else "",
            to_product_code=offer.code,
            channel=channel,
        )
        ServiceAccount.objects.filter(pk=locked.pk).update(product=offer)
        ccasr_request_update(account=locked, product_code=offer.code)
    return row
