"""Scheduling the notices: set-based, idempotent, audited.

The enrollment date of an account depends only on its phase window and its read cycle, so the
schedule is computed once per (phase, read cycle) in Python, where the rules are readable and
checked by the validator, and then applied to every account of the group with one INSERT …
SELECT (and one UPDATE for moved phases). A million accounts are a few dozen groups.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.models import (
    OPTED_OUT_STATUSES,
    PRE_ENROLLMENT_STATUSES,
    Phase,
    Program,
    ReadDate,
    ServiceAccount,
    Status,
)
from accounts.services.audit import audit_bulk
from accounts.services.calendar import program_calendar
from accounts.services.calendar import today as business_today
from cca_notices import rules as R
from cca_notices.models import Notice, NoticeChange, PhaseCycleSchedule, RuleSet, ScheduleRun
from cca_notices.services.dashboard_tally import NOTICES, dashboard_tallies_refresh_after_commit

# Accounts that still get the mass-enrollment track (an enrolled account already had it).
MASS_STATUSES = tuple(sorted(PRE_ENROLLMENT_STATUSES))
NEW_CUSTOMER_STATUSES = tuple(sorted(PRE_ENROLLMENT_STATUSES | {Status.ENROLLED}))
# No further notice to an account that left or moved away: opted out means no more mail.
NO_NOTICE_STATUSES = tuple(OPTED_OUT_STATUSES | {Status.MOVED_OUT})


class RuleSetMissing(LookupError):
    pass


def _builtin_rule_sets() -> dict[str, dict]:
    import importlib

    module = importlib.import_module("cca_notices.migrations.0002_rule_sets")
    return {row["code"]: row for row in module.RULE_SETS}


def rule_set_for(*, program: Program) -> RuleSet:
    try:
        return RuleSet.objects.get(code=program.notice_rule_set)
    except RuleSet.DoesNotExist:
        builtin = _builtin_rule_sets().get(program.notice_rule_set)
        if builtin is not None:
            # The two rule sets the migration loads are always there; a database flushed by a
            # test or restored without them gets them back as the migration wrote them.
            rule_set, _ = RuleSet.objects.get_or_create(
                code=builtin["code"], defaults={k: v for k, v in builtin.items() if k != "code"}
            )
            return rule_set
        known = ", ".join(RuleSet.objects.values_list("code", flat=True)) or "none loaded"
        raise RuleSetMissing(
            f"program {program.slug}: notice_rule_set {program.notice_rule_set!r} "
            f"is not a rule set (known: {known})"
        ) from None


@dataclass
class ScheduleResult:
    run: ScheduleRun
    created: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    not_moved: int = 0
    problems: list[dict] = field(default_factory=list)

    @property
    def unscheduled_accounts(self) -> int:
        return sum(p["accounts"] for p in self.problems)


def read_dates_by_cycle(*, utility_id: int, cycles) -> dict[int, list[dt.date]]:
    out: dict[int, list[dt.date]] = defaultdict(list)
    for cycle, day in (
        ReadDate.objects.filter(utility_id=utility_id, read_cycle__in=list(cycles))
        .order_by("read_cycle", "read_date")
        .values_list("read_cycle", "read_date")
    ):
        out[cycle].append(day)
    return out


def _p(value):
    """SQLite's driver gets dates as ISO text (a CAST would give them numeric affinity)."""
    if connection.vendor != "sqlite":
        return value
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _rowcount(cur) -> int:
    """Rows the last statement changed. Python's sqlite3 reports -1 for a statement that begins
    with WITH (it only counts statements that begin with INSERT/UPDATE/DELETE)."""
    if connection.vendor == "sqlite":
        cur.execute("SELECT changes()")
        return cur.fetchone()[0]
    return max(cur.rowcount, 0)


def _values_cte(rows: list[tuple], columns: str) -> tuple[str, list]:
    width = len(rows[0])
    if connection.vendor == "postgresql":
        # Types stated once, on the first row, so PostgreSQL does not guess `text` for dates.
        first = "(%s::integer, %s::varchar, %s::date, %s::date)"
        rest = "(" + ", ".join(["%s"] * width) + ")"
        values = ", ".join([first] + [rest] * (len(rows) - 1))
    else:
        values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(rows))
    params = [_p(v) for row in rows for v in row]
    return f"WITH v({columns}) AS (VALUES {values}) ", params


