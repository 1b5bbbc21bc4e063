"""The termination-fee schedule in force."""

from __future__ import annotations

import datetime as dt

from accounts.models import FeeSchedule, Program
from accounts.services.rows import RowsWith, row_first


def fee_schedule_in_force(
    *, program: Program, customer_class: str, on: dt.date
) -> FeeSchedule | None:
    # Every termination asks this: SQL built once (accounts/services/rows.py), not the ORM's per call.
    return row_first(
        FeeSchedule,
        where="program_id = %s AND customer_class = %s AND effective_from <= %s",
        params=[program.pk, customer_class, on],
        order_by="effective_from DESC",
    )


def fee_schedule_with_lock(on: dt.date) -> RowsWith:
    """`fee_schedule_in_force` for the locked account (c), read in the statement that locks it."""
    return RowsWith(
        FeeSchedule,
        where="program_id = c.program_id AND customer_class = c.customer_class AND effective_from <= %s",
        order_by="effective_from DESC",
        fields=("id", "effective_from", "admin_fee", "cost_recovery_charge"),
        params=(on,),
    )


def fee_table_in_force(*, program: Program, on: dt.date) -> list[FeeSchedule]:
    """One row per class: what the notices disclose on `on`."""
    rows = {}
    for row in FeeSchedule.objects.filter(program=program, effective_from__lte=on).order_by(
        "customer_class", "-effective_from"
    ):
        rows.setdefault(row.customer_class, row)
    return list(rows.values())
