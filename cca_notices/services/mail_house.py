"""The mail house's report: which pieces were mailed, which came back (docs/formats/mail-house.md).

The whole file is checked first; any bad line — or a piece ID we never issued, unless the caller
allows unknown ones — stops the import before anything is written, and the error names every
line. Then everything is applied in one transaction through the notice lifecycle, so a report
imported twice (or a line repeated) changes nothing the second time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from accounts.services.status import Actor
from cca_notices.models import MailBatch, Notice
from cca_notices.services.lifecycle import notice_mark_mailed, notice_mark_returned

NS = Notice.Status
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
    mailed: int = 0
    returned: int = 0
    mailed_inferred: int = 0
    already: int = 0
    repeated_lines: int = 0
    unknown: list[tuple[int, str]] = field(default_factory=list)
    notices: int = 0
    letters_mailed: int = 0
    letters_returned: int = 0

    @property
    def summary(self) -> dict[str, int]:
        return {
            "lines": self.lines,
            "notices mailed": self.mailed,
            "notices returned": self.returned,
            "mailed inferred from a return": self.mailed_inferred,
            "letters mailed": self.letters_mailed,
            "letters returned": self.letters_returned,
            "already recorded": self.already,
            "repeated lines": self.repeated_lines,
            "unknown piece IDs": len(self.unknown),
        }


@dataclass(frozen=True)
class _Line:
    number: int
    piece_id: str
    event: str
    day: dt.date
    reason: str


def _piece(raw: str) -> str:
    # Mail houses often report the full IMb digits (tracking + routing ZIP): the piece is the first 20.
    digits = raw.strip()
    return digits[:20] if digits.isdigit() and len(digits) in (25, 29, 31) else digits


def parse_report(text: str) -> tuple[list[_Line], list[str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
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
        if errors:
            problems.append(f"line {n}: " + "; ".join(errors))
        else:
            lines.append(_Line(n, piece, event, day, reason))
    return lines, problems


def _notices_by_piece(piece_ids: set[str]) -> dict[str, list[tuple[int, str, int, dt.date]]]:
    """Piece ID → its notices (id, status, batch id, batch mail date). A piece ID reused after
    the mailer ID's serial range wrapped round belongs to the latest batch that issued it."""
    found: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    ids = list(piece_ids)
    for start in range(0, len(ids), 5000):
        rows = Notice.objects.filter(
            piece_id__in=ids[start : start + 5000], batch__isnull=False
        ).values_list("piece_id", "pk", "status", "batch_id", "batch__mail_date")
        for piece, pk, status, batch_id, mail_date in rows:
            found[piece][batch_id].append((pk, status, batch_id, mail_date))
    return {piece: batches[max(batches)] for piece, batches in found.items()}


def mail_house_report_import(
    *, path: Path | None = None, text: str | None = None, actor: Actor, allow_unknown: bool = False
) -> ReportResult:
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MailHouseReportError([f"{path}: cannot read the file ({exc})"]) from exc
    from optouts.services.letter_batches import (
        confirmations_by_piece,
        confirmations_mark_mailed,
        confirmations_mark_returned,
    )

    lines, problems = parse_report(text)
    result = ReportResult(lines=len(lines) + len(problems))
    notices = _notices_by_piece({line.piece_id for line in lines})
    # Confirmation letters and six-month advance notices share the serial counter with notices.
    letters = confirmations_by_piece({line.piece_id for line in lines} - set(notices))
    for line in lines:
        if line.piece_id not in notices and line.piece_id not in letters:
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
    mailed: dict[dt.date, set[int]] = defaultdict(set)
    returned: dict[tuple[dt.date, str], set[int]] = defaultdict(set)
    inferred: dict[dt.date, set[int]] = defaultdict(set)
    batches: set[int] = set()
    status = {pk: s for rows in notices.values() for pk, s, _, _ in rows}
    letters_mailed: dict[dt.date, set[int]] = defaultdict(set)
    letters_returned: dict[tuple[dt.date, str], set[int]] = defaultdict(set)
    letter_status = {pk: s for pk, s, _, _ in letters.values()}
    for line in lines:
        rows = notices.get(line.piece_id)
        if rows is None:
            letter = letters.get(line.piece_id)
            if letter is None or (line.piece_id, line.event) in seen:
                result.repeated_lines += letter is not None
                continue
            seen.add((line.piece_id, line.event))
            pk, _, batch_id, _ = letter
            batches.add(batch_id)
            current = letter_status[pk]
            if line.event == "mailed":
                if current == "batched":
                    letters_mailed[line.day].add(pk)
                    letter_status[pk] = "mailed"
                else:
                    result.already += 1
            elif current == "returned":
                result.already += 1
            else:
                letters_returned[(line.day, line.reason)].add(pk)
                letter_status[pk] = "returned"
            continue
        if (line.piece_id, line.event) in seen:
            result.repeated_lines += 1  # the first line for a piece and event counts
            continue
        seen.add((line.piece_id, line.event))
        for pk, _, batch_id, mail_date in rows:
            batches.add(batch_id)
            current = status[pk]
            if line.event == "mailed":
                if current == NS.BATCHED:
                    mailed[line.day].add(pk)
                    status[pk] = NS.MAILED
                else:
                    result.already += 1
            else:
                if current == NS.RETURNED:
                    result.already += 1
                    continue
                if current == NS.BATCHED:
                    # The mail house can only return what it mailed: recorded as mailed on the batch's date.
                    inferred[mail_date].add(pk)
                returned[(line.day, line.reason)].add(pk)
                status[pk] = NS.RETURNED
    now = timezone.now()
    with transaction.atomic():
        for day, ids in sorted(mailed.items()):
            result.mailed += notice_mark_mailed(
                notice_ids=sorted(ids), mailed_on=day, actor=actor, at=now
            ).changed
        for day, ids in sorted(inferred.items()):
            step = notice_mark_mailed(notice_ids=sorted(ids), mailed_on=day, actor=actor, at=now)
            result.mailed_inferred += step.changed
        for (day, reason), ids in sorted(returned.items()):
            result.returned += notice_mark_returned(
                notice_ids=sorted(ids), return_date=day, reason=reason, actor=actor, at=now
            ).changed
        for day, ids in sorted(letters_mailed.items()):
            result.letters_mailed += confirmations_mark_mailed(
                confirmation_ids=sorted(ids), mailed_on=day
            )
        for (day, reason), ids in sorted(letters_returned.items()):
            result.letters_returned += confirmations_mark_returned(
                confirmation_ids=sorted(ids), return_date=day, reason=reason, at=now
            )
        if mailed or inferred or letters_mailed or letters_returned:
            MailBatch.objects.filter(pk__in=batches, mailed_at__isnull=True).update(mailed_at=now)
    result.notices = len(status)
    return result
