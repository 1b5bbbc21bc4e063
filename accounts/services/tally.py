"""Pre-aggregated dashboard tallies: how one is rebuilt and how fresh it is (docs/admin.md,
"How fresh the figures are"; docs/operations.md, "The dashboard's tallies").

A tally is a program's group counts (accounts by phase, class, city and status; notices by
enrollment date, kind, status and mail date), rebuilt set-based in one transaction: the old rows
deleted, one INSERT … SELECT … GROUP BY writing the new ones, and `TallyRefresh.as_of` set to a
moment before that statement read the table. The tally is therefore exact as of `as_of`; it is
never edited row by row, so no write path can leave it silently wrong. Readers use it only
while `as_of` is within MAX_AGE, and compute live otherwise.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import TallyRefresh

# The beat rebuilds every tally this often; bulk changes (an import, a schedule run, a batch
# claim, a mail-house report, a moves file, a reconciliation) queue a rebuild after commit.
REFRESH_EVERY = dt.timedelta(minutes=5)
# Older than this and the dashboard stops trusting the tally (four missed beat runs): it
# computes the figures live and says why (docs/operations.md, "The dashboard's tallies").
MAX_AGE = dt.timedelta(minutes=20)

_queueing_paused: ContextVar[bool] = ContextVar("tally_queueing_paused", default=False)


@contextmanager
def tally_queueing_paused() -> Iterator[None]:
    """Within it, bulk changes queue no tally rebuild: for a caller that makes hundreds in a row
    and rebuilds the tallies itself once at the end (the demo lives months in a minute)."""
    token = _queueing_paused.set(True)
    try:
        yield
    finally:
        _queueing_paused.reset(token)


def tally_queueing_is_paused() -> bool:
    return _queueing_paused.get()


@dataclass(frozen=True)
class Refreshed:
    name: str
    program_id: int
    as_of: dt.datetime
    seconds: float
    groups: int


def tally_replace(
    *, program_id: int, name: str, model: type[models.Model], sql: str, params: list
) -> Refreshed:
    """Replace `model`'s rows of the program with what `sql` (an INSERT … SELECT … GROUP BY)
    writes, and record when. Two rebuilds of the same tally take turns on its TallyRefresh row,
    so one never deletes while the other inserts."""
    started = time.perf_counter()
    with transaction.atomic():
        TallyRefresh.objects.get_or_create(
            program_id=program_id, name=name, defaults={"as_of": timezone.now()}
        )
        record = TallyRefresh.objects.select_for_update().get(program_id=program_id, name=name)
        # Before the statement below takes its snapshot: anything committed earlier is counted.
        as_of = timezone.now()
        model._default_manager.filter(program_id=program_id).delete()
        with connection.cursor() as cur:
            cur.execute(sql, params)
            groups = max(cur.rowcount, 0)
        record.as_of = as_of
        record.seconds = round(time.perf_counter() - started, 3)
        record.groups = groups
        record.save(update_fields=["as_of", "seconds", "groups"])
    return Refreshed(name, program_id, as_of, record.seconds, groups)


@dataclass(frozen=True)
class Freshness:
    """Where a set of figures came from: a tally as of `as_of`, or live (`live_reason` says
    why: no tally yet, the tally is too old, or the caller asked for live figures)."""

    name: str
    as_of: dt.datetime | None
    live_reason: str = ""

    @property
    def live(self) -> bool:
        return bool(self.live_reason)


class FromTallies:
    """For a set of figures that carries its `freshness` (the dashboard, the board report)."""

    freshness: tuple[Freshness, ...]

    @property
    def tallied_as_of(self) -> dt.datetime | None:
        """The oldest moment the tallied figures are counted at (None: all live)."""
        return min((f.as_of for f in self.freshness if not f.live and f.as_of), default=None)

    @property
    def live_reasons(self) -> list[str]:
        return [f.live_reason for f in self.freshness if f.live]


def tally_as_of(*, program_id: int, name: str) -> dt.datetime | None:
    return (
        TallyRefresh.objects.filter(program_id=program_id, name=name)
        .values_list("as_of", flat=True)
        .first()
    )


def tally_freshness(
    *, program_id: int, name: str, source: str = "auto", now: dt.datetime | None = None
) -> Freshness:
    """Whether `name`'s tally may be read now. `source`: "auto" (the tally if fresh, else live),
    "live" (always live: the reference computation), "tally" (the tally even if old; raises
    LookupError if there is none)."""
    if source == "live":
        return Freshness(name, timezone.now(), "live figures were asked for")
    as_of = tally_as_of(program_id=program_id, name=name)
    if source == "tally":
        if as_of is None:
            raise LookupError(f"no {name} tally for program {program_id}")
        return Freshness(name, as_of)
    if as_of is None:
        return Freshness(name, timezone.now(), f"the {name} tally has not been built yet")
    now = now or timezone.now()
    if now - as_of > MAX_AGE:
        minutes = int(MAX_AGE.total_seconds() // 60)
        when = timezone.localtime(as_of)
        return Freshness(
            name,
            now,
            f"the {name} tally is from {when:%Y-%m-%d %H:%M}, older than {minutes} minutes",
        )
    return Freshness(name, as_of)


def tally_refresh_wanted(*, program_id: int, name: str, requested_at: str | None) -> bool:
    """False when a rebuild that started after the change was requested has already run."""
    if requested_at is None:
        return True
    as_of = (
        TallyRefresh.objects.filter(program_id=program_id, name=name)
        .values_list("as_of", flat=True)
        .first()
    )
    return as_of is None or as_of < dt.datetime.fromisoformat(requested_at)