def _mass_group_schedules(
    *,
    rules: R.Rules,
    phase: Phase,
    cycles,
    reads: dict[int, list[dt.date]],
    not_before: dt.date,
) -> tuple[list[tuple], dict[int, str]]:
    """Rows (read_cycle, kind, mail_date, enrollment_date), and the cycles that cannot be
    scheduled."""
    rows, problems = [], {}
    mail_days = program_calendar(program=phase.program, kind="mail")
    for cycle in cycles:
        cycle_reads = reads.get(cycle, [])
        enrollment = R.enrollment_read(cycle_reads, phase.enrollment_start, phase.enrollment_end)
        if enrollment is None:
            problems[cycle] = (
                f"no meter read for cycle {cycle} in the phase window "
                f"{phase.enrollment_start} to {phase.enrollment_end}; import the read schedule"
            )
            continue
        try:
            dates = R.mass_schedule(
                rules,
                enrollment=enrollment,
                later_reads=R.reads_after(cycle_reads, enrollment, rules.post_count),
                not_before=not_before,
                mail_days=mail_days,
            )
        except R.ScheduleImpossible as exc:
            problems[cycle] = f"cycle {cycle}: {exc}"
            continue
        rows += [(cycle, kind, day, enrollment) for kind, day in dates.items()]
    return rows, problems


def _reschedule_moved(cur, *, phase, rule_set, rows, result, actor_name, now) -> None:
    """Notices not yet in a batch follow the phase's new enrollment dates, each with an audit row;
    notices already batched or mailed keep their dates and are reported."""
    cte, cte_params = _values_cte(rows, "read_cycle, kind, mail_date, enrollment_date")
    notice, account = Notice._meta.db_table, ServiceAccount._meta.db_table
    reason = (
        f"phase {phase.name} enrollment window is now {phase.enrollment_start} "
        f"to {phase.enrollment_end}; rescheduled by rule set {rule_set.code}"
    )
    moved_where = (
        "n.account_id = a.id AND a.read_cycle = v.read_cycle AND n.kind = v.kind "
        "AND a.phase_id = %s AND n.enrollment_date <> v.enrollment_date"
    )
    cur.execute(
        cte + f"INSERT INTO {NoticeChange._meta.db_table} (notice_id, at, actor_name, "
        "old_mail_date, new_mail_date, old_enrollment_date, new_enrollment_date, "
        "old_status, new_status, reason) "
        "SELECT n.id, %s, %s, n.mail_date, v.mail_date, n.enrollment_date, v.enrollment_date, "
        "n.status, n.status, %s "
        f"FROM {notice} n, {account} a, v WHERE {moved_where} AND n.status = %s",
        [*cte_params, _p(now), actor_name, reason, phase.pk, Notice.Status.SCHEDULED],
    )
    cur.execute(
        cte
        + f"UPDATE {notice} AS n SET mail_date = v.mail_date, enrollment_date = v.enrollment_date, "
        f"updated_at = %s FROM {account} a, v WHERE {moved_where} AND n.status = %s",
        [*cte_params, _p(now), phase.pk, Notice.Status.SCHEDULED],
    )
    result.rescheduled += _rowcount(cur)
    cur.execute(
        cte + f"SELECT COUNT(*) FROM {notice} n, {account} a, v "
        f"WHERE {moved_where} AND n.status NOT IN (%s, %s)",
        [*cte_params, phase.pk, Notice.Status.SCHEDULED, Notice.Status.CANCELLED],
    )
    not_moved = cur.fetchone()[0]
    if not_moved:
        result.not_moved += not_moved
        result.problems.append(
            {
                "phase": phase.name,
                "read_cycle": None,
                "accounts": 0,
                "reason": f"{not_moved} notice(s) already batched or mailed keep their dates; "
                "check them with the validator",
            }
        )


