"""Never re-enroll a customer who opted out: the same customer at the same premises under a new
account number (the utility renumbered the account, or the customer moved within the premises'
account history) stays opted out.

"The same customer" is the account's `customer_key` (accounts.normalize.customer_key: the name
and normalised service address and ZIP, whatever accents, punctuation or spacing a file used).
Of several opted-out accounts of one customer, the one whose status changed last is the one a
new account follows (then the lowest account number, so the choice is stable). The ORM form is
for code that handles one row at a time; the SQL form is the same rule for set-based loads.
"""

from __future__ import annotations

from django.db.models import F

from accounts.models import OPTED_OUT_STATUSES, ServiceAccount

# Literal, sorted: PostgreSQL uses the partial index account_optedout_customer only for a query
# whose predicate it can prove implies the index's.
_OPTED_OUT_SQL = ", ".join(f"'{s}'" for s in sorted(OPTED_OUT_STATUSES))


def opted_out_same_customer(*, program_id: int, customer_key: str) -> ServiceAccount | None:
    """The program's opted-out account of the same customer, if any: a new account of that
    customer must stay opted out."""
    return (
        ServiceAccount.objects.filter(
            program_id=program_id, customer_key=customer_key, status__in=OPTED_OUT_STATUSES
        )
        .order_by(F("status_changed_at").desc(nulls_last=True), "account_number")
        .first()
    )


def opted_out_same_customer_sql(*, customer_key_sql: str) -> str:
    """opted_out_same_customer() as a scalar SQL subquery giving the account number: the program
    id is its one parameter (%s), `customer_key_sql` the outer query's customer-key column."""
    return f"""(
        SELECT a.account_number FROM accounts_serviceaccount a
        WHERE a.program_id = %s AND a.customer_key = {customer_key_sql}
          AND a.status IN ({_OPTED_OUT_SQL})
        ORDER BY a.status_changed_at IS NULL, a.status_changed_at DESC, a.account_number
        LIMIT 1)"""


def any_opted_out_sql() -> str:
    """Whether the program (the one %s) has an opted-out account at all: a load into a program
    without one skips the look-up per row."""
    return (
        f"SELECT 1 FROM accounts_serviceaccount WHERE program_id = %s "
        f"AND status IN ({_OPTED_OUT_SQL}) LIMIT 1"
    )
