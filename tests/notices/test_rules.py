"""The rules as pure functions: every generated schedule passes the validator; hand-made bad
schedules fail with the exact reason."""

import datetime as dt
import zoneinfo

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from cca_notices import rules as R

D = dt.date
LA = zoneinfo.ZoneInfo("America/Los_Angeles")


def _dst_days(year):
    """Second Sunday of March and first Sunday of November (US DST changes)."""
    march = D(year, 3, 8) + dt.timedelta(days=(6 - D(year, 3, 8).weekday()) % 7)
    november = D(year, 11, 1) + dt.timedelta(days=(6 - D(year, 11, 1).weekday()) % 7)
    return [march, november]


def _month_end(year, month):
    return (D(year + month // 12, month % 12 + 1, 1)) - dt.timedelta(days=1)


# Days worth testing around: month ends, leap days, DST changes, and anything else.
interesting_days = st.one_of(
    st.builds(_month_end, st.integers(2024, 2040), st.integers(1, 12)),
    st.sampled_from([D(2028, 2, 29), D(2032, 2, 29), D(2027, 2, 28), D(2100, 2, 28)]),
    st.integers(2024, 2040).flatmap(lambda y: st.sampled_from(_dst_days(y))),
    st.dates(min_value=D(2024, 1, 1), max_value=D(2040, 12, 31)),
)


@st.composite
def read_cycle(draw):
    """A meter-read cycle: reads 26–35 days apart (utility billing periods), around an anchor
    day."""
    anchor = draw(interesting_days)
    offset = draw(st.integers(0, 35))
    first = anchor - dt.timedelta(days=120 + offset)
    gaps = draw(st.lists(st.integers(26, 35), min_size=12, max_size=12))
    reads = [first]
    for g in gaps:
        reads.append(reads[-1] + dt.timedelta(days=g))
    return anchor, reads


rule_sets = st.sampled_from([R.CA_RULE23, R.AB9_LEGACY])


@settings(max_examples=300, deadline=None)
@given(rules=rule_sets, cycle=read_cycle(), window_len=st.integers(27, 31))
@example(
    rules=R.CA_RULE23,
    cycle=(D(2028, 2, 29), [D(2027, 10, 29) + dt.timedelta(days=30 * i) for i in range(13)]),
    window_len=30,
)
def test_every_generated_schedule_passes_the_validator(rules, cycle, window_len):
    anchor, reads = cycle
    start = anchor
    enrollment = R.enrollment_read(reads, start, start + dt.timedelta(days=window_len))
    # A month-long window always holds one read of a cycle of at most 35 days … nearly always.
    assume(enrollment is not None)
    assert start <= enrollment <= start + dt.timedelta(days=window_len)
    later = R.reads_after(reads, enrollment, rules.post_count)
    schedule = R.mass_schedule(rules, enrollment=enrollment, later_reads=later)
    assert set(schedule) == set(rules.mass_kinds)
    assert (
        R.mass_violations(rules, enrollment=enrollment, notices=schedule, later_reads=later) == []
    )
    # Post-enrollment notices land in consecutive billing cycles, one per cycle.
    bounds = [enrollment, *later]
    for k, kind in enumerate(rules.post_kinds, start=1):
        assert bounds[k - 1] <= schedule[kind] < bounds[k]


@settings(max_examples=200, deadline=None)
@given(rules=rule_sets, cycle=read_cycle(), late_by=st.integers(0, 90))
def test_scheduling_late_either_meets_the_rule_or_says_why(rules, cycle, late_by):
    """Scheduled after the ideal dates have passed: notices move to the first day still possible,
    or the scheduler refuses with a reason; it never produces a schedule that breaks the rule."""
    anchor, reads = cycle
    enrollment = R.enrollment_read(reads, anchor, anchor + dt.timedelta(days=31))
    assume(enrollment is not None)
    later = R.reads_after(reads, enrollment, rules.post_count)
    not_before = enrollment - dt.timedelta(days=rules.pre_window_days) + dt.timedelta(days=late_by)
    try:
        schedule = R.mass_schedule(
            rules, enrollment=enrollment, later_reads=later, not_before=not_before
        )
    except R.ScheduleImpossible as exc:
        assert "cannot be mailed" in str(exc)
        return
    assert min(schedule.values()) >= not_before
    assert (
        R.mass_violations(rules, enrollment=enrollment, notices=schedule, later_reads=later) == []
    )


@settings(max_examples=200, deadline=None)
@given(rules=rule_sets, start=interesting_days)
def test_new_customer_schedules_pass_the_validator(rules, start):
    schedule = R.new_customer_schedule(rules, service_start=start)
    assert list(schedule) == rules.new_customer_kinds
    assert R.new_customer_violations(rules, service_start=start, notices=schedule) == []


@settings(max_examples=100, deadline=None)
@given(
    day=st.integers(2024, 2040).flatmap(lambda y: st.sampled_from(_dst_days(y))),
    minutes=st.integers(-26 * 60, 26 * 60),
)
def test_day_counts_are_calendar_days_across_dst(day, minutes):
    """A notice mailed at any instant around a DST change counts on its Pacific business date,
    and the rule counts calendar days (a 23- or 25-hour day is still one day)."""
    instant = dt.datetime.combine(day, dt.time(12), tzinfo=LA) + dt.timedelta(minutes=minutes)
    mailed_on = instant.astimezone(LA).date()
    enrollment = mailed_on + dt.timedelta(days=60)
    assert (
        R.mass_violations(
            R.CA_RULE23,
            enrollment=enrollment,
            notices={
                "pre_enrollment_1": mailed_on,
                "pre_enrollment_2": mailed_on + dt.timedelta(days=30),
                "post_enrollment_1": enrollment + dt.timedelta(days=3),
                "post_enrollment_2": enrollment + dt.timedelta(days=33),
            },
            later_reads=[enrollment + dt.timedelta(days=30), enrollment + dt.timedelta(days=60)],
        )
        == []
    )


# --- hand-made bad schedules ---------------------------------------------------------------

E = D(2027, 3, 1)
READS = [D(2027, 3, 31), D(2027, 4, 30), D(2027, 5, 30)]
GOOD = {
    "pre_enrollment_1": D(2027, 1, 4),
    "pre_enrollment_2": D(2027, 1, 29),
    "post_enrollment_1": D(2027, 3, 4),
    "post_enrollment_2": D(2027, 4, 2),
}


def check(rules=R.CA_RULE23, **changes):
    notices = {**GOOD, **changes}
    notices = {k: v for k, v in notices.items() if v is not None}
    return R.mass_violations(rules, enrollment=E, notices=notices, later_reads=READS)


def test_the_good_schedule_passes():
    assert check() == []


def test_post_notice_too_late():
    assert check(post_enrollment_2=D(2027, 5, 2)) == [
        "post_enrollment_2 on 2027-05-02 is 62 days after enrollment on 2027-03-01; the rule "
        "allows 60",
        "post_enrollment_2 on 2027-05-02 is not in billing cycle 2 after enrollment (2027-03-31 "
        "to 2027-04-29)",
    ]


def test_pre_notice_too_early():
    assert check(pre_enrollment_1=D(2026, 12, 30)) == [
        "pre_enrollment_1 on 2026-12-30 is 61 days before enrollment on 2027-03-01; the rule "
        "allows 60",
    ]


def test_pre_notice_on_enrollment_day():
    assert check(pre_enrollment_2=E) == [
        "pre_enrollment_2 on 2027-03-01 is not before enrollment on 2027-03-01"
    ]


def test_two_post_notices_in_one_billing_cycle():
    assert check(post_enrollment_2=D(2027, 3, 20)) == [
        "post_enrollment_2 on 2027-03-20 is not in billing cycle 2 after enrollment (2027-03-31 "
        "to 2027-04-29)",
    ]


def test_missing_notice_and_notices_too_close():
    assert check(
        pre_enrollment_2=None, post_enrollment_1=D(2027, 3, 30), post_enrollment_2=D(2027, 3, 31)
    ) == [
        "pre_enrollment_2 is missing",
        "post_enrollment_2 on 2027-03-31 is 1 day after post_enrollment_1 on 2027-03-30; the rule "
        "asks for at least 7",
    ]


def test_post_notice_on_enrollment_day():
    assert check(post_enrollment_1=E) == [
        "post_enrollment_1 on 2027-03-01 is not after enrollment on 2027-03-01"
    ]


def test_legacy_rule_set_wants_thirty_days_and_three_cycles():
    notices = {
        "pre_enrollment_1": D(2027, 2, 10),
        "post_enrollment_1": D(2027, 3, 4),
        "post_enrollment_2": D(2027, 4, 2),
    }
    assert R.mass_violations(R.AB9_LEGACY, enrollment=E, notices=notices, later_reads=READS) == [
        "post_enrollment_3 is missing",
        "pre_enrollment_1 on 2027-02-10 is 19 days before enrollment on 2027-03-01; the rule asks "
        "for at least 30",
    ]


def test_kind_not_in_rule_set():
    assert check(post_enrollment_3=D(2027, 5, 3)) == [
        "post_enrollment_3 on 2027-05-03 is not part of rule set ca_rule23"
    ]


def test_new_customer_too_late():
    start = D(2027, 6, 30)
    assert R.new_customer_violations(
        R.CA_RULE23,
        service_start=start,
        notices={"new_customer_1": D(2027, 7, 10), "new_customer_2": D(2027, 8, 31)},
    ) == [
        "new_customer_2 on 2027-08-31 is 62 days after service start on 2027-06-30; the rule "
        "allows 60"
    ]


def test_business_day_preferred_inside_the_window():
    # 2027-01-01 is a holiday (Friday): the 60-day notice slides to Monday 2027-01-04, still in
    # the window.
    schedule = R.mass_schedule(
        R.CA_RULE23, enrollment=D(2027, 3, 2), later_reads=[D(2027, 4, 1), D(2027, 5, 1)]
    )
    assert schedule == {
        "pre_enrollment_1": D(2027, 1, 4),
        "pre_enrollment_2": D(2027, 2, 1),
        "post_enrollment_1": D(2027, 3, 5),
        "post_enrollment_2": D(2027, 4, 5),
    }


def test_enrollment_too_soon_is_refused_with_reason():
    import pytest

    with pytest.raises(R.ScheduleImpossible) as exc:
        R.mass_schedule(
            R.CA_RULE23,
            enrollment=D(2027, 3, 2),
            later_reads=[D(2027, 4, 1), D(2027, 5, 1)],
            not_before=D(2027, 2, 25),
        )
    assert str(exc.value) == (
        "pre_enrollment_1 cannot be mailed in time for enrollment on 2027-03-02: "
        "the rule allows it no later than 2027-02-22, but the earliest possible mail date is "
        "2027-02-25"
    )


def test_read_schedule_too_short_is_refused_with_reason():
    import pytest

    with pytest.raises(R.ScheduleImpossible, match="the read schedule has 1 read"):
        R.mass_schedule(R.CA_RULE23, enrollment=D(2027, 3, 2), later_reads=[D(2027, 4, 1)])