def _schedule_phase(
    *,
    phase: Phase,
    rule_set: RuleSet,
    rules: R.Rules,
    result: ScheduleResult,
    actor_name: str,
    now,
    not_before: dt.date,
) -> None:
    program = phase.program
    groups = dict(
        ServiceAccount.objects.filter(
            program=program, phase=phase, status__in=MASS_STATUSES, service_start_date__isnull=True
        )
        .values_list("read_cycle")
        .annotate(n=Count("id"))
        .values_list("read_cycle", "n")
    )
    if not groups:
        return
    reads = read_dates_by_cycle(utility_id=program.utility_id, cycles=groups)
    rows, problems = _mass_group_schedules(
        rules=rules, phase=phase, cycles=sorted(groups), reads=reads, not_before=not_before
    )
    for cycle, reason in problems.items():
        result.problems.append(
            {"phase": phase.name, "read_cycle": cycle, "accounts": groups[cycle], "reason": reason}
        )
    if not rows:
        return
    stored = dict(
        PhaseCycleSchedule.objects.filter(phase=phase).values_list("read_cycle", "enrollment_date")
    )
    moved_rows = [r for r in rows if r[0] in stored and stored[r[0]] != r[3]]
    notice, account = Notice._meta.db_table, ServiceAccount._meta.db_table
    mass_statuses = ", ".join(["%s"] * len(MASS_STATUSES))
    new_kinds = rules.new_customer_kinds or ["-"]
    new_kinds_sql = ", ".join(["%s"] * len(new_kinds))
    with connection.cursor() as cur:
        if moved_rows:
            _reschedule_moved(
                cur,
                phase=phase,
                rule_set=rule_set,
                rows=moved_rows,
                result=result,
                actor_name=actor_name,
                now=now,
            )
        cte, cte_params = _values_cte(rows, "read_cycle, kind, mail_date, enrollment_date")
        late_filter, late_params = "", []
        if phase.notices_scheduled_at is not None:
            # Accounts added after the phase was scheduled get the new-customer track instead.
            late_filter, late_params = " AND a.created_at <= %s", [_p(phase.notices_scheduled_at)]
        cur.execute(
            cte + f"INSERT INTO {notice} (account_id, program_id, kind, rule_set, enrollment_date, "
            "mail_date, status, piece_id, return_reason, created_at, updated_at) "
            "SELECT a.id, a.program_id, v.kind, %s, v.enrollment_date, v.mail_date, %s, '', '', "
            "%s, %s "
            f"FROM {account} a JOIN v ON v.read_cycle = a.read_cycle "
            f"WHERE a.phase_id = %s AND a.status IN ({mass_statuses}) "
            f"AND a.service_start_date IS NULL{late_filter} "
            f"AND NOT EXISTS (SELECT 1 FROM {notice} x "
            f"WHERE x.account_id = a.id AND x.kind IN ({new_kinds_sql})) "
            "ON CONFLICT (account_id, kind) DO NOTHING",
            [
                *cte_params,
                rule_set.code,
                Notice.Status.SCHEDULED,
                _p(now),
                _p(now),
                phase.pk,
                *MASS_STATUSES,
                *late_params,
                *new_kinds,
            ],
        )
        result.created += _rowcount(cur)
    for cycle in sorted({r[0] for r in rows}):
        PhaseCycleSchedule.objects.update_or_create(
            phase=phase,
            read_cycle=cycle,
            defaults={
                "enrollment_date": next(r[3] for r in rows if r[0] == cycle),
                "rule_set": rule_set.code,
                "updated_at": now,
            },
        )
    if phase.notices_scheduled_at is None:
        Phase.objects.filter(pk=phase.pk).update(notices_scheduled_at=now)
        phase.notices_scheduled_at = now


def notices_cancel_for_left_accounts(*, program: Program, actor_name: str, now=None) -> int:
    """Cancel the notices not yet in a batch of accounts that opted out or moved away."""
    now = now or timezone.now()
    # Driven from the (few) accounts that left, through the account-status index, not from
    # the millions of notices.
    left = ServiceAccount.objects.filter(program=program, status__in=NO_NOTICE_STATUSES).values(
        "pk"
    )
    qs = Notice.objects.filter(account_id__in=left, status=Notice.Status.SCHEDULED)
    rows = list(qs.order_by().values_list("pk", "mail_date", "account__status"))
    if not rows:
        return 0
    with transaction.atomic():
        NoticeChange.objects.bulk_create(
            NoticeChange(
                notice_id=pk,
                at=now,
                actor_name=actor_name,
                old_mail_date=day,
                old_status=Notice.Status.SCHEDULED,
                new_status=Notice.Status.CANCELLED,
                reason=f"account is {status}: no further notices",
            )
            for pk, day, status in rows
        )
        return Notice.objects.filter(
            pk__in=[r[0] for r in rows], status=Notice.Status.SCHEDULED
        ).update(status=Notice.Status.CANCELLED, updated_at=now)


