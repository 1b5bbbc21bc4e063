"""The notice rules as pure functions: compute a schedule, and check one.

No database here: `Rules` is a plain snapshot of a `RuleSet` row, and meter reads are passed in
as sorted lists of dates, so the property tests can drive every case. docs/notices.md explains
the reading of the rules these functions implement.

Reading of "billing cycle": the k-th billing cycle after enrollment runs from the (k-1)-th
meter read after enrollment (the enrollment read itself is the 0-th) up to the day before the
k-th read. Post-enrollment notice k must be mailed inside billing cycle k.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from accounts.services.calendar import Calendar, default_calendar

ONE_DAY = dt.timedelta(days=1)
# How far a mail date may slide to reach a business day (mail houses do not post on weekends
# or holidays); it never leaves the window the rule allows.
BUSINESS_DAY_SLACK = 4
# Mail days when the caller names none: a new program's mail calendar (USPS), no closures.
MAIL_DAYS = default_calendar("mail")


class ScheduleImpossible(ValueError):
    """No schedule meets the rule for this enrollment (e.g. enrollment is too soon)."""


@dataclass(frozen=True)
class Rules:
    code: str
    pre_offsets: tuple[int, ...] = (60, 30)
    pre_window_days: int = 60
    pre_min_lead_days: int = 1
    post_count: int = 2
    post_lag_days: int = 3
    post_window_days: int | None = 60
    new_customer_offsets: tuple[int, ...] = (10, 40)
    new_customer_window_days: int = 60
    min_gap_days: int = 7

    @classmethod
    def of(cls, rule_set) -> Rules:
        return cls(
            code=rule_set.code,
            pre_offsets=tuple(rule_set.pre_offsets),
            pre_window_days=rule_set.pre_window_days,
            pre_min_lead_days=rule_set.pre_min_lead_days,
            post_count=rule_set.post_count,
            post_lag_days=rule_set.post_lag_days,
            post_window_days=rule_set.post_window_days,
            new_customer_offsets=tuple(rule_set.new_customer_offsets),
            new_customer_window_days=rule_set.new_customer_window_days,
            min_gap_days=rule_set.min_gap_days,
        )

    @property
    def pre_kinds(self) -> list[str]:
        return [f"pre_enrollment_{i}" for i in range(1, len(self.pre_offsets) + 1)]

    @property
    def post_kinds(self) -> list[str]:
        return [f"post_enrollment_{i}" for i in range(1, self.post_count + 1)]

    @property
    def mass_kinds(self) -> list[str]:
        return self.pre_kinds + self.post_kinds

    @property
    def new_customer_kinds(self) -> list[str]:
        return [f"new_customer_{i}" for i in range(1, len(self.new_customer_offsets) + 1)]


# The two rule sets the data migration loads (kept here so tests and the migration agree).
CA_RULE23 = Rules(code="ca_rule23")
AB9_LEGACY = Rules(
    code="ab9_legacy",
    pre_offsets=(30,),
    pre_window_days=60,
    pre_min_lead_days=30,
    post_count=3,
    post_lag_days=3,
    post_window_days=None,
)


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


# --- computing ------------------------------------------------------------------------------


def enrollment_read(reads: Sequence[dt.date], start: dt.date, end: dt.date) -> dt.date | None:
    """The account's enrollment date: its first scheduled read inside the phase window."""
    i = bisect.bisect_left(reads, start)
    if i < len(reads) and reads[i] <= end:
        return reads[i]
    return None


def reads_after(reads: Sequence[dt.date], day: dt.date, count: int) -> list[dt.date]:
    i = bisect.bisect_right(reads, day)
    return list(reads[i : i + count])


