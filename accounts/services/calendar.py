"""Business dates in America/Los_Angeles: today, business days, holidays."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from django.utils import timezone


def today() -> dt.date:
    """The CCA's business date (settings.TIME_ZONE), not the server's UTC date."""
    return timezone.localdate()


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


@lru_cache(maxsize=64)
def holidays(year: int) -> frozenset[dt.date]:
    """US federal holidays plus California's Cesar Chavez Day and the day after Thanksgiving,
    as observed: the days utilities and mail houses do not count as business days."""
    mon, thu = 0, 3
    thanksgiving = _nth_weekday(year, 11, thu, 4)
    days = {
        _observed(dt.date(year, 1, 1)),
        _nth_weekday(year, 1, mon, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, mon, 3),  # Presidents' Day
        _observed(dt.date(year, 3, 31)),  # Cesar Chavez Day (California)
        _last_weekday(year, 5, mon),  # Memorial Day
        _observed(dt.date(year, 6, 19)),  # Juneteenth
        _observed(dt.date(year, 7, 4)),
        _nth_weekday(year, 9, mon, 1),  # Labor Day
        _nth_weekday(year, 10, mon, 2),  # Columbus / Indigenous Peoples' Day
        _observed(dt.date(year, 11, 11)),
        thanksgiving,
        thanksgiving + dt.timedelta(days=1),
        _observed(dt.date(year, 12, 25)),
    }
    return frozenset(days)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in holidays(day.year)


def add_business_days(day: dt.date, n: int) -> dt.date:
    """The date `n` business days after `day` (before it when n < 0)."""
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    while remaining:
        day += dt.timedelta(days=step)
        if is_business_day(day):
            remaining -= 1
    return day
