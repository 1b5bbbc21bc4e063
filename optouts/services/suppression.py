"""The CPUC's 15/15 rule for releasing aggregated customer data (docs/admin.md, "The board
report"): an aggregate is released only if it covers at least 15 customers and no single
customer is more than 15 % of it; otherwise the cell is suppressed. A program may set a stricter
threshold (`suppression_min_customers`, `suppression_max_share_pct`), never a looser one; a
report over several programs applies the strictest of theirs.

What this module applies (the board report's every cell goes through it), with N customers and
P % the threshold (15 and 15 % under the rule):
- a count of customers (accounts, opt-outs, notices, service requests) below N is suppressed —
  zero included, since "none of the 9 accounts in this city" says something about each of them;
- an amount (fees, in dollars) is suppressed when fewer than N customers make it up, or when
  one customer's part of it is more than P % (the rule's second half, which the CPUC states for
  load; the report carries no load or usage, and applies it to money instead);
- a rate is suppressed when its numerator or denominator is;
- complementary suppression: in a column whose total is published, a single suppressed cell
  could be recovered by subtraction, so further cells (smallest first) are suppressed until at
  least two are and the suppressed cells together cover at least N customers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from accounts.models import CPUC_MAX_SHARE_PCT, CPUC_MIN_CUSTOMERS, Program

DERIVED = "its parts are suppressed"
COMPLEMENTARY = "complementary: would reveal a suppressed cell"


@dataclass(frozen=True)
class Threshold:
    """When a figure may be released: at least `min_customers` behind it, and no customer more
    than `max_share_pct` percent of an amount."""

    min_customers: int = CPUC_MIN_CUSTOMERS
    max_share_pct: Decimal = CPUC_MAX_SHARE_PCT

    @property
    def is_cpuc(self) -> bool:
        return (self.min_customers, self.max_share_pct) == (CPUC_MIN_CUSTOMERS, CPUC_MAX_SHARE_PCT)

    @property
    def pct_shown(self) -> str:
        return format(self.max_share_pct.normalize(), "f")  # 15.00 → "15", 12.50 → "12.5"

    @property
    def too_few(self) -> str:
        return f"fewer than {self.min_customers} customers"

    @property
    def too_large(self) -> str:
        return f"one customer is more than {self.pct_shown} % of it"

    @property
    def too_few_mark(self) -> str:
        return f"<{self.min_customers}"

    @property
    def too_large_mark(self) -> str:
        return f">{self.pct_shown} %"


CPUC = Threshold()
FEWER_THAN_15 = CPUC.too_few
OVER_15_PERCENT = CPUC.too_large


def threshold_for(programs: Iterable[Program]) -> Threshold:
    """The strictest threshold of `programs`: a figure that covers several programs is released
    only if each program's own policy would release it."""
    chosen = [(p.suppression_min_customers, p.suppression_max_share_pct) for p in programs]
    if not chosen:
        return CPUC
    return Threshold(
        min_customers=max(CPUC_MIN_CUSTOMERS, *(n for n, _ in chosen)),
        max_share_pct=min(CPUC_MAX_SHARE_PCT, *(pct for _, pct in chosen)),
    )


@dataclass(frozen=True)
class Cell:
    value: int | Decimal | None  # None when suppressed
    customers: int
    reason: str = ""
    mark: str = ""  # what the report prints for a suppressed cell ("s" when blank)

    @property
    def suppressed(self) -> bool:
        return bool(self.reason)

    @property
    def shown(self) -> str:
        """What the report prints: the value, or a mark saying why it is suppressed."""
        if not self.suppressed:
            return str(self.value)
        return self.mark or "s"

    def hidden(self, reason: str) -> Cell:
        if self.suppressed:
            return self
        return Cell(value=None, customers=self.customers, reason=reason)


def count_cell(n: int, *, rule: Threshold = CPUC) -> Cell:
    """A count of customers: released only from the threshold's number up."""
    if n < rule.min_customers:
        return Cell(value=None, customers=n, reason=rule.too_few, mark=rule.too_few_mark)
    return Cell(value=n, customers=n)


def amount_cell(
    *, amount: Decimal, customers: int, largest: Decimal, rule: Threshold = CPUC
) -> Cell:
    """A sum over `customers` customers, the largest of whose parts is `largest`."""
    if customers < rule.min_customers:
        return Cell(value=None, customers=customers, reason=rule.too_few, mark=rule.too_few_mark)
    if amount > 0 and largest * 100 > amount * rule.max_share_pct:
        return Cell(
            value=None, customers=customers, reason=rule.too_large, mark=rule.too_large_mark
        )
    return Cell(value=amount, customers=customers)


def rate_cell(*, part: Cell, whole: Cell, value: Decimal) -> Cell:
    """A percentage of two released cells; hidden if either is."""
    if part.suppressed or whole.suppressed:
        return Cell(value=None, customers=part.customers, reason=DERIVED)
    return Cell(value=value, customers=part.customers)


def suppress_complementary(cells: list[Cell], *, rule: Threshold = CPUC) -> list[Cell]:
    """The cells of one column whose total is published: hide the smallest released cells too
    until no suppressed cell can be worked out from the total and the others."""
    out = list(cells)
    while True:
        hidden = [c for c in out if c.suppressed]
        if not hidden:
            return out
        if len(hidden) >= 2 and sum(c.customers for c in hidden) >= rule.min_customers:
            return out
        shown = [i for i, c in enumerate(out) if not c.suppressed]
        if not shown:
            return out
        smallest = min(shown, key=lambda i: (out[i].customers, i))
        out[smallest] = out[smallest].hidden(COMPLEMENTARY)
