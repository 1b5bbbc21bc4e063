"""The aggregate report for the board and the regulator: PDF and CSV, no customer data, every
cell through the 15/15 rule or the program's stricter threshold (optouts.services.suppression;
docs/admin.md, "The board report").

`board_report_build()` gathers the tables (the same set-based queries as the dashboard, plus
fees and service requests by class and type); `board_report_csv()` and `board_report_pdf()`
write them. Tests read the built report directly; the PDF is only checked to render.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import CustomerClass, Program
from accounts.services.spreadsheet import spreadsheet_writer
from accounts.services.tally import Freshness, FromTallies
from optouts.models import FeeEntry, ServiceRequest
from optouts.services import dashboard as D
from optouts.services.suppression import (
    CPUC,
    Cell,
    Threshold,
    amount_cell,
    count_cell,
    rate_cell,
    suppress_complementary,
    threshold_for,
)

TOTAL = "Total"


@dataclass(frozen=True)
class ReportRow:
    label: str
    cells: list[Cell]
    is_total: bool = False


@dataclass(frozen=True)
class ReportTable:
    key: str
    title: str
    columns: list[D.Column]
    rows: list[ReportRow]


@dataclass(frozen=True)
class BoardReport(FromTallies):
    program: Program
    as_of: dt.date
    generated_at: dt.datetime
    tables: list[ReportTable]
    # The 15/15 rule, or the program's stricter threshold (every cell was checked against it).
    threshold: Threshold = CPUC
    # Where the rates and notice compliance came from: a tally as of a moment, or live.
    freshness: tuple[Freshness, ...] = ()

    @property
    def suppressed_cells(self) -> int:
        return sum(c.suppressed for t in self.tables for r in t.rows for c in r.cells)


def _with_complementary(rows: list[ReportRow], columns: range, rule: Threshold) -> list[ReportRow]:
    """Apply complementary suppression column by column over the rows above the total."""
    body = [r for r in rows if not r.is_total]
    grid = [list(r.cells) for r in body]
    for j in columns:
        column = suppress_complementary([g[j] for g in grid], rule=rule)
        for g, cell in zip(grid, column, strict=True):
            g[j] = cell
    out = [ReportRow(r.label, g) for r, g in zip(body, grid, strict=True)]
    return out + [r for r in rows if r.is_total]


def _rate_rows(table: D.Table, rule: Threshold) -> list[ReportRow]:
    rows = [
        ReportRow(str(name), [count_cell(a, rule=rule), count_cell(o, rule=rule)])
        for name, a, o, _ in table.rows
    ]
    total_a = sum(r[1] for r in table.rows)
    total_o = sum(r[2] for r in table.rows)
    totals = [count_cell(total_a, rule=rule), count_cell(total_o, rule=rule)]
    rows.append(ReportRow(TOTAL, totals, is_total=True))
    rows = _with_complementary(rows, range(2), rule)
    counts = {name: (a, o) for name, a, o, _ in table.rows}
    counts[TOTAL] = (total_a, total_o)
    return [
        ReportRow(
            r.label,
            [
                *r.cells,
                rate_cell(
                    part=r.cells[1],
                    whole=r.cells[0],
                    value=D.rate_pct(counts[r.label][1], counts[r.label][0]),
                ),
            ],
            r.is_total,
        )
        for r in rows
    ]


def _count_rows(table: D.Table, rule: Threshold) -> list[ReportRow]:
    """A table of counts: each column gets a total row and complementary suppression."""
    width = len(table.columns) - 1
    rows = [ReportRow(str(r[0]), [count_cell(n, rule=rule) for n in r[1:]]) for r in table.rows]
    totals = [sum(r[1 + j] for r in table.rows) for j in range(width)]
    rows.append(ReportRow(TOTAL, [count_cell(n, rule=rule) for n in totals], is_total=True))
    return _with_complementary(rows, range(width), rule)


FEE_SQL = """
SELECT customer_class, status, COUNT(*) AS customers, SUM(total) AS amount,
       MAX(total) AS largest
FROM (SELECT customer_class, {status} AS status, account_id, SUM(amount) AS total
      FROM optouts_feeentry WHERE program_id = %s {where}
      GROUP BY customer_class, account_id{group}) per_customer
