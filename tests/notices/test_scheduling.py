import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Phase, Status
from cca_notices.models import Notice, NoticeChange, RuleSet, ScheduleRun
from cca_notices.services.scheduling import RuleSetMissing, notices_schedule
from cca_notices.services.validation import account_schedule_violations
from tests.factories import ServiceAccountFactory

D = dt.date
TODAY = D(2026, 11, 23)


def snapshot():
    return sorted(
        Notice.objects.values_list(
            "account_id", "kind", "mail_date", "enrollment_date", "status", "updated_at"
        )
    )


def run(program, **kw):
    return notices_schedule(program=program, actor_name="test", today=kw.pop("today", TODAY), **kw)


@pytest.fixture
def accounts(program, phase, reads):
    return {
        1: ServiceAccountFactory.create_batch(3, program=program, phase=phase, read_cycle=1),
        2: ServiceAccountFactory.create_batch(2, program=program, phase=phase, read_cycle=2),
        3: ServiceAccountFactory.create_batch(1, program=program, phase=phase, read_cycle=3),
    }


def test_schedules_four_notices_per_account_from_its_read_cycle(program, phase, accounts):
    result = run(program)
    assert result.created == 5 * 4
    a = accounts[1][0]
    assert dict(Notice.objects.filter(account=a).values_list("kind", "mail_date")) == {
        "pre_enrollment_1": D(2027, 1, 4),
        "pre_enrollment_2": D(2027, 2, 1),
        "post_enrollment_1": D(2027, 3, 5),
        "post_enrollment_2": D(2027, 4, 5),
    }
    assert set(
        Notice.objects.filter(account=accounts[2][0]).values_list("enrollment_date", flat=True)
    ) == {D(2027, 3, 16)}
    for acct in accounts[1] + accounts[2]:
        assert account_schedule_violations(account=acct) == []
    phase.refresh_from_db()
    assert phase.notices_scheduled_at is not None


def test_accounts_without_a_read_in_the_window_are_reported(program, phase, accounts):
    result = run(program)
    assert result.problems == [
        {
            "phase": "Phase 1",
            "read_cycle": 3,
            "accounts": 1,
            "reason": "no meter read for cycle 3 in the phase window 2027-03-01 to 2027-03-31; "
            "import the read schedule",
        }
    ]
    assert not Notice.objects.filter(account=accounts[3][0]).exists()
    assert ScheduleRun.objects.get().unscheduled_accounts == 1


def test_rerunning_changes_nothing(program, phase, accounts):
    run(program)
    before = snapshot()
    result = run(program, today=TODAY + dt.timedelta(days=20))
    assert (result.created, result.rescheduled, result.cancelled) == (0, 0, 0)
    assert snapshot() == before
    assert not NoticeChange.objects.exists()


def test_moving_a_phase_reschedules_unmailed_notices_and_records_why(program, phase, accounts):
    run(program)
    a = accounts[1][0]
    mailed = Notice.objects.get(account=a, kind="pre_enrollment_1")
    Notice.objects.filter(pk=mailed.pk).update(
        status=Notice.Status.MAILED, mailed_on=mailed.mail_date
    )
    Phase.objects.filter(pk=phase.pk).update(
        enrollment_start=D(2027, 4, 1), enrollment_end=D(2027, 4, 30)
    )
    phase.refresh_from_db()

    result = run(program)
    # Cycle 1 now enrolls on 2027-04-01: 3 accounts × 3 unmailed + 2 accounts × 4 in cycle 2 move;
    # the mailed notice stays and is reported.
    assert result.rescheduled == 3 * 4 - 1 + 2 * 4
    assert result.not_moved == 1
    assert Notice.objects.get(pk=mailed.pk).mail_date == mailed.mail_date
    moved = Notice.objects.get(account=a, kind="post_enrollment_1")
    assert (moved.enrollment_date, moved.mail_date) == (D(2027, 4, 1), D(2027, 4, 5))
    change = NoticeChange.objects.get(notice=moved)
    assert (change.old_enrollment_date, change.new_enrollment_date) == (
        D(2027, 3, 2),
        D(2027, 4, 1),
    )
    assert (change.old_mail_date, change.new_mail_date) == (D(2027, 3, 5), D(2027, 4, 5))
    assert change.reason == (
        "phase Phase 1 enrollment window is now 2027-04-01 to 2027-04-30; "
        "rescheduled by rule set ca_rule23"
    )
    # The mailed notice is now 88 days before enrollment: the validator says so.
    assert account_schedule_violations(account=a) == [
        f"pre_enrollment_1 on {mailed.mail_date} is 87 days before enrollment on 2027-04-01; the "
        "rule allows 60",
    ]
    assert account_schedule_violations(account=accounts[1][1]) == []


