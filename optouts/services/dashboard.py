"""The dashboard's numbers: opt-outs per day against the mail drops, opt-out rates by phase,
customer class, city and channel, notice compliance per phase, and fees (docs/admin.md).

Every figure is an aggregate with GROUP BY in the database (one scan of each table); Python
only rolls the few hundred groups up. Each function returns a `Table`: the chart, its text
alternative and its CSV all come from the same rows.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncWeek

from accounts.models import OPTED_OUT_STATUSES, Channel, CustomerClass, Phase, Program
from accounts.models import ServiceAccount as Account
from accounts.services.spreadsheet import spreadsheet_writer
from cca_notices.models import MailBatch, Notice, NoticeKind
from optouts.models import FeeEntry, OptOutRequest, Outcome

NEW_CUSTOMER_KINDS = frozenset({NoticeKind.NEW_CUSTOMER_1, NoticeKind.NEW_CUSTOMER_2})
OTHER = "Other"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: str = ""  # "customers", "notices", "%", "$", "pieces", "date"


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[tuple]

    def column(self, key: str) -> list:
        i = [c.key for c in self.columns].index(key)
        return [r[i] for r in self.rows]


def rate_pct(part: int, whole: int) -> Decimal:
    if not whole:
        return Decimal("0.0")
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"))


# --- opt-outs per day ---------------------------------------------------------------------------
def optouts_per_day(*, program: Program) -> Table:
    """Opt-out requests by the business day they count from, and the notice pieces dropped in
    the mail that day (mail batches of notices), so a peak can be read against its drop."""
    optouts = dict(
        OptOutRequest.objects.filter(program=program)
        .values_list("request_date")
        .annotate(n=Count("id"))
        .order_by()
    )
    drops = dict(
        MailBatch.objects.filter(program=program, kind__in=NoticeKind.values)
        .values_list("mail_date")
        .annotate(n=Sum("notice_count"))
        .order_by()
    )
    days = sorted(set(optouts) | set(drops))
    rows = []
    if days:
        day, last = days[0], days[-1]
        while day <= last:  # every day, so the time axis has no gaps
            rows.append((day, optouts.get(day, 0), drops.get(day, 0)))
            day += dt.timedelta(days=1)
    return Table(
        key="optouts_per_day",
        title="Opt-outs per day, with the mail drops",
        columns=[
            Column("day", "Day", "date"),
            Column("optouts", "Opt-outs", "requests"),
            Column("notices_mailed", "Notices dropped in the mail", "notices"),
        ],
        rows=rows,
    )


# --- opt-out rates ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountGroups:
    """Accounts and opted-out accounts by (phase, class, city): the one scan of the registry
    that the rate tables roll up."""

    groups: list[tuple[int | None, str, str, int, int]]
    phase_names: dict[int | None, str]


def account_groups(*, program: Program) -> AccountGroups:
    rows = (
        Account.objects.filter(program=program)
        .values_list("phase_id", "customer_class", "service_city")
        .annotate(
            accounts=Count("id"), opted_out=Count("id", filter=Q(status__in=OPTED_OUT_STATUSES))
        )
        .order_by()
    )
    names: dict[int | None, str] = {
        p.pk: p.name for p in Phase.objects.filter(program=program).order_by("number")
    }
    names[None] = "No phase"
    return AccountGroups(groups=list(rows), phase_names=names)


RATE_COLUMNS = [
    Column("accounts", "Accounts", "customers"),
    Column("opted_out", "Opted out", "customers"),
    Column("rate", "Opt-out rate", "%"),
]


def _rate_table(key: str, title: str, label: str, totals: dict, order) -> Table:
    rows = [(name, a, o, rate_pct(o, a)) for name, (a, o) in sorted(totals.items(), key=order)]
    return Table(key=key, title=title, columns=[Column("group", label), *RATE_COLUMNS], rows=rows)


def _roll_up(groups, index: int) -> dict:
    totals: dict = defaultdict(lambda: [0, 0])
    for g in groups.groups:
        totals[g[index]][0] += g[3]
        totals[g[index]][1] += g[4]
    return {k: tuple(v) for k, v in totals.items()}


def optout_rate_by_phase(*, groups: AccountGroups) -> Table:
    totals = _roll_up(groups, 0)
    order = list(groups.phase_names)
    named = {groups.phase_names.get(k, str(k)): v for k, v in totals.items()}
    rank = {groups.phase_names[k]: order.index(k) for k in order}
    return _rate_table(
        "rate_by_phase",
        "Opt-out rate by phase",
        "Phase",
        named,
        lambda kv: rank.get(kv[0], len(rank)),
    )


def optout_rate_by_class(*, groups: AccountGroups) -> Table:
    labels = dict(CustomerClass.choices)
    order = list(labels)
    totals = _roll_up(groups, 1)
    named = {labels.get(k, k): v for k, v in totals.items()}
    rank = {labels[k]: i for i, k in enumerate(order)}
    return _rate_table(
        "rate_by_class",
        "Opt-out rate by customer class",
        "Customer class",
        named,
        lambda kv: rank.get(kv[0], len(rank)),
    )


def optout_rate_by_city(*, groups: AccountGroups, top: int | None = 15) -> Table:
    """Cities with the most accounts first; past `top`, the rest are one "Other" row."""
    totals = sorted(_roll_up(groups, 2).items(), key=lambda kv: (-kv[1][0], kv[0]))
    shown = dict(totals[:top] if top else totals)
    rest = totals[top:] if top else []
    if rest:
        shown[OTHER] = (sum(v[0] for _, v in rest), sum(v[1] for _, v in rest))
    rank = {k: i for i, k in enumerate(shown)}
    return _rate_table(
        "rate_by_city",
        "Opt-out rate by service city",
        "Service city",
        shown,
        lambda kv: rank[kv[0]],
    )


def optouts_by_channel(*, program: Program, accounts: int) -> Table:
    """Opt-out requests by channel, and as a share of the program's accounts."""
    labels = dict(Channel.choices)
    counts = dict(
        OptOutRequest.objects.filter(program=program)
        .values_list("channel")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = [
        (labels.get(ch, ch), n, rate_pct(n, accounts))
        for ch, n in sorted(counts.items(), key=lambda kv: list(labels).index(kv[0]))
    ]
    return Table(
        key="rate_by_channel",
        title="Opt-outs by channel",
        columns=[
            Column("group", "Channel"),
            Column("optouts", "Opt-outs", "requests"),
            Column("rate", "Share of accounts", "%"),
        ],
        rows=rows,
    )


def optouts_by_outcome(*, program: Program) -> Table:
    """When customers left: before enrollment, in the free window, after it (with a fee)."""
    labels = dict(Outcome.choices)
    counts = dict(
        OptOutRequest.objects.filter(program=program)
        .values_list("outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = [(labels[k], counts[k]) for k in labels if k in counts]
    return Table(
        key="optouts_by_outcome",
        title="Opt-outs by window",
        columns=[Column("group", "Window"), Column("optouts", "Opt-outs", "requests")],
        rows=rows,
    )


# --- notice compliance --------------------------------------------------------------------------
COMPLIANCE_COLUMNS = [
    Column("scheduled", "Scheduled (mail date ahead)", "notices"),
    Column("on_time", "Mailed on time", "notices"),
    Column("mailed_late", "Mailed late", "notices"),
    Column("overdue", "Late, not yet mailed", "notices"),
    Column("returned", "Returned undeliverable", "notices"),
]


def _phase_of(enrollment_date: dt.date, phases: list[Phase]) -> str:
    for p in phases:
        if p.enrollment_start <= enrollment_date <= p.enrollment_end:
            return p.name
    return OTHER


def _compliance_column(status: str, *, late: bool, past: bool) -> int | None:
    """Which of COMPLIANCE_COLUMNS a notice counts in (None: cancelled, left out)."""
    if status in (Notice.Status.SCHEDULED, Notice.Status.BATCHED):
        return 3 if past else 0
    if status == Notice.Status.MAILED:
        return 2 if late else 1
    if status == Notice.Status.RETURNED:
        return 4
    return None


def notice_compliance(*, program: Program, today: dt.date) -> Table:
    """Each phase's notices: scheduled, mailed on time (on or before the mail date), mailed
    late, late and still not mailed, returned. Cancelled notices are left out.

    One scan of the notices, grouped by enrollment date and kind; the enrollment date puts a
    mass-enrollment notice in its phase (the phase window holds it), and the new-customer
    track (service start, not a phase) is its own row."""
    # One plain COUNT per group, the categories worked out from the few hundred groups: cheaper
    # for the database than five filtered counts over every notice.
    rows = (
        Notice.objects.filter(program=program)
        .annotate(
            late=ExpressionWrapper(Q(mailed_on__gt=F("mail_date")), output_field=BooleanField()),
            past=ExpressionWrapper(Q(mail_date__lt=today), output_field=BooleanField()),
        )
        .values_list("enrollment_date", "kind", "status", "late", "past")
        .annotate(n=Count("id"))
        .order_by()
    )
    phases = list(Phase.objects.filter(program=program).order_by("number", "enrollment_start"))
    totals: dict[str, list[int]] = {p.name: [0] * 5 for p in phases}
    for enrollment_date, kind, status, late, past, n in rows:
        column = _compliance_column(status, late=bool(late), past=bool(past))
        if column is None:
            continue
        name = "New customers" if kind in NEW_CUSTOMER_KINDS else _phase_of(enrollment_date, phases)
        totals.setdefault(name, [0] * 5)[column] += n
    return Table(
        key="notice_compliance",
        title="Notice compliance by phase",
        columns=[Column("group", "Phase"), *COMPLIANCE_COLUMNS],
        rows=[(name, *counts) for name, counts in totals.items()],
    )


# --- fees ---------------------------------------------------------------------------------------
FEE_STATUS_ORDER = [
    FeeEntry.Status.ASSESSED,
    FeeEntry.Status.EXPORTED,
    FeeEntry.Status.BILLED,
    FeeEntry.Status.WAIVED,
]


def fees_by_week(*, program: Program) -> Table:
    """Fees by the week they were assessed (Monday), in dollars: still to export, exported
    (waiting for the utility's billing), billed, waived; every assessed fee is one of these."""
    rows = (
        FeeEntry.objects.filter(program=program)
        .annotate(week=TruncWeek("assessed_on"))
        .values_list("week", "status")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    weeks: dict[dt.date, dict[str, Decimal]] = defaultdict(dict)
    for week, status, amount in rows:
        week = week.date() if isinstance(week, dt.datetime) else week
        weeks[week][status] = amount
    out = []
    for week in sorted(weeks):
        amounts = [weeks[week].get(s, Decimal("0.00")) for s in FEE_STATUS_ORDER]
        out.append((week, sum(amounts, Decimal("0.00")), *amounts))
    return Table(
        key="fees_by_week",
        title="Fees assessed, billed and waived, by week assessed",
        columns=[
            Column("week", "Week of", "date"),
            Column("assessed", "Assessed (all)", "$"),
            Column("to_export", "Not yet exported", "$"),
            Column("exported", "Exported, awaiting billing", "$"),
            Column("billed", "Billed", "$"),
            Column("waived", "Waived", "$"),
        ],
        rows=out,
    )


# --- the whole dashboard ------------------------------------------------------------------------
@dataclass(frozen=True)
class Dashboard:
    program: Program
    today: dt.date
    accounts: int
    opted_out: int
    tables: dict[str, Table]

    @property
    def rate(self) -> Decimal:
        return rate_pct(self.opted_out, self.accounts)


def dashboard_build(*, program: Program, today: dt.date) -> Dashboard:
    groups = account_groups(program=program)
    accounts = sum(g[3] for g in groups.groups)
    opted_out = sum(g[4] for g in groups.groups)
    tables = [
        optouts_per_day(program=program),
        optout_rate_by_phase(groups=groups),
        optout_rate_by_class(groups=groups),
        optout_rate_by_city(groups=groups),
        optouts_by_channel(program=program, accounts=accounts),
        notice_compliance(program=program, today=today),
        fees_by_week(program=program),
    ]
    return Dashboard(
        program=program,
        today=today,
        accounts=accounts,
        opted_out=opted_out,
        tables={t.key: t for t in tables},
    )


def dashboard_table(*, program: Program, today: dt.date, key: str) -> Table:
    """One chart's table, computing only what it needs (a chart's CSV download)."""
    if key == "rate_by_phase":
        return optout_rate_by_phase(groups=account_groups(program=program))
    if key == "rate_by_class":
        return optout_rate_by_class(groups=account_groups(program=program))
    if key == "rate_by_city":
        return optout_rate_by_city(groups=account_groups(program=program))
    if key == "rate_by_channel":
        accounts = Account.objects.filter(program=program).count()
        return optouts_by_channel(program=program, accounts=accounts)
    if key == "optouts_per_day":
        return optouts_per_day(program=program)
    if key == "notice_compliance":
        return notice_compliance(program=program, today=today)
    if key == "fees_by_week":
        return fees_by_week(program=program)
    raise KeyError(key)


def table_csv(*, table: Table) -> bytes:
    """A chart's numbers as CSV: a header of column labels with their units, then its rows.
    For staff (the figures are not suppressed; the board report is the one to release)."""
    out = io.StringIO()
    w = spreadsheet_writer(out, lineterminator="\r\n")
    w.writerow([f"{c.label} ({c.unit})" if c.unit else c.label for c in table.columns])
    w.writerows(table.rows)
    return out.getvalue().encode("utf-8")
