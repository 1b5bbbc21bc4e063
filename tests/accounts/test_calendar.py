"""Business-day calendars against the published rules, written out here independently of the
`holidays` package: 5 U.S.C. 6103 (and E.O. 11582) for federal holidays, USPS's holiday schedule,
Gov. Code 6700, 6701 and 19853 for California's."""

import datetime as dt
import time

import pytest

from accounts.models import BusinessCalendar, Closure, Program
from accounts.services import calendar as calendar_module
from accounts.services.calendar import (
    Calendar,
    add_business_days,
    default_calendar,
    holiday_dates,
    is_business_day,
    program_calendar,
)
from accounts.services.programs import ProgramFileError, program_load_document
from accounts.services.reads import cutoff_date
from cca_notices import rules as R
from tests.factories import ServiceAccountFactory, UtilityFactory

D = dt.date
YEARS = range(2026, 2036)
MON, THU, FRI, SAT, SUN = 0, 3, 4, 5, 6
ONE = dt.timedelta(days=1)


def nth(year, month, weekday, n):
    first = D(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def last(year, month, weekday):
    day = D(year, month + 1, 1) - ONE
    return day - dt.timedelta(days=(day.weekday() - weekday) % 7)


def federal_listed(year):
    """5 U.S.C. 6103(a): (fixed-date holidays, Monday/Thursday holidays)."""
    fixed = [D(year, 1, 1), D(year, 6, 19), D(year, 7, 4), D(year, 11, 11), D(year, 12, 25)]
    moving = [
        nth(year, 1, MON, 3),  # Birthday of Martin Luther King, Jr.
        nth(year, 2, MON, 3),  # Washington's Birthday
        last(year, 5, MON),  # Memorial Day
        nth(year, 9, MON, 1),  # Labor Day
        nth(year, 10, MON, 2),  # Columbus Day
        nth(year, 11, THU, 4),  # Thanksgiving Day
    ]
    return fixed, moving


def federal_observed(day):
    # 6103(b): a Saturday holiday is observed the Friday before, a Sunday one the Monday after.
    return day - ONE if day.weekday() == SAT else day + ONE if day.weekday() == SUN else day


def closed_weekdays(days, year):
    return {d for d in days if d.year == year and d.weekday() < SAT}


def expected_federal(year):
    days = set()
    for y in (year, year + 1):  # next year's 1 January may be observed on this year's 31 December
        fixed, moving = federal_listed(y)
        days |= {federal_observed(d) for d in fixed} | set(moving)
    return closed_weekdays(days, year)


def expected_usps(year):
    # USPS closes on the federal holidays; on a Sunday one it closes Monday, a Saturday one is
    # not moved (post offices open and mail delivered on the Friday).
    fixed, moving = federal_listed(year)
    return closed_weekdays(
        {d + ONE if d.weekday() == SUN else d for d in fixed} | set(moving), year
    )


def expected_us_ca(year):
    # The federal holidays as observed, less Columbus Day (not a California holiday since 2009),
    # plus Cesar Chavez Day (Gov. Code 6701: Sunday → Monday only) and the day after Thanksgiving.
    days = expected_federal(year) - {nth(year, 10, MON, 2)}
    chavez = D(year, 3, 31)
    days |= {chavez + ONE if chavez.weekday() == SUN else chavez, nth(year, 11, THU, 4) + ONE}
    return closed_weekdays(days, year)


def expected_california(year):
    # Gov. Code 19853 (the state-employee holidays) observed by 6701: Sunday → Monday; Veterans
    # Day on a Saturday → Friday; any other Saturday holiday is not moved.
    fixed = [D(year, 1, 1), D(year, 3, 31), D(year, 7, 4), D(year, 12, 25)]
    veterans = D(year, 11, 11)
    thanksgiving = nth(year, 11, THU, 4)
    days = {d + ONE if d.weekday() == SUN else d for d in fixed}
    days.add(
        veterans + ONE
        if veterans.weekday() == SUN
        else veterans - ONE
        if veterans.weekday() == SAT
        else veterans
    )
    days |= {
        nth(year, 1, MON, 3),
        nth(year, 2, MON, 3),
        last(year, 5, MON),
        nth(year, 9, MON, 1),
        thanksgiving,
        thanksgiving + ONE,
    }
    return closed_weekdays(days, year)


EXPECTED = {
    BusinessCalendar.USPS: expected_usps,
    BusinessCalendar.FEDERAL: expected_federal,
    BusinessCalendar.US_CA: expected_us_ca,
    BusinessCalendar.CALIFORNIA: expected_california,
}


def non_business_weekdays(calendar, year):
    day, out = D(year, 1, 1), set()
    while day.year == year:
        if day.weekday() < SAT and not calendar.is_business_day(day):
            out.add(day)
        day += ONE
    return out


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("name", list(EXPECTED))
def test_ten_years_of_each_calendar_match_the_published_rules(name, year):
    assert non_business_weekdays(Calendar(name), year) == EXPECTED[name](year)


def test_the_rules_written_here_give_the_dates_published_for_2027_and_2028():
    """The expectations above against the dates written out by hand, so they cannot drift
    together: OPM's 2027 federal list, and California's state holiday list."""
    assert expected_federal(2027) == {
        D(2027, 1, 1), D(2027, 1, 18), D(2027, 2, 15), D(2027, 5, 31), D(2027, 6, 18),
        D(2027, 7, 5), D(2027, 9, 6), D(2027, 10, 11), D(2027, 11, 11), D(2027, 11, 25),
        D(2027, 12, 24), D(2027, 12, 31),
    }  # fmt: skip
    assert expected_usps(2027) == {
        D(2027, 1, 1), D(2027, 1, 18), D(2027, 2, 15), D(2027, 5, 31), D(2027, 7, 5),
        D(2027, 9, 6), D(2027, 10, 11), D(2027, 11, 11), D(2027, 11, 25),
    }  # fmt: skip
    assert expected_california(2028) == {
        D(2028, 1, 17), D(2028, 2, 21), D(2028, 3, 31), D(2028, 5, 29), D(2028, 7, 4),
        D(2028, 9, 4), D(2028, 11, 10), D(2028, 11, 23), D(2028, 11, 24), D(2028, 12, 25),
    }  # fmt: skip
    assert expected_us_ca(2028) == expected_california(2028) | {D(2028, 6, 19)}


def test_new_years_day_on_a_saturday_is_observed_the_year_before_federally():
    # 1 January 2028 is a Saturday: federal offices (and the utility calendar) close Friday
    # 31 December 2027; USPS keeps the holiday on the Saturday and California does not move it.
    assert D(2028, 1, 1).weekday() == SAT
    assert not Calendar(BusinessCalendar.FEDERAL).is_business_day(D(2027, 12, 31))
    assert not Calendar(BusinessCalendar.US_CA).is_business_day(D(2027, 12, 31))
    assert Calendar(BusinessCalendar.USPS).is_business_day(D(2027, 12, 31))
    assert Calendar(BusinessCalendar.CALIFORNIA).is_business_day(D(2027, 12, 31))
    assert D(2027, 12, 31) in holiday_dates(BusinessCalendar.FEDERAL, 2027)


def test_cesar_chavez_day_on_a_saturday_is_not_moved_to_friday():
    assert D(2029, 3, 31).weekday() == SAT
    for name in (BusinessCalendar.US_CA, BusinessCalendar.CALIFORNIA):
        assert Calendar(name).is_business_day(D(2029, 3, 30))
        assert Calendar(name).add_business_days(D(2029, 3, 29), 1) == D(2029, 3, 30)


def test_a_sunday_holiday_moves_to_monday():
    assert D(2027, 7, 4).weekday() == SUN
    for name in BusinessCalendar.values:
        assert not Calendar(name).is_business_day(D(2027, 7, 5)), name
    assert D(2030, 3, 31).weekday() == SUN  # Cesar Chavez Day: a California holiday only
    assert not Calendar(BusinessCalendar.CALIFORNIA).is_business_day(D(2030, 4, 1))
    assert not Calendar(BusinessCalendar.US_CA).is_business_day(D(2030, 4, 1))
    assert Calendar(BusinessCalendar.USPS).is_business_day(D(2030, 4, 1))


def test_a_saturday_federal_holiday_leaves_friday_a_mail_day():
    assert D(2027, 12, 25).weekday() == SAT
    assert Calendar(BusinessCalendar.USPS).is_business_day(D(2027, 12, 24))
    assert not Calendar(BusinessCalendar.FEDERAL).is_business_day(D(2027, 12, 24))
    # Veterans Day on a Saturday: Gov. Code 6701's one Saturday → Friday rule.
    assert D(2028, 11, 11).weekday() == SAT
    assert not Calendar(BusinessCalendar.CALIFORNIA).is_business_day(D(2028, 11, 10))


def test_usps_does_not_close_for_california_holidays():
    usps = Calendar(BusinessCalendar.USPS)
    assert usps.is_business_day(D(2027, 3, 31))  # Cesar Chavez Day
    assert usps.is_business_day(D(2027, 11, 26))  # the day after Thanksgiving
    assert not Calendar(BusinessCalendar.CALIFORNIA).is_business_day(D(2027, 11, 26))


def test_package_commemorations_are_business_days_in_california():
    # Susan B. Anthony Day (15 February) and Diwali (29 October 2027) close no office.
    for name in (BusinessCalendar.US_CA, BusinessCalendar.CALIFORNIA):
        assert Calendar(name).is_business_day(D(2028, 2, 15))
        assert Calendar(name).is_business_day(D(2027, 10, 29))


def test_add_business_days_counts_back_and_forth_over_holidays_and_weekends():
    cal = Calendar(BusinessCalendar.FEDERAL)
    assert add_business_days(D(2027, 12, 30), 1, calendar=cal) == D(2028, 1, 3)
    assert add_business_days(D(2028, 1, 3), -1, calendar=cal) == D(2027, 12, 30)
    assert add_business_days(D(2027, 12, 30), 0, calendar=cal) == D(2027, 12, 30)
    assert is_business_day(D(2027, 12, 30), calendar=cal)
    assert not is_business_day(D(2028, 1, 1), calendar=cal)


def test_unknown_calendar_name_is_refused():
    with pytest.raises(ValueError, match="not a business calendar"):
        Calendar("moon").is_business_day(D(2027, 1, 4))


def test_new_programs_get_usps_utility_and_office_defaults(db):
    program = Program.objects.create(slug="p", name="P", utility=UtilityFactory())
    assert (program.mail_calendar, program.utility_calendar, program.office_calendar) == (
        "usps",
        "us_ca",
        "california",
    )
    for kind in ("mail", "utility", "office"):
        assert program_calendar(program=program, kind=kind) == default_calendar(kind)


# --- the program file: calendars and closures -----------------------------------------------


def document(**extra):
    return {
        "program": {"slug": "cal", "name": "Calendar Clean Energy"},
        "utility": {"code": "PGE", "name": "Pacific Gas and Electric"},
        **extra,
    }


CLOSURES = [
    {"date": D(2027, 3, 3), "calendar": "office", "reason": "Board retreat"},
    {"date": D(2027, 3, 4), "calendar": ["mail", "utility"], "reason": "Mail house moves"},
]


def test_closures_from_the_program_file_close_their_calendar_only(db):
    result = program_load_document(data=document(closures=CLOSURES))
    program = result.program
    office = program_calendar(program=program, kind="office")
    mail = program_calendar(program=program, kind="mail")
    utility = program_calendar(program=program, kind="utility")
    assert not office.is_business_day(D(2027, 3, 3))
    assert mail.is_business_day(D(2027, 3, 3)) and utility.is_business_day(D(2027, 3, 3))
    assert not mail.is_business_day(D(2027, 3, 4)) and not utility.is_business_day(D(2027, 3, 4))
    assert office.is_business_day(D(2027, 3, 4))
    assert result.counts["closures"] == {"created": 3, "updated": 0, "unchanged": 0}


def test_loading_again_updates_closures_and_never_duplicates(db):
    program_load_document(data=document(closures=CLOSURES))
    changed = [{**CLOSURES[0], "reason": "Board retreat (moved)"}, CLOSURES[1]]
    result = program_load_document(data=document(closures=changed))
    assert result.counts["closures"] == {"created": 0, "updated": 1, "unchanged": 2}
    assert Closure.objects.count() == 3
    assert Closure.objects.get(calendar="office").reason == "Board retreat (moved)"
    result = program_load_document(data=document(closures=changed[1:]))
    assert result.counts["closures"]["kept (not in file)"] == 1


def test_program_file_sets_calendars_and_reports_bad_ones(db):
    settings = {"mail_calendar": "federal", "utility_calendar": "california"}
    program = program_load_document(data=document(settings=settings)).program
    program.refresh_from_db()
    assert (program.mail_calendar, program.utility_calendar) == ("federal", "california")
    bad = document(
        settings={"office_calendar": "moon"},
        closures=[
            {"date": D(2027, 3, 3), "calendar": "lunch"},
            {"date": D(2027, 3, 4), "calendar": ["mail"]},
            {"date": D(2027, 3, 4), "calendar": "mail"},
            {"calendar": "mail"},
        ],
    )
    with pytest.raises(ProgramFileError) as err:
        program_load_document(data=bad)
    assert err.value.errors == [
        "settings.office_calendar: 'moon' is not one of usps, federal, us_ca, california",
        "closures[0].calendar: 'lunch' not one of mail, utility, office",
        "closures[3].date: is required",
        "closures[2]: repeats closures[1] (2027-03-04 on mail)",
    ]


def test_a_closure_added_later_is_seen_by_the_next_calendar_read(db):
    program = program_load_document(data=document()).program
    assert program_calendar(program=program, kind="office").is_business_day(D(2027, 3, 3))
    program_load_document(data=document(closures=CLOSURES[:1]))
    assert not program_calendar(program=program, kind="office").is_business_day(D(2027, 3, 3))


def test_a_closure_added_elsewhere_counts_once_the_cache_expires(db, monkeypatch):
    program = program_load_document(data=document()).program
    assert program_calendar(program=program, kind="office").is_business_day(D(2027, 3, 3))
    Closure.objects.create(program=program, date=D(2027, 3, 3), calendar="office")
    later = time.monotonic() + calendar_module.CALENDAR_TTL_SECONDS + 1
    monkeypatch.setattr(calendar_module.time, "monotonic", lambda: later)
    assert not program_calendar(program=program, kind="office").is_business_day(D(2027, 3, 3))


# --- the call sites: cutoff (utility) and mail dates (USPS) ---------------------------------


def test_business_day_cutoff_counts_the_utility_days_across_the_year_boundary(db):
    settings = {"cutoff_unit": "business", "cutoff_days": 3}
    program = program_load_document(data=document(settings=settings)).program
    # 30 Dec, (31 Dec: New Year's Day observed), 3 Jan, 4 Jan.
    assert cutoff_date(program=program, request_date=D(2027, 12, 29)) == D(2028, 1, 4)
    program_load_document(
        data=document(
            settings=settings,
            closures=[{"date": D(2028, 1, 4), "calendar": "utility", "reason": "Systems"}],
        )
    )
    assert cutoff_date(program=program, request_date=D(2027, 12, 29)) == D(2028, 1, 5)
    program_load_document(data=document(settings={**settings, "utility_calendar": "california"}))
    program.refresh_from_db()
    # California offices work 31 December (1 January is a Saturday): 30 Dec, 31 Dec, 3 Jan.
    assert cutoff_date(program=program, request_date=D(2027, 12, 29)) == D(2028, 1, 3)


def test_mail_date_counts_usps_days_across_the_year_boundary(db, monkeypatch, tmp_path):
    from cca_notices.models import Notice
    from cca_notices.services import batches

    program = program_load_document(data=document()).program
    program.mailer_id = "801234"
    program.save()
    account = ServiceAccountFactory(program=program)
    Notice.objects.create(
        account=account,
        program=program,
        kind="pre_enrollment_1",
        rule_set="ca_rule23",
        enrollment_date=D(2028, 2, 1),
        mail_date=D(2028, 1, 3),
        status=Notice.Status.SCHEDULED,
    )
    built = []
    monkeypatch.setattr(
        batches, "mail_batch_build", lambda **kw: built.append(kw["mail_date"]) or NoBatch()
    )
    # 30 Dec, 31 Dec (USPS open: 1 January is a Saturday), 3 Jan.
    batches.mail_batches_build_due(today=D(2027, 12, 29), out_root=tmp_path)
    assert built[:1] == [D(2028, 1, 3)]
    program.mail_calendar = BusinessCalendar.FEDERAL
    program.save()
    built.clear()
    batches.mail_batches_build_due(today=D(2027, 12, 29), out_root=tmp_path)
    assert built[:1] == [D(2028, 1, 4)]


class NoBatch:
    batch = None
    excluded: dict = {}


def test_notice_mail_days_avoid_the_mail_calendars_closures():
    start = D(2027, 3, 2)  # new_customer_1 is due 10 days later, Friday 12 March
    plain = R.new_customer_schedule(R.CA_RULE23, service_start=start)
    assert plain["new_customer_1"] == D(2027, 3, 12)
    closed = Calendar(BusinessCalendar.USPS, closures=frozenset({D(2027, 3, 12)}))
    moved = R.new_customer_schedule(R.CA_RULE23, service_start=start, mail_days=closed)
    assert moved["new_customer_1"] == D(2027, 3, 11)
