"""The daily work, from stored dates: everything due or overdue is picked up, so a day the
beat task missed loses nothing (the next run does both days' work)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.utils import timezone

from accounts.models import PRE_ENROLLMENT_STATUSES, Channel, Program, Status
from accounts.services.calendar import today as business_today
from accounts.services.status import SYSTEM, Actor, accounts_transition_bulk
from cca_notices import rules as R
from cca_notices.models import Notice
from cca_notices.services.dashboard_tally import dashboard_tallies_refresh_after_commit
from cca_notices.services.scheduling import (
    RuleSetMissing,
    notices_cancel_for_left_accounts,
    notices_schedule_new_customers,
    rule_set_for,
)

CHUNK = 20_000


def accounts_enroll_due(*, program: Program, today: dt.date, actor: Actor = SYSTEM) -> int:
    """eligible/notified → enrolled on the enrollment date stored on the account's notices."""
    first_kinds = ["post_enrollment_1", "new_customer_1"]
    rows = Notice.objects.filter(
        program=program,
        kind__in=first_kinds,
        enrollment_date__lte=today,
        account__status__in=PRE_ENROLLMENT_STATUSES,
    ).values_list("account_id", "enrollment_date")
    by_date: dict[dt.date, list[int]] = defaultdict(list)
    for account_id, day in rows.iterator(chunk_size=CHUNK):
        by_date[day].append(account_id)
    moved = 0
    for day, ids in sorted(by_date.items()):
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            moved += accounts_transition_bulk(
                account_ids=chunk,
                to_status=Status.ENROLLED,
                channel=Channel.SYSTEM,
                actor=actor,
                reason=f"enrolled on its meter-read date {day}",
                enrollment_date=day,
            )
    return moved


def accounts_deem_participants(*, program: Program, today: dt.date, actor: Actor = SYSTEM) -> int:
    """enrolled → participant `participant_after_days` after the last notice was mailed."""
    rules = R.Rules.of(rule_set_for(program=program))
    last_kinds = [k[-1] for k in (rules.post_kinds, rules.new_customer_kinds) if k]
    cutoff = today - dt.timedelta(days=program.participant_after_days)
    ids = list(
        Notice.objects.filter(
            program=program,
            kind__in=last_kinds,
            status__in=(Notice.Status.MAILED, Notice.Status.RETURNED),
            mailed_on__lte=cutoff,
            account__status=Status.ENROLLED,
        ).values_list("account_id", flat=True)
    )
    return accounts_transition_bulk(
        account_ids=ids,
        to_status=Status.PARTICIPANT,
        channel=Channel.SYSTEM,
        actor=actor,
        reason=f"did not opt out within {program.participant_after_days} days of the last notice",
    )


def notices_run_due_work(*, today: dt.date | None = None, program_ids=None) -> dict[str, int]:
    today = today or business_today()
    totals: defaultdict[str, int] = defaultdict(int)
    programs = Program.objects.all()
    if program_ids is not None:
        programs = programs.filter(pk__in=program_ids)
    for program in programs:
        try:
            rule_set = rule_set_for(program=program)
        except RuleSetMissing:
            totals["programs_without_rule_set"] += 1
            continue
        now = timezone.now()
        before = sum(totals.values())
        totals["cancelled"] += notices_cancel_for_left_accounts(
            program=program, actor_name=SYSTEM.name, now=now
        )
        totals["new_customer_notices"] += notices_schedule_new_customers(
            program=program, rule_set=rule_set, actor_name=SYSTEM.name, now=now, not_before=today
        )
        totals["enrolled"] += accounts_enroll_due(program=program, today=today)
        totals["participants"] += accounts_deem_participants(program=program, today=today)
        if sum(totals.values()) > before:  # the dashboard's figures
            dashboard_tallies_refresh_after_commit(program_ids=[program.pk])
    return dict(totals)