def _mail_day(ideal: dt.date, lo: dt.date, hi: dt.date, what: str, mail_days: Calendar) -> dt.date:
    """`ideal` moved into [lo, hi], preferring the nearest mail day."""
    if lo > hi:
        raise ScheduleImpossible(
            f"{what}: the rule allows it no later than {hi}, "
            f"but the earliest possible mail date is {lo}"
        )
    day = min(max(ideal, lo), hi)
    for step in range(BUSINESS_DAY_SLACK + 1):
        for candidate in (day - dt.timedelta(days=step), day + dt.timedelta(days=step)):
            if lo <= candidate <= hi and mail_days.is_business_day(candidate):
                return candidate
    return day


def mass_schedule(
    rules: Rules,
    *,
    enrollment: dt.date,
    later_reads: Sequence[dt.date],
    not_before: dt.date | None = None,
    mail_days: Calendar = MAIL_DAYS,
) -> dict[str, dt.date]:
    """Mail dates of the pre- and post-enrollment notices for one enrollment date.

    `later_reads` are the account's scheduled reads after enrollment (at least `post_count`).
    `not_before` is the first day a notice can still be mailed (today, when scheduling).
    `mail_days` are the days a notice can be mailed on (the program's mail calendar).
    """
    floor = not_before or dt.date.min
    out: dict[str, dt.date] = {}
    gap = dt.timedelta(days=rules.min_gap_days)
    previous: dt.date | None = None
    n_pre = len(rules.pre_offsets)
    for i, (kind, offset) in enumerate(zip(rules.pre_kinds, rules.pre_offsets, strict=True)):
        lo = max(enrollment - dt.timedelta(days=rules.pre_window_days), floor)
        if previous is not None:
            lo = max(lo, previous + gap)
        hi = enrollment - dt.timedelta(days=rules.pre_min_lead_days) - gap * (n_pre - 1 - i)
        previous = out[kind] = _mail_day(
            enrollment - dt.timedelta(days=offset),
            lo,
            hi,
            f"{kind} cannot be mailed in time for enrollment on {enrollment}",
            mail_days,
        )
    reads = list(later_reads[: rules.post_count])
    if len(reads) < rules.post_count:
        last = later_reads[-1] if later_reads else enrollment
        raise ScheduleImpossible(
            f"the read schedule has {len(later_reads)} read(s) after enrollment on {enrollment} "
            f"(last {last}); {rules.post_count} are needed to place the post-enrollment notices"
        )
    bounds = [enrollment, *reads]
    previous = None
    for k, kind in enumerate(rules.post_kinds, start=1):
        opens, closes = bounds[k - 1], bounds[k] - ONE_DAY
        lo = max(opens, enrollment + ONE_DAY, floor)
        if previous is not None:
            lo = max(lo, previous + gap)
        hi = closes
        if rules.post_window_days is not None:
            hi = min(hi, enrollment + dt.timedelta(days=rules.post_window_days))
        previous = out[kind] = _mail_day(
            opens + dt.timedelta(days=rules.post_lag_days),
            lo,
            hi,
            f"{kind} cannot be mailed in billing cycle {k} after enrollment on {enrollment} "
            f"({opens} to {closes})",
            mail_days,
        )
    return out


def new_customer_schedule(
    rules: Rules,
    *,
    service_start: dt.date,
    not_before: dt.date | None = None,
    mail_days: Calendar = MAIL_DAYS,
) -> dict[str, dt.date]:
    floor = not_before or dt.date.min
    out: dict[str, dt.date] = {}
    gap = dt.timedelta(days=rules.min_gap_days)
    previous: dt.date | None = None
    n = len(rules.new_customer_offsets)
    for i, (kind, offset) in enumerate(
        zip(rules.new_customer_kinds, rules.new_customer_offsets, strict=True)
    ):
        lo = max(service_start + ONE_DAY, floor)
        if previous is not None:
            lo = max(lo, previous + gap)
        hi = service_start + dt.timedelta(days=rules.new_customer_window_days) - gap * (n - 1 - i)
        previous = out[kind] = _mail_day(
            service_start + dt.timedelta(days=offset),
            lo,
            hi,
            f"{kind} cannot be mailed within {_days(rules.new_customer_window_days)} "
            f"after service start on {service_start}",
            mail_days,
        )
    return out