def test_opted_out_accounts_get_no_further_notices(program, phase, accounts):
    gone = ServiceAccountFactory(
        program=program, phase=phase, read_cycle=1, status=Status.OPTED_OUT_PRE
    )
    run(program)
    assert not Notice.objects.filter(account=gone).exists()
    leaving = accounts[1][0]
    from accounts.services.status import Actor, account_transition

    account_transition(
        account=leaving, to_status=Status.OPTED_OUT_PRE, channel="web", actor=Actor("customer")
    )
    result = run(program)
    assert result.cancelled == 4
    assert set(Notice.objects.filter(account=leaving).values_list("status", flat=True)) == {
        "cancelled"
    }
    assert (
        NoticeChange.objects.filter(
            notice__account=leaving, reason="account is opted_out_pre: no further notices"
        ).count()
        == 4
    )


def test_account_added_after_scheduling_gets_the_new_customer_track(program, phase, accounts):
    run(program)
    late = ServiceAccountFactory(program=program, phase=phase, read_cycle=1)
    late_added = timezone.localdate(late.created_at)
    result = run(program)
    assert result.created == 2
    notices = dict(Notice.objects.filter(account=late).values_list("kind", "enrollment_date"))
    # Reference date: its enrollment read (2027-03-02) — later than the day it was added.
    assert notices == {
        "new_customer_1": max(D(2027, 3, 2), late_added),
        "new_customer_2": max(D(2027, 3, 2), late_added),
    }
    assert account_schedule_violations(account=late) == []


def test_new_customer_with_service_start(program, phase, reads):
    newcomer = ServiceAccountFactory(
        program=program, phase=None, read_cycle=5, service_start_date=D(2027, 1, 15)
    )
    run(program)
    assert dict(Notice.objects.filter(account=newcomer).values_list("kind", "mail_date")) == {
        "new_customer_1": D(2027, 1, 25),
        "new_customer_2": D(2027, 2, 24),
    }


def test_legacy_rule_set_is_data(program, phase, accounts):
    program.notice_rule_set = "ab9_legacy"
    program.save()
    run(program)
    a = accounts[1][0]
    assert dict(Notice.objects.filter(account=a).values_list("kind", "mail_date")) == {
        "pre_enrollment_1": D(2027, 1, 29),
        "post_enrollment_1": D(2027, 3, 5),
        "post_enrollment_2": D(2027, 4, 5),
        "post_enrollment_3": D(2027, 5, 4),
    }
    assert account_schedule_violations(account=a) == []
    assert RuleSet.objects.get(code="ab9_legacy").free_window_days == 180


def test_unknown_rule_set_is_named(program, phase):
    program.notice_rule_set = "nope"
    with pytest.raises(RuleSetMissing, match="notice_rule_set 'nope' is not a rule set"):
        run(program)


def test_phase_option_limits_the_run(program, phase, accounts):
    from tests.factories import PhaseFactory

    other = PhaseFactory(
        program=program,
        name="Phase 2",
        enrollment_start=D(2027, 4, 1),
        enrollment_end=D(2027, 4, 30),
    )
    b = ServiceAccountFactory(program=program, phase=other, read_cycle=1)
    run(program, phase=phase)
    assert not Notice.objects.filter(account=b).exists()
    run(program, phase=other)
    assert Notice.objects.filter(account=b).count() == 4


def test_builtin_rule_sets_come_back_when_missing(program, phase, accounts):
    RuleSet.objects.all().delete()
    run(program)
    assert RuleSet.objects.get(code="ca_rule23").name == "California Rule 23 (AB 117)"
    assert Notice.objects.count() == 20
