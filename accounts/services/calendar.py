"""Business dates in America/Los_Angeles: today, and business days on each institution's calendar.

A program names one calendar for each kind of date (`Program.mail_calendar`, `utility_calendar`,
`office_calendar`) and may close extra days on any of them (`Closure`, from its program file).
The holiday dates come from the `holidays` package; how each institution observes a holiday that
falls on a weekend is its own rule (docs/rules.md R-BUSINESS-DAYS).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from functools import lru_cache

import holidays as holidays_lib
from django.db import models
from django.utils import timezone

from accounts.models import BusinessCalendar, CalendarKind, Closure, Program

ONE_DAY = dt.timedelta(days=1)
SAT, SUN = 5, 6
# The holidays California state offices close for (Gov. Code 19853), by the package's names:
# the other days Gov. Code 6700 lists (Lincoln Day, Juneteenth, Native American Day, …) and the
# package's commemorations (Susan B. Anthony Day, Diwali) keep state offices open.
CALIFORNIA_OFFICE_HOLIDAYS = frozenset(
    {
        "New Year's Day",
        "Martin Luther King Jr. Day",
        "Presidents' Day",
        "Cesar Chavez Day",
        "Memorial Day",
        "Independence Day",
        "Labor Day",
        "Veterans Day",
        "Thanksgiving Day",
        "Day After Thanksgiving",
        "Christmas Day",
    }
)
# Days the package lists for California that close no office: Susan B. Anthony Day is no
# holiday in Gov. Code 6700, and on Diwali (6700 since AB 268, 2025) state offices stay open.
CALIFORNIA_COMMEMORATIONS = frozenset({"Susan B. Anthony Day", "Diwali"})
OBSERVED = " (observed)"


def _names(listed: str) -> set[str]:
    return {n.strip().removesuffix(OBSERVED) for n in listed.split(";")}


def today() -> dt.date:
    """The CCA's business date (settings.TIME_ZONE), not the server's UTC date."""
    return timezone.localdate()


def _sunday_to_monday(days: dict[dt.date, str]) -> set[dt.date]:
    return {d + ONE_DAY if d.weekday() == SUN else d for d in days}


def _usps(year: int) -> set[dt.date]:
    # USPS closes on the federal holidays; one on a Sunday is observed on Monday, one on a
    # Saturday stays on Saturday (post offices open and mail delivered the Friday before).
    return _sunday_to_monday(
        holidays_lib.US(categories=holidays_lib.GOVERNMENT, observed=False, years=year)
    )


def _federal(year: int) -> set[dt.date]:
    # 5 U.S.C. 6103(b) and E.O. 11582: Saturday → Friday, Sunday → Monday; the package also puts
    # next year's New Year's Day observed on a Friday 31 December into this year.
    return set(holidays_lib.US(categories=holidays_lib.GOVERNMENT, years=year))


def _us_ca(year: int) -> set[dt.date]:
    # The package's California: federal observance (Columbus Day aside) plus Cesar Chavez Day
    # (Sunday → Monday only) and the day after Thanksgiving.
    listed = holidays_lib.US(subdiv="CA", years=year, language="en_US")
    return {d for d, names in listed.items() if _names(names) - CALIFORNIA_COMMEMORATIONS}


def _california(year: int) -> set[dt.date]:
    # Gov. Code 6701: a holiday on a Sunday is observed the Monday after; Veterans Day on a
    # Saturday the Friday before; any other Saturday holiday is not moved.
    listed = holidays_lib.US(subdiv="CA", observed=False, years=year, language="en_US")
    out = set()
    for day, names in listed.items():
        if not CALIFORNIA_OFFICE_HOLIDAYS & _names(names):
            continue
        if day.weekday() == SUN:
            day += ONE_DAY
        elif day.weekday() == SAT and "Veterans Day" in names:
            day -= ONE_DAY
        out.add(day)
    return out


_BUILDERS = {
    BusinessCalendar.USPS: _usps,
    BusinessCalendar.FEDERAL: _federal,
    BusinessCalendar.US_CA: _us_ca,
    BusinessCalendar.CALIFORNIA: _california,
}


@lru_cache(maxsize=512)
def holiday_dates(name: str, year: int) -> frozenset[dt.date]:
    """The weekdays and weekend days calendar `name` is closed in `year`, as observed."""
    try:
        build = _BUILDERS[BusinessCalendar(name)]
    except ValueError:
        raise ValueError(
            f"{name!r} is not a business calendar; one of {', '.join(BusinessCalendar.values)}"
        ) from None
    return frozenset(d for d in build(year) if d.year == year)


@dataclass(frozen=True)
class Calendar:
    """One institution's business days: Monday to Friday, less its holidays and closures."""

    name: str
    closures: frozenset[dt.date] = frozenset()

    def is_business_day(self, day: dt.date) -> bool:
        return (
            day.weekday() < SAT
            and day not in holiday_dates(self.name, day.year)
            and day not in self.closures
        )

    def add_business_days(self, day: dt.date, n: int) -> dt.date:
        """The date `n` business days after `day` (before it when n < 0)."""
        step = ONE_DAY if n >= 0 else -ONE_DAY
        remaining = abs(n)
        while remaining:
            day += step
            if self.is_business_day(day):
                remaining -= 1
        return day


def is_business_day(day: dt.date, *, calendar: Calendar) -> bool:
    return calendar.is_business_day(day)


def add_business_days(day: dt.date, n: int, *, calendar: Calendar) -> dt.date:
    """The date `n` business days after `day` on `calendar` (before it when n < 0)."""
    return calendar.add_business_days(day, n)


def default_calendar(kind: str) -> Calendar:
    """The calendar a new program gets for `kind` (the model's default), without closures."""
    field = Program._meta.get_field(f"{CalendarKind(kind)}_calendar")
    assert isinstance(field, models.CharField)
    return Calendar(name=field.get_default())


# Closures are few and change rarely; a calendar read from the database is kept this long per
# process, so an opt-out or a scheduling run does not query them for every date it counts.
CALENDAR_TTL_SECONDS = 60.0
_program_calendars: dict[tuple[int, str, str], tuple[float, Calendar]] = {}


def program_calendar(*, program: Program, kind: str) -> Calendar:
    """The program's calendar for `kind` (mail, utility or office), with its closures."""
    kind = CalendarKind(kind)
    name = getattr(program, f"{kind}_calendar")
    key = (program.pk, kind.value, name)
    now = time.monotonic()
    cached = _program_calendars.get(key)
    if cached and cached[0] > now:
        return cached[1]
    closures = frozenset(
        Closure.objects.filter(program_id=program.pk, calendar=kind).values_list("date", flat=True)
    )
    calendar = Calendar(name=name, closures=closures)
    _program_calendars[key] = (now + CALENDAR_TTL_SECONDS, calendar)
    return calendar


def calendar_cache_clear() -> None:
    """Forget the calendars read from the database (a closure was saved or deleted)."""
    _program_calendars.clear()
