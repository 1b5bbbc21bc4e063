"""The CPUC's 15/15 rule for releasing aggregated customer data (docs/admin.md, "The board
report"): an aggregate is released only if it covers at least 15 customers and no single
customer is more than 15 % of it; otherwise the cell is suppressed.

What this module applies (the board report's every cell goes through it):
- a count of customers (accounts, opt-outs, notices, service requests) below 15 is suppressed —
  zero included, since "none of the 9 accounts in this city" says something about each of them;
- an amount (fees, in dollars) is suppressed when fewer than 15 customers make it up, or when
  one customer's part of it is more than 15 % (the rule's second half, which the CPUC states for
  load; the report carries no load or usage, and applies it to money instead);
- a rate is suppressed when its numerator or denominator is;
- complementary suppression: in a column whose total is published, a single suppressed cell
  could be recovered by subtraction, so further cells (smallest first) are suppressed until at
  least two are and the suppressed cells together cover at least 15 customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

MIN_CUSTOMERS = 15
MAX_SHARE = Decimal("0.15")

FEWER_THAN_15 = "fewer than 15 customers"
OVER_15_PERCENT = "one customer is more than 15 % of it"
DERIVED = "its parts are suppressed"
COMPLEMENTARY = "complementary: would reveal a suppressed cell"


@dataclass(frozen=True)
class Cell:
    value: int | Decimal | None  # None when suppressed
    customers: int
    reason: str = ""

    @property
    def suppressed(self) -> bool:
        return bool(self.reason)

    @property
    def shown(self) -> str:
        """What the report prints: the value, or a mark saying why it is suppressed."""
        if not self.suppressed:
            return str(self.value)
        return {FEWER_THAN_15: "<15", OVER_15_PERCENT: ">15 %"}.get(self.reason, "s")

    def hidden(self, reason: str) -> Cell:
        return Cell(value=None, customers=self.customers, reason=self.reason or reason)


def count_cell(n: int) -> Cell:
    """A count of customers: released only from 15 up."""
    if n < MIN_CUSTOMERS:
        return Cell(value=None, customers=n, reason=FEWER_THAN_15)
    return Cell(value=n, customers=n)


def amount_cell(*, amount: Decimal, customers: int, largest: Decimal) -> Cell:
    """A sum over `customers` customers, the largest of whose parts is `largest`."""
    if customers < MIN_CUSTOMERS:
        return Cell(value=None, customers=customers, reason=FEWER_THAN_15)
    if amount > 0 and largest > amount * MAX_SHARE:
        return Cell(value=None, customers=customers, reason=OVER_15_PERCENT)
    return Cell(value=amount, customers=customers)


def rate_cell(*, part: Cell, whole: Cell, value: Decimal) -> Cell:
    """A percentage of two released cells; hidden if either is."""
    if part.suppressed or whole.suppressed:
        return Cell(value=None, customers=part.customers, reason=DERIVED)
    return Cell(value=value, customers=part.customers)


def suppress_complementary(cells: list[Cell]) -> list[Cell]:
    """The cells of one column whose total is published: hide the smallest released cells too
    until no suppressed cell can be worked out from the total and the others."""
    out = list(cells)
    while True:
        hidden = [c for c in out if c.suppressed]
        if not hidden:
            return out
        if len(hidden) >= 2 and sum(c.customers for c in hidden) >= MIN_CUSTOMERS:
            return out
        shown = [i for i, c in enumerate(out) if not c.suppressed]
        if not shown:
            return out
        smallest = min(shown, key=lambda i: (out[i].customers, i))
        out[smallest] = out[smallest].hidden(COMPLEMENTARY)