# --- checking -------------------------------------------------------------------------------


def _check_order(kinds: list[str], notices: Mapping[str, dt.date], gap_days: int) -> list[str]:
    out = []
    present = [k for k in kinds if k in notices]
    for before, after in itertools.pairwise(present):
        a, b = notices[before], notices[after]
        if b <= a:
            out.append(f"{after} on {b} is not after {before} on {a}")
        elif (b - a).days < gap_days:
            out.append(
                f"{after} on {b} is {_days((b - a).days)} after {before} on {a}; "
                f"the rule asks for at least {gap_days}"
            )
    return out


def mass_violations(
    rules: Rules,
    *,
    enrollment: dt.date,
    notices: Mapping[str, dt.date],
    later_reads: Sequence[dt.date],
) -> list[str]:
    """Every way the pre/post-enrollment notices break the rule, in a compliance officer's words.

    `notices` maps kind → the date that counts (mailed date if mailed, else due date).
    """
    out = [f"{kind} is missing" for kind in rules.mass_kinds if kind not in notices]
    out += [
        f"{kind} on {notices[kind]} is not part of rule set {rules.code}"
        for kind in notices
        if kind not in rules.mass_kinds
    ]
    for kind in rules.pre_kinds:
        if kind not in notices:
            continue
        day = notices[kind]
        before = (enrollment - day).days
        if before <= 0:
            out.append(f"{kind} on {day} is not before enrollment on {enrollment}")
        elif before > rules.pre_window_days:
            out.append(
                f"{kind} on {day} is {_days(before)} before enrollment on {enrollment}; "
                f"the rule allows {rules.pre_window_days}"
            )
        elif before < rules.pre_min_lead_days:
            out.append(
                f"{kind} on {day} is {_days(before)} before enrollment on {enrollment}; "
                f"the rule asks for at least {rules.pre_min_lead_days}"
            )
    bounds = [enrollment, *reads_after(later_reads, enrollment, rules.post_count)]
    for k, kind in enumerate(rules.post_kinds, start=1):
        if kind not in notices:
            continue
        day = notices[kind]
        after = (day - enrollment).days
        if after <= 0:
            out.append(f"{kind} on {day} is not after enrollment on {enrollment}")
            continue
        if rules.post_window_days is not None and after > rules.post_window_days:
            out.append(
                f"{kind} on {day} is {_days(after)} after enrollment on {enrollment}; "
                f"the rule allows {rules.post_window_days}"
            )
        if k >= len(bounds):
            out.append(
                f"{kind} on {day} cannot be checked against billing cycle {k}: "
                f"the read schedule ends on {bounds[-1]}"
            )
        elif not bounds[k - 1] <= day < bounds[k]:
            out.append(
                f"{kind} on {day} is not in billing cycle {k} after enrollment "
                f"({bounds[k - 1]} to {bounds[k] - ONE_DAY})"
            )
    out += _check_order(rules.pre_kinds, notices, rules.min_gap_days)
    out += _check_order(rules.post_kinds, notices, rules.min_gap_days)
    return out


def new_customer_violations(
    rules: Rules,
    *,
    service_start: dt.date,
    notices: Mapping[str, dt.date],
) -> list[str]:
    out = [f"{kind} is missing" for kind in rules.new_customer_kinds if kind not in notices]
    out += [
        f"{kind} on {notices[kind]} is not part of the new-customer track of rule set {rules.code}"
        for kind in notices
        if kind not in rules.new_customer_kinds
    ]
    for kind in rules.new_customer_kinds:
        if kind not in notices:
            continue
        day = notices[kind]
        after = (day - service_start).days
        if after <= 0:
            out.append(f"{kind} on {day} is not after service start on {service_start}")
        elif after > rules.new_customer_window_days:
            out.append(
                f"{kind} on {day} is {_days(after)} after service start on {service_start}; "
                f"the rule allows {rules.new_customer_window_days}"
            )
    out += _check_order(rules.new_customer_kinds, notices, rules.min_gap_days)
    return out
