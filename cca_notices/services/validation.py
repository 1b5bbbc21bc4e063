"""Check an account's stored schedule against its rule set (the validator a compliance officer
reads)."""

from __future__ import annotations

from accounts.models import ReadDate, ServiceAccount
from cca_notices import rules as R
from cca_notices.models import Notice, RuleSet


def account_schedule_violations(*, account: ServiceAccount) -> list[str]:
    """Every violation of the account's notices, in words; an empty list means it complies.

    Mailed notices count on the day they were mailed, the others on their due date.
    Cancelled notices do not count.
    """
    notices = list(Notice.objects.filter(account=account).exclude(status=Notice.Status.CANCELLED))
    if not notices:
        return [f"account {account.account_number} has no notices scheduled"]
    codes = {n.rule_set for n in notices}
    if len(codes) > 1:
        return [
            f"account {account.account_number} has notices from several rule sets: "
            f"{', '.join(sorted(codes))}"
        ]
    code = codes.pop()
    rule_set = RuleSet.objects.filter(code=code).first()
    if rule_set is None:
        return [f"rule set {code} of these notices no longer exists"]
    rules = R.Rules.of(rule_set)
    dates = {n.kind: n.effective_date for n in notices}
    # A notice mailed before its phase moved keeps the old date; the account's enrollment date is
    # the one its first post-enrollment (or new-customer) notice is scheduled against.
    anchor = next((n for n in notices if n.kind in ("post_enrollment_1", "new_customer_1")), None)
    reference = anchor.enrollment_date if anchor else max(n.enrollment_date for n in notices)
    if any(k.startswith("new_customer_") for k in dates):
        return R.new_customer_violations(rules, service_start=reference, notices=dates)
    reads = list(
        ReadDate.objects.filter(
            utility_id=account.program.utility_id,
            read_cycle=account.read_cycle,
            read_date__gt=reference,
        )
        .order_by("read_date")
        .values_list("read_date", flat=True)[: rules.post_count]
    )
    return R.mass_violations(rules, enrollment=reference, notices=dates, later_reads=reads)