GROUP BY customer_class, status
"""


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def fees_by_class(*, program: Program, rule: Threshold) -> ReportTable:
    """Fees by customer class: assessed (every fee), waived, billed — each cell counts the
    customers behind it and is checked against the largest customer's part (the 15 % half)."""
    cells: dict[tuple[str, str], Cell] = {}
    for status, where, group in (
        ("'assessed'", "", ""),
        ("status", "AND status IN ('waived', 'billed')", ", status"),
    ):
        with connection.cursor() as cur:
            # Set-based: per customer, then per class; hand-written because the ORM does not
            # aggregate over an aggregate.
            cur.execute(FEE_SQL.format(status=status, where=where, group=group), [program.pk])
            for cls, st, customers, amount, largest in cur.fetchall():
                cells[(cls, st)] = amount_cell(
                    amount=_money(amount), customers=customers, largest=_money(largest), rule=rule
                )
    classes = [c for c in CustomerClass if any(k[0] == c for k in cells)]
    statuses = ["assessed", FeeEntry.Status.WAIVED, FeeEntry.Status.BILLED]
    empty = amount_cell(amount=Decimal("0.00"), customers=0, largest=Decimal("0.00"), rule=rule)
    rows = [ReportRow(c.label, [cells.get((c.value, s), empty) for s in statuses]) for c in classes]
    rows = _with_complementary(rows, range(len(statuses)), rule)
    return ReportTable(
        key="fees_by_class",
        title="Fees by customer class",
        columns=[
            D.Column("group", "Customer class"),
            D.Column("assessed", "Assessed", "$"),
            D.Column("waived", "Waived", "$"),
            D.Column("billed", "Billed by the utility", "$"),
        ],
        rows=rows,
    )


def service_requests_by_type(*, program: Program) -> D.Table:
    statuses = list(ServiceRequest.Status)
    counts = {
        (r["type"], r["status"]): r["n"]
        for r in ServiceRequest.objects.filter(program=program)
        .values("type", "status")
        .annotate(n=Count("id"))
        .order_by()
    }
    types = [t for t in ServiceRequest.Type if any(k[0] == t for k in counts)]
    return D.Table(
        key="service_requests",
        title="Service requests to the utility (CCASR) by type",
        columns=[
            D.Column("group", "Type"),
            *[D.Column(s.value, s.label, "requests") for s in statuses],
        ],
        rows=[(t.label, *[counts.get((t, s), 0) for s in statuses]) for t in types],
    )


def board_report_build(*, program: Program, today: dt.date, source: str = "auto") -> BoardReport:
    groups = D.account_groups(program=program, source=source)
    notices = D.notice_groups(program=program, source=source)
    accounts = sum(g[3] for g in groups.groups)
    rule = threshold_for([program])

    def rate(table: D.Table) -> ReportTable:
        return ReportTable(table.key, table.title, table.columns, _rate_rows(table, rule))

    def counts(table: D.Table) -> ReportTable:
        return ReportTable(table.key, table.title, table.columns, _count_rows(table, rule))

    tables = [
        rate(D.optout_rate_by_phase(groups=groups)),
        rate(D.optout_rate_by_class(groups=groups)),
        rate(D.optout_rate_by_city(groups=groups, top=None)),
        counts(_without_rate(D.optouts_by_channel(program=program, accounts=accounts))),
        counts(D.optouts_by_outcome(program=program)),
        counts(D.notice_compliance(program=program, today=today, notices=notices)),
        fees_by_class(program=program, rule=rule),
        counts(service_requests_by_type(program=program)),
    ]
    return BoardReport(
        program=program,
        as_of=today,
        generated_at=timezone.localtime(),
        tables=tables,
        threshold=rule,
        freshness=(groups.freshness, notices.freshness),
    )


def _without_rate(table: D.Table) -> D.Table:
    """Channel counts only: the share of accounts is worked out in the rate tables."""
    return D.Table(table.key, table.title, table.columns[:2], [r[:2] for r in table.rows])


def _shown(cell: Cell) -> str:
    return "" if cell.value is None else str(cell.value)


def board_report_csv(*, report: BoardReport) -> bytes:
    """One line per cell: `table, row, column, unit, value, suppressed` — a suppressed cell has
    no value and says why. No customer data: only the aggregates of the PDF."""
    out = io.StringIO()
    w = spreadsheet_writer(out, lineterminator="\r\n")
    w.writerow(["table", "row", "column", "unit", "value", "suppressed"])
    for t in report.tables:
        for r in t.rows:
            for col, cell in zip(t.columns[1:], r.cells, strict=True):
                w.writerow([t.title, r.label, col.label, col.unit, _shown(cell), cell.reason])
    return out.getvalue().encode("utf-8")


def board_report_pdf(*, report: BoardReport) -> bytes:
    from weasyprint import HTML

    html = render_to_string("reports/board_report.html", {"report": report})
    return HTML(string=html).write_pdf()
