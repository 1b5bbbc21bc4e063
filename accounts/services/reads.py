"""Meter-read dates: when enrollment and opt-outs take effect."""

from __future__ import annotations

import datetime as dt

from accounts.models import Program, ReadDate
from accounts.services.calendar import add_business_days, program_calendar


class NoReadDate(LookupError):
    """The read schedule does not reach far enough: load more of the utility's schedule."""


def next_read_date(*, utility_id: int, read_cycle: int, on_or_after: dt.date) -> dt.date:
    found = (
        ReadDate.objects.filter(
            utility_id=utility_id, read_cycle=read_cycle, read_date__gte=on_or_after
        )
        .order_by("read_date")
        .values_list("read_date", flat=True)
        .first()
    )
    if found is None:
        raise NoReadDate(
            f"no meter read for cycle {read_cycle} on or after {on_or_after}; "
            "import a later read schedule"
        )
    return found


def cutoff_date(*, program: Program, request_date: dt.date) -> dt.date:
    """The earliest read date a request made on `request_date` can still catch."""
    if program.cutoff_unit == Program.CutoffUnit.BUSINESS:
        utility_days = program_calendar(program=program, kind="utility")
        return add_business_days(request_date, program.cutoff_days, calendar=utility_days)
    return request_date + dt.timedelta(days=program.cutoff_days)


def effective_read_date(*, program: Program, read_cycle: int, request_date: dt.date) -> dt.date:
    """docs/rules.md R-CUTOFF: a request counts for the next meter read only if it arrives the
    program's cutoff before it; otherwise it takes effect at the read after."""
    cutoff = cutoff_date(program=program, request_date=request_date)
    return next_read_date(utility_id=program.utility_id, read_cycle=read_cycle, on_or_after=cutoff)
