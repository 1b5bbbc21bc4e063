"""Re-entry: a customer returning to the utility after the free window (docs/fees.md "Re-entry").

Two ways back, the customer's choice: (a) six-month advance notice — stays with the CCA six more
months, then the utility's standard bundled rates; (b) immediate return on transitional bundled
service (TBS) for six months, then standard rates. Either way the minimum bundled stay
(Program.min_bundled_stay_months) follows, inside which a rejoin is refused. The utility's
re-entry fee (Program.reentry_fee) is recorded here and billed by the utility itself.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from accounts.models import Program
from optouts.models import OptOutRequest, Outcome, ReentryRequest, ReturnPath

ONE_DAY = dt.timedelta(days=1)
# Both ways back last six months before standard bundled rates (public PG&E / SDG&E terms).
RETURN_NOTICE_MONTHS = 6


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day `months` later, clamped to the month's end (Aug 31 + 6 → Feb 28/29)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class ReentryPlan:
    path: str
    cca_service_until: dt.date | None
    tbs_from: dt.date | None
    tbs_until: dt.date | None
    bundled_from: dt.date | None
    standard_rates_from: dt.date | None
    min_stay_months: int
    min_stay_until: dt.date | None
    reentry_fee: Decimal


def reentry_plan(*, program: Program, path: str, effective_date: dt.date | None) -> ReentryPlan:
    """The dates of one way back, from the opt-out's effective meter-read date. Blank dates when
    the read schedule does not reach the effective date yet (they follow the intake's)."""
    months = program.min_bundled_stay_months
    fee = program.reentry_fee
    if path not in ReturnPath.values:
        raise ValueError(f"path: {path!r} is not one of {', '.join(ReturnPath.values)}")
    if effective_date is None:
        return ReentryPlan(path, None, None, None, None, None, months, None, fee)
    six_months_on = add_months(effective_date, RETURN_NOTICE_MONTHS)
    if path == ReturnPath.ADVANCE_NOTICE:
        return ReentryPlan(
            path,
            cca_service_until=six_months_on - ONE_DAY,
            tbs_from=None,
            tbs_until=None,
            bundled_from=six_months_on,
            standard_rates_from=six_months_on,
            min_stay_months=months,
            min_stay_until=add_months(six_months_on, months),
            reentry_fee=fee,
        )
    return ReentryPlan(
        path,
        cca_service_until=effective_date - ONE_DAY,
        tbs_from=effective_date,
        tbs_until=six_months_on - ONE_DAY,
        bundled_from=effective_date,
        standard_rates_from=six_months_on,
        min_stay_months=months,
        min_stay_until=add_months(effective_date, months),
        reentry_fee=fee,
    )


def reentry_for_optout(*, optout: OptOutRequest) -> ReentryRequest | None:
    """The re-entry an opt-out after the free window starts (None for any other outcome)."""
    if optout.outcome != Outcome.AFTER_FREE_WINDOW:
        return None
    plan = reentry_plan(
        program=optout.program,
        path=optout.return_path or ReturnPath.ADVANCE_NOTICE,
        effective_date=optout.effective_date,
    )
    return ReentryRequest.objects.create(
        program_id=optout.program_id,
        account=optout.account,
        optout=optout,
        path=plan.path,
        notice_date=optout.request_date,
        cca_service_until=plan.cca_service_until,
        tbs_from=plan.tbs_from,
        tbs_until=plan.tbs_until,
        bundled_from=plan.bundled_from,
        standard_rates_from=plan.standard_rates_from,
        min_stay_months=plan.min_stay_months,
        min_stay_until=plan.min_stay_until,
        reentry_fee=plan.reentry_fee,
        created_at=optout.received_at,
    )
