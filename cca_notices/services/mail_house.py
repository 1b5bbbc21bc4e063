"""The mail house's report: which pieces were mailed, which came back (docs/formats/mail-house.md).

The whole file is checked first; any bad line — or a piece ID we never issued, unless the caller
allows unknown ones — stops the import before anything is written, and the error names every
line. Then everything is applied in one transaction by the sources that issued the pieces (the
notice lifecycle for notices), so a report imported twice (or a line repeated) changes nothing
the second time.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from accounts.services.status import Actor
from accounts.services.text_files import CsvDictReader, InputFileError, text_lines
from cca_notices.models import MailBatch
from cca_notices.services.batch_sources import (
    PieceSource,
    ReportChanges,
    ReportItem,
    batch_sources,
)
from cca_notices.services.dashboard_tally import dashboard_tallies_refresh_after_commit

# The statuses every source's items share.
BATCHED, MAILED, RETURNED = "batched", "mailed", "returned"
REQUIRED = ("piece_id", "event", "date")
EVENTS = ("mailed", "returned")
MAX_LISTED = 50


class MailHouseReportError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = problems[:MAX_LISTED]
        more = f"\n… and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        super().__init__(
            "mail-house report not imported (nothing written):\n" + "\n".join(shown) + more
        )


@dataclass
class ReportResult:
    lines: int = 0
    # (source unit, "mailed" | "returned" | "mailed_inferred") → items changed
    changed: Counter = field(default_factory=Counter)
    units: list[str] = field(default_factory=list)
    already: int = 0
    repeated_lines: int = 0
    unknown: list[tuple[int, str]] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, int]:
        counts = {"lines": self.lines}
        for unit in self.units:
            counts[f"{unit} mailed"] = self.changed[(unit, "mailed")]
            counts[f"{unit} returned"] = self.changed[(unit, "returned")]
        counts["mailed inferred from a return"] = sum(
            n for (_, what), n in self.changed.items() if what == "mailed_inferred"
        )
        counts.update(
            {
                "already recorded": self.already,
                "repeated lines": self.repeated_lines,
                "unknown piece IDs": len(self.unknown),
            }
        )
        return counts


@dataclass(frozen=True)
class _Line:
    number: int
    piece_id: str
    event: str
    day: dt.date
    reason: str


def _piece(raw: str) -> str:
    # Mail houses often report the full IMb digits (tracking + routing ZIP): the piece is the
    # first 20.
    digits = raw.strip()
    return digits[:20] if digits.isdigit() and len(digits) in (25, 29, 31) else digits


def parse_report(text: str) -> tuple[list[_Line], list[str]]:
    if "\x00" in text:  # an uploaded report is not read through text_lines
        line = text.count("\n", 0, text.index("\x00")) + 1
        return [], [f"line {line}: holds a NUL character; no field may"]
    reader = CsvDictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        return _report_lines(reader)
    except InputFileError as exc:
        return [], [str(exc)]


def _report_lines(reader: CsvDictReader) -> tuple[list[_Line], list[str]]:
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [
            f"line 1: missing column(s) {', '.join(missing)} (expected piece_id,event,date,reason)"
        ]
    reader.fieldnames = header
    lines, problems = [], []
    for row in reader:
        n = reader.line_num
        piece = _piece(row.get("piece_id") or "")
        event = (row.get("event") or "").strip().lower()
        raw_date = (row.get("date") or "").strip()
        reason = (row.get("reason") or "").strip()
        errors = []
        if not piece:
            errors.append("piece_id is empty")
        if event not in EVENTS:
            errors.append(f"event {event!r} is not one of {', '.join(EVENTS)}")
        try:
            day = dt.date.fromisoformat(raw_date)
        except ValueError:
            errors.append(f"date {raw_date!r} is not YYYY-MM-DD")
            day = None
        if event == "returned" and not reason:
            errors.append("reason is required for a returned piece (e.g. 'insufficient address')")
        if errors or day is None:
            problems.append(f"line {n}: " + "; ".join(errors))
        else:
            lines.append(_Line(n, piece, event, day, reason))
    return lines, problems


def _items_by_piece(
    piece_ids: set[str],
) -> dict[str, tuple[PieceSource, list[ReportItem]]]:
    """Piece ID → the source that issued it and its items; the first registered source that
    knows a piece ID wins (they share one serial counter, so only a wrapped range repeats)."""
    found: dict[str, tuple[PieceSource, list[ReportItem]]] = {}
    for source in batch_sources():
        missing = piece_ids - set(found)
        if not missing:
            break
        for piece, items in source.report_find(piece_ids=missing).items():
            found[piece] = (source, items)
    return found


def mail_house_report_import(
    *, path: Path | None = None, text: str | None = None, actor: Actor, allow_unknown: bool = False
) -> ReportResult:
    if text is None:
        if path is None:
            raise ValueError("mail_house_report_import needs a path or a text")
        try:
            text = "".join(text_lines(path))
        except InputFileError as exc:
            raise MailHouseReportError([str(exc)]) from None
    lines, problems = parse_report(text)
    result = ReportResult(lines=len(lines) + len(problems))
    result.units = [source.unit for source in batch_sources()]
    found = _items_by_piece({line.piece_id for line in lines})
    for line in lines:
        if line.piece_id not in found:
            result.unknown.append((line.number, line.piece_id))
    if result.unknown and not allow_unknown:
        problems += [
            f"line {n}: unknown piece_id {p!r} (not in any mail batch)" for n, p in result.unknown
        ]
    if problems:
        problems.sort(
            key=lambda p: (
                int(p.split(":", 1)[0].removeprefix("line ")) if p.startswith("line ") else 0
            )
        )
        raise MailHouseReportError(problems)

    seen: set[tuple[str, str]] = set()
    changes: dict[str, ReportChanges] = defaultdict(ReportChanges)
    batches: set[int] = set()
    status = {
        (source.unit, item.item_id): item.status
        for source, items in found.values()
        for item in items
    }
    for line in lines:
        hit = found.get(line.piece_id)
        if hit is None:
            continue
        if (line.piece_id, line.event) in seen:
            result.repeated_lines += 1  # the first line for a piece and event counts
            continue
        seen.add((line.piece_id, line.event))
        source, items = hit
        change = changes[source.unit]
        for item in items:
            batches.add(item.batch_id)
            key = (source.unit, item.item_id)
            current = status[key]
            if line.event == "mailed":
                if current == BATCHED:
                    change.mailed.setdefault(line.day, set()).add(item.item_id)
                    status[key] = MAILED
                else:
                    result.already += 1
                continue
            if current == RETURNED:
                result.already += 1
                continue
            if current == BATCHED:
                # The house can only return what it mailed: recorded as mailed on the batch's date.
                change.inferred.setdefault(item.mail_date, set()).add(item.item_id)
            change.returned.setdefault((line.day, line.reason), set()).add(item.item_id)
            status[key] = RETURNED
    now = timezone.now()
    with transaction.atomic():
        for source in batch_sources():
            pending = changes.get(source.unit)
            if not pending:
                continue
            for what, n in source.report_apply(changes=pending, actor=actor, at=now).items():
                result.changed[(source.unit, what)] += n
        if any(changes.values()):
            MailBatch.objects.filter(pk__in=batches, mailed_at__isnull=True).update(mailed_at=now)
            # The dashboard's figures of the programs whose pieces the report named.
            dashboard_tallies_refresh_after_commit(
                program_ids=MailBatch.objects.filter(pk__in=batches).values_list(
                    "program_id", flat=True
                )
            )
    return result
