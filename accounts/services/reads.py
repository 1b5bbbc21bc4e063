"""Meter-read dates: when enrollment and opt-outs take effect."""

from __future__ import annotations

import datetime as dt

from accounts.models import Program, ReadDate
from accounts.services.calendar import add_business_days, program_calendar
from accounts.services.rows import RowsWith, row_first

# Read dates an opt-out reads with its lock: the first on or after the cutoff is among them
# unless the cutoff lies more than two read cycles after the request.
READS_AHEAD = 3


class NoReadDate(LookupError):
    """The read schedule does not reach far enough: load more of the utility's schedule."""


def next_read_date(*, utility_id: int, read_cycle: int, on_or_after: dt.date) -> dt.date:
    # Every opt-out asks this: SQL built once (accounts/services/rows.py), not the ORM's per call.
    found = row_first(
        ReadDate,
        where="utility_id = %s AND read_cycle = %s AND read_date >= %s",
        params=[utility_id, read_cycle, on_or_after],
        order_by="read_date",
    )
    if found is None:
        raise NoReadDate(
            f"no meter read for cycle {read_cycle} on or after {on_or_after}; import a later read schedule"
        )
    return found.read_date


def cutoff_date(*, program: Program, request_date: dt.date) -> dt.date:
    """The earliest read date a request made on `request_date` can still catch."""
    if program.cutoff_unit == Program.CutoffUnit.BUSINESS:
        utility_days = program_calendar(program=program, kind="utility")
        return add_business_days(request_date, program.cutoff_days, calendar=utility_days)
    return request_date + dt.timedelta(days=program.cutoff_days)


def read_dates_with_lock(request_date: dt.date) -> RowsWith:
    """The locked account's next READS_AHEAD read dates on or after `request_date`, read in the
    statement that locks it (c = the account, p = its program): `effective_read_date(ahead=…)`."""
    return RowsWith(
        ReadDate,
        where="utility_id = p.utility_id AND read_cycle = c.read_cycle AND read_date >= %s",
        order_by="read_date",
        fields=("read_date",),
        params=(request_date,),
        count=READS_AHEAD,
    )


def effective_read_date(
    *, program: Program, read_cycle: int, request_date: dt.date, ahead: list[ReadDate] | None = None
) -> dt.date:
    """Seed 004 ch. 9: a request counts for the next meter read only if it arrives the program's
    cutoff before it; otherwise it takes effect at the read after.

    `ahead`, when given, is what `read_dates_with_lock(request_date)` found: the answer is taken
    from it when it can be, and read from the schedule otherwise."""
    cutoff = cutoff_date(program=program, request_date=request_date)
    if ahead is not None and cutoff >= request_date:
        for row in ahead:
            if row.read_date >= cutoff:
                return row.read_date
        if len(ahead) < READS_AHEAD:
            raise NoReadDate(
                f"no meter read for cycle {read_cycle} on or after {cutoff}; import a later read schedule"
            )
    return next_read_date(utility_id=program.utility_id, read_cycle=read_cycle, on_or_after=cutoff)
