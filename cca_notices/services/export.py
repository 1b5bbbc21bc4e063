"""The notice schedule export (interfaces.md; docs/formats/notice-schedule.md)."""

from __future__ import annotations

from collections.abc import Iterator

from accounts.models import Program
from accounts.services.audit import audit_access
from accounts.services.spreadsheet import spreadsheet_writer
from cca_notices.models import Notice

HEADER = ["account_number", "enrollment_date", "kind", "mail_date", "status"]


def notice_schedule_rows(*, program: Program, chunk_size: int = 20_000) -> Iterator[list[str]]:
    """Rows in account-number order, then mail date; the date that counts is the mailed date
    once the mail house confirmed it."""
    qs = (
        Notice.objects.filter(program=program)
        .order_by("account__account_number", "mail_date", "kind")
        .values_list(
            "account__account_number", "enrollment_date", "kind", "mail_date", "mailed_on", "status"
        )
    )
    for number, enrollment, kind, due, mailed_on, status in qs.iterator(chunk_size=chunk_size):
        yield [number, enrollment.isoformat(), kind, (mailed_on or due).isoformat(), status]


def notice_schedule_export(*, program: Program, out, progress=None) -> int:
    # People read it (staff, a regulator) in a spreadsheet: every cell gets the guard.
    writer = spreadsheet_writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    n = 0
    for row in notice_schedule_rows(program=program):
        writer.writerow(row)
        n += 1
        if progress is not None:
            progress.update(1)
    audit_access(
        instance=program,
        what="notice schedule export",
        detail={"file": str(getattr(out, "name", "")), "rows": n},
    )
    return n