def notices_schedule_new_customers(
    *,
    program: Program,
    rule_set: RuleSet | None = None,
    phase: Phase | None = None,
    actor_name: str,
    now=None,
    not_before: dt.date | None = None,
    result: ScheduleResult | None = None,
) -> int:
    """The new-customer track: accounts with a service start date, and accounts added to a phase
    after it was scheduled (their reference date is the later of their enrollment read and the
    day they were added)."""
    now = now or timezone.now()
    not_before = not_before or business_today()
    rule_set = rule_set or rule_set_for(program=program)
    rules = R.Rules.of(rule_set)
    if not rules.new_customer_kinds:
        return 0
    late = Q(
        phase__notices_scheduled_at__isnull=False,
        created_at__gt=F("phase__notices_scheduled_at"),
        service_start_date__isnull=True,
    )
    qs = ServiceAccount.objects.filter(
        program=program, status__in=NEW_CUSTOMER_STATUSES, notices__isnull=True
    ).filter(Q(service_start_date__isnull=False) | late)
    if phase is not None:
        qs = qs.filter(phase=phase)
    candidates = list(
        qs.order_by().values_list(
            "pk", "service_start_date", "created_at", "phase_id", "read_cycle"
        )
    )
    if not candidates:
        return 0
    phases = {p.pk: p for p in Phase.objects.filter(pk__in={c[3] for c in candidates if c[3]})}
    reads = read_dates_by_cycle(utility_id=program.utility_id, cycles={c[4] for c in candidates})
    notices: list[Notice] = []
    problems: defaultdict[str, int] = defaultdict(int)
    mail_days = program_calendar(program=program, kind="mail")
    for pk, start, created, phase_id, cycle in candidates:
        if start is None:
            added = timezone.localdate(created)
            ph = phases[phase_id]
            enrollment = R.enrollment_read(
                reads.get(cycle, []), ph.enrollment_start, ph.enrollment_end
            )
            start = max(enrollment or added, added)
        try:
            dates = R.new_customer_schedule(
                rules, service_start=start, not_before=not_before, mail_days=mail_days
            )
        except R.ScheduleImpossible as exc:
            problems[str(exc)] += 1
            continue
        notices += [
            Notice(
                account_id=pk,
                program_id=program.pk,
                kind=kind,
                rule_set=rule_set.code,
                enrollment_date=start,
                mail_date=day,
                created_at=now,
                updated_at=now,
            )
            for kind, day in dates.items()
        ]
    Notice.objects.bulk_create(notices, batch_size=5000, ignore_conflicts=True)
    if result is not None:
        result.created += len(notices)
        for reason, n in problems.items():
            result.problems.append(
                {
                    "phase": None,
                    "read_cycle": None,
                    "accounts": n,
                    "reason": f"new-customer track: {reason}",
                }
            )
    return len(notices)


def notices_schedule(
    *,
    program: Program,
    phase: Phase | None = None,
    actor_name: str,
    today: dt.date | None = None,
    progress=None,
) -> ScheduleResult:
    """Schedule (or re-schedule) the notices of a program, or of one of its phases.

    Idempotent: a second run with the same data creates, moves and cancels nothing.
    """
    now = timezone.now()
    today = today or business_today()
    rule_set = rule_set_for(program=program)
    rules = R.Rules.of(rule_set)
    run = ScheduleRun.objects.create(
        program=program, phase=phase, actor_name=actor_name, started_at=now
    )
    result = ScheduleResult(run=run)
    result.cancelled = notices_cancel_for_left_accounts(
        program=program, actor_name=actor_name, now=now
    )
    phases = [phase] if phase is not None else list(program.phases.all())
    if progress is not None and hasattr(progress, "total"):
        progress.total = len(phases)
    for ph in phases:
        with transaction.atomic():
            _schedule_phase(
                phase=ph,
                rule_set=rule_set,
                rules=rules,
                result=result,
                actor_name=actor_name,
                now=now,
                not_before=today,
            )
        if progress is not None:
            progress(ph)
    with transaction.atomic():
        notices_schedule_new_customers(
            program=program,
            rule_set=rule_set,
            phase=phase,
            actor_name=actor_name,
            now=now,
            not_before=today,
            result=result,
        )
    ScheduleRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(),
        created=result.created,
        rescheduled=result.rescheduled,
        cancelled=result.cancelled,
        not_moved=result.not_moved,
        unscheduled_accounts=result.unscheduled_accounts,
        problems=result.problems,
    )
    run.refresh_from_db()
    # The notices are written set-based (no model signal): one audit entry for the run.
    audit_bulk(
        instance=run,
        what="notices scheduled",
        counts={
            "created": result.created,
            "rescheduled": result.rescheduled,
            "cancelled": result.cancelled,
            "not_moved": result.not_moved,
        },
    )
    if result.created or result.rescheduled or result.cancelled:  # the dashboard's figures
        dashboard_tallies_refresh_after_commit(program_ids=[program.pk], names=[NOTICES])
    return result
