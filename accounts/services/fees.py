"""The termination-fee schedule in force."""

from __future__ import annotations

import datetime as dt

from accounts.models import FeeSchedule, Program


def fee_schedule_in_force(
    *, program: Program, customer_class: str, on: dt.date
) -> FeeSchedule | None:
    return (
        FeeSchedule.objects.filter(
            program=program, customer_class=customer_class, effective_from__lte=on
        )
        .order_by("-effective_from")
        .first()
    )


def fee_table_in_force(*, program: Program, on: dt.date) -> list[FeeSchedule]:
    """One row per class: what the notices disclose on `on`."""
    rows: dict[str, FeeSchedule] = {}
    for row in FeeSchedule.objects.filter(program=program, effective_from__lte=on).order_by(
        "customer_class", "-effective_from"
    ):
        rows.setdefault(row.customer_class, row)
    return list(rows.values())
