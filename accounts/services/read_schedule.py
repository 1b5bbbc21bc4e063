"""The utility's meter-read schedule CSV (`read_cycle, read_date`; docs/formats/read-schedule.md).

Read dates belong to the utility (every program it serves shares them); the ImportRun that
records the load belongs to the program it was loaded for. The file is checked in full before
anything is written; a load is idempotent, and for each cycle it is authoritative over the
dates it spans: a future read date inside that span that the file no longer lists is removed
(the utility moved it), so enrollment never lands on a read that will not happen.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from accounts.models import ImportRun, Program, ReadDate
from accounts.services.calendar import (
    Calendar,
    add_business_days,
    default_calendar,
    is_business_day,
)
from accounts.services.calendar import today as business_today
from accounts.services.files import file_sha256
from accounts.services.status import Actor
from accounts.services.text_files import InputFileError, csv_dict_reader

COLUMNS = ("read_cycle", "read_date")
MAX_CYCLE = 99
MAX_ERRORS_SHOWN = 50


class ReadScheduleRejected(Exception):
    """Bad rows: nothing was written. `errors` are "line N, column: problem"."""

    def __init__(self, errors: list[str], run: ImportRun | None = None):
        self.errors, self.run = errors, run
        shown = errors[:MAX_ERRORS_SHOWN]
        more = f"\n  … and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        super().__init__(
            f"read schedule rejected, nothing written ({len(errors)} problem(s)):\n"
            + "\n".join(f"  {e}" for e in shown)
            + more
        )


@dataclass
class ReadScheduleResult:
    run: ImportRun
    rows: int
    created: int
    unchanged: int
    removed: int
    duplicates: int

    def summary(self) -> str:
        return (
            f"{self.rows} rows: {self.created} read dates created, {self.unchanged} unchanged, "
            f"{self.removed} removed (moved by the utility), "
            f"{self.duplicates} duplicate rows ignored"
        )


def read_schedule_parse(*, path: Path) -> tuple[set[tuple[int, dt.date]], int, int, list[str]]:
    """Returns (reads, data rows, duplicate rows, errors). Line numbers count the header as 1."""
    errors: list[str] = []
    reads: set[tuple[int, dt.date]] = set()
    rows = dups = 0
    try:
        with csv_dict_reader(path) as reader:
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                return (
                    reads,
                    0,
                    0,
                    [
                        f"line 1: header lacks column(s) {', '.join(missing)} "
                        f"(found: {', '.join(header) or 'nothing'}; expected: {', '.join(COLUMNS)})"
                    ],
                )
            reader.fieldnames = header
            for row in reader:
                line = reader.line_num
                if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                    continue  # blank line
                rows += 1
                cycle = _cycle(row.get("read_cycle"), line, errors)
                date = _date(row.get("read_date"), line, errors)
                if cycle is None or date is None:
                    continue
                if (cycle, date) in reads:
                    dups += 1
                reads.add((cycle, date))
    except InputFileError as e:
        errors.append(str(e))
    if not errors and not reads:
        errors.append("the file has no read dates")
    return reads, rows, dups, errors


def _cycle(raw: str | None, line: int, errors: list[str]) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        errors.append(f"line {line}, read_cycle: missing")
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_CYCLE:
        errors.append(
            f"line {line}, read_cycle: {raw!r} is not a cycle number from 1 to {MAX_CYCLE}"
        )
        return None
    return int(raw)


def _date(raw: str | None, line: int, errors: list[str]) -> dt.date | None:
    raw = (raw or "").strip()
    if not raw:
        errors.append(f"line {line}, read_date: missing")
        return None
    try:
        if len(raw) != 10:
            raise ValueError
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors.append(f"line {line}, read_date: {raw!r} is not a date (YYYY-MM-DD)")
        return None


def read_schedule_import(
    *, program: Program, path: Path, actor: Actor, today: dt.date | None = None
) -> ReadScheduleResult:
    """Load a read-schedule CSV into the program's utility's ReadDate rows, recording an
    ImportRun."""
    path = Path(path)
    today = today or business_today()
    reads, rows, dups, errors = read_schedule_parse(path=path)
    run = ImportRun(
        program=program,
        kind=ImportRun.Kind.READ_SCHEDULE,
        file_name=str(path),
        actor=actor.name,
        rows=rows,
        sha256=file_sha256(path) if path.is_file() else "",
    )
    if errors:
        run.outcome, run.rejected = ImportRun.Outcome.REJECTED, len(errors)
        run.finished_at, run.message = timezone.now(), "\n".join(errors[:1000])
        run.save()
        raise ReadScheduleRejected(errors, run)

    by_cycle: dict[int, set[dt.date]] = defaultdict(set)
    for cycle, date in reads:
        by_cycle[cycle].add(date)
    with transaction.atomic():
        run.save()
        existing = set(
            ReadDate.objects.filter(
                utility_id=program.utility_id, read_cycle__in=by_cycle
            ).values_list("read_cycle", "read_date")
        )
        new = reads - existing
        ReadDate.objects.bulk_create(
            [
                ReadDate(utility_id=program.utility_id, read_cycle=c, read_date=d)
                for c, d in sorted(new)
            ],
            batch_size=2000,
        )
        removed = 0
        for cycle, dates in by_cycle.items():
            stale = [
                d
                for c, d in existing
                if c == cycle and d not in dates and max(min(dates), today) <= d <= max(dates)
            ]
            if stale:
                removed += ReadDate.objects.filter(
                    utility_id=program.utility_id, read_cycle=cycle, read_date__in=stale
                ).delete()[0]
        run.created, run.unchanged = len(new), len(reads) - len(new)
        run.outcome, run.finished_at = ImportRun.Outcome.LOADED, timezone.now()
        run.message = (
            f"{removed} read date(s) no longer in the utility's schedule removed" if removed else ""
        )
        run.save()
    return ReadScheduleResult(
        run=run,
        rows=rows,
        created=len(new),
        unchanged=len(reads) - len(new),
        removed=removed,
        duplicates=dups,
    )


def read_schedule_generate(
    *, start: dt.date, months: int, cycles: int = 21, calendar: Calendar | None = None
) -> list[tuple[int, dt.date]]:
    """A plausible schedule for demos and tests: cycle k reads on business day k of each month
    (the month's last business day when it has fewer), as utilities spread reads over the month.
    Business days are the utility's (`calendar`, by default a new program's utility calendar)."""
    calendar = calendar or default_calendar("utility")
    out: list[tuple[int, dt.date]] = []
    year, month = start.year, start.month
    for _ in range(months):
        first = dt.date(year, month, 1)
        days = []
        day = (
            first
            if is_business_day(first, calendar=calendar)
            else add_business_days(first, 1, calendar=calendar)
        )
        while day.month == month:
            days.append(day)
            day = add_business_days(day, 1, calendar=calendar)
        out.extend((k, days[min(k, len(days)) - 1]) for k in range(1, cycles + 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def read_schedule_write(*, path: Path, reads: list[tuple[int, dt.date]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fp:
        w = csv.writer(fp)
        w.writerow(COLUMNS)
        w.writerows((c, d.isoformat()) for c, d in sorted(reads))
    return path
