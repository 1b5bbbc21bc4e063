"""The dashboard's numbers: opt-outs per day against the mail drops, opt-out rates by phase,
customer class, city and channel, notice compliance per phase, and fees (docs/admin.md).

Every figure is an aggregate with GROUP BY in the database; Python only rolls the groups up.
The two that would scan millions of rows — the opt-out rates (every account) and notice
compliance (every notice) — read the program's pre-aggregated tallies instead while they are
fresh (accounts.services.tally: rebuilt set-based by the beat and after each bulk change), and
fall back to the live GROUP BY, saying why, when a tally is missing or older than its bound. The
live queries (`account_groups_live`, `notice_groups_live`) stay the reference the tests hold the
tallies to. Each function returns a `Table`: the chart, its text alternative and its CSV all
come from the same rows.
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
from accounts.services.account_tally import ACCOUNTS, account_tally_groups
from accounts.services.spreadsheet import spreadsheet_writer
from accounts.services.tally import Freshness, FromTallies, tally_freshness
from cca_notices.models import MailBatch, Notice, NoticeKind
from cca_notices.services.dashboard_tally import NOTICES, notice_tally_groups
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
def optout_request_groups(*, program: Program) -> list[tuple[dt.date, str, int]]:
    """Opt-out requests by (request date, channel): the one scan of the requests that the
    per-day and the per-channel tables both roll up."""
    return list(
        OptOutRequest.objects.filter(program=program)
        .values_list("request_date", "channel")
        .annotate(n=Count("id"))
        .order_by()
    )


def optouts_per_day(
    *, program: Program, requests: list[tuple[dt.date, str, int]] | None = None
) -> Table:
    """Opt-out requests by the business day they count from, and the notice pieces dropped in
    the mail that day (mail batches of notices), so a peak can be read against its drop."""
    optouts: dict[dt.date, int] = defaultdict(int)
    for day, _, n in optout_request_groups(program=program) if requests is None else requests:
        optouts[day] += n
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
    freshness: Freshness


def account_groups_live(*, program: Program) -> list[tuple[int | None, str, str, int, int]]:
    """(phase id, class, city, accounts, opted out) from the accounts themselves: the reference
    the accounts tally is held to, and the fallback when it is not fresh."""
    return list(
        Account.objects.filter(program=program)
        .values_list("phase_id", "customer_class", "service_city")
        .annotate(
            accounts=Count("id"), opted_out=Count("id", filter=Q(status__in=OPTED_OUT_STATUSES))
        )
        .order_by()
    )


def account_groups_tallied(*, program: Program) -> list[tuple[int | None, str, str, int, int]]:
    """The same groups from the accounts tally (which keeps each status apart)."""
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for phase_id, klass, city, status, n in account_tally_groups(program_id=program.pk):
        t = totals[(phase_id, klass, city)]
        t[0] += n
        t[1] += n if status in OPTED_OUT_STATUSES else 0
    return [(*k, a, o) for k, (a, o) in totals.items()]


def account_groups(*, program: Program, source: str = "auto") -> AccountGroups:
    """`source`: "auto" (the tally while fresh, else live), "live" or "tally" (tally_freshness)."""
    fresh = tally_freshness(program_id=program.pk, name=ACCOUNTS, source=source)
    rows = (
        account_groups_live(program=program)
        if fresh.live
        else account_groups_tallied(program=program)
    )
    rows.sort(key=lambda g: (g[0] or 0, g[1], g[2]))  # the same order from tally and live
    names: dict[int | None, str] = {
        p.pk: p.name for p in Phase.objects.filter(program=program).order_by("number")
    }
    names[None] = "No phase"
    return AccountGroups(groups=rows, phase_names=names, freshness=fresh)


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


def optouts_by_channel(
    *, program: Program, accounts: int, requests: list[tuple[dt.date, str, int]] | None = None
) -> Table:
    """Opt-out requests by channel, and as a share of the program's accounts."""
    labels = dict(Channel.choices)
    counts: dict[str, int] = defaultdict(int)
    for _, channel, n in optout_request_groups(program=program) if requests is None else requests:
        counts[channel] += n
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


@dataclass(frozen=True)
class NoticeGroups:
    """Notices by (enrollment date, kind, status, mail date, mailed late): what compliance
    rolls up, from the notices tally or live."""

    groups: list[tuple[dt.date, str, str, dt.date, bool, int]]
    freshness: Freshness


def notice_groups_live(*, program: Program) -> list[tuple[dt.date, str, str, dt.date, bool, int]]:
    """The groups from the notices themselves: the reference the notices tally is held to, and
    the fallback when it is not fresh. One plain COUNT per group, the categories worked out
    from the groups: cheaper for the database than five filtered counts over every notice."""
    rows = (
        Notice.objects.filter(program=program)
        .annotate(
            late=ExpressionWrapper(Q(mailed_on__gt=F("mail_date")), output_field=BooleanField())
        )
        .values_list("enrollment_date", "kind", "status", "mail_date", "late")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [(e, k, s, m, bool(late), n) for e, k, s, m, late, n in rows]


def notice_groups(*, program: Program, source: str = "auto") -> NoticeGroups:
    """`source`: "auto" (the tally while fresh, else live), "live" or "tally" (tally_freshness)."""
    fresh = tally_freshness(program_id=program.pk, name=NOTICES, source=source)
    if fresh.live:
        return NoticeGroups(notice_groups_live(program=program), fresh)
    rows = [(*r[:4], bool(r[4]), r[5]) for r in notice_tally_groups(program_id=program.pk)]
    return NoticeGroups(rows, fresh)


def notice_compliance(
    *, program: Program, today: dt.date, notices: NoticeGroups | None = None
) -> Table:
    """Each phase's notices: scheduled, mailed on time (on or before the mail date), mailed
    late, late and still not mailed, returned. Cancelled notices are left out.

    From the notices grouped by enrollment date, kind, status and mail date; the enrollment
    date puts a mass-enrollment notice in its phase (the phase window holds it), and the
    new-customer track (service start, not a phase) is its own row. "Past its mail date" is
    decided here, against `today`, so a tally built yesterday still reads right today."""
    notices = notices or notice_groups(program=program)
    phases = list(Phase.objects.filter(program=program).order_by("number", "enrollment_start"))
    totals: dict[str, list[int]] = {p.name: [0] * 5 for p in phases}
    # In a fixed order, so the rows outside the phases come out the same from tally and live.
    for enrollment_date, kind, status, mail_date, late, n in sorted(notices.groups):
        column = _compliance_column(status, late=late, past=mail_date < today)
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
class Dashboard(FromTallies):
    program: Program
    today: dt.date
    accounts: int
    opted_out: int
    tables: dict[str, Table]
    # Where the account figures (the totals, the rates, the channels' shares) and notice
    # compliance came from; the other charts are always live.
    freshness: tuple[Freshness, ...] = ()

    @property
    def rate(self) -> Decimal:
        return rate_pct(self.opted_out, self.accounts)


def dashboard_build(*, program: Program, today: dt.date, source: str = "auto") -> Dashboard:
    """Every chart of the program. `source` is for the tallied figures ("auto", "live",
    "tally"; tally_freshness): the tests build the same dashboard both ways and compare."""
    groups = account_groups(program=program, source=source)
    notices = notice_groups(program=program, source=source)
    requests = optout_request_groups(program=program)
    accounts = sum(g[3] for g in groups.groups)
    opted_out = sum(g[4] for g in groups.groups)
    tables = [
        optouts_per_day(program=program, requests=requests),
        optout_rate_by_phase(groups=groups),
        optout_rate_by_class(groups=groups),
        optout_rate_by_city(groups=groups),
        optouts_by_channel(program=program, accounts=accounts, requests=requests),
        notice_compliance(program=program, today=today, notices=notices),
        fees_by_week(program=program),
    ]
    return Dashboard(
        program=program,
        today=today,
        accounts=accounts,
        opted_out=opted_out,
        tables={t.key: t for t in tables},
        freshness=(groups.freshness, notices.freshness),
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
        accounts = sum(g[3] for g in account_groups(program=program).groups)
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
