"""The sources of mail pieces the batch builder (cca_notices.services.batches) prints from.

The builder owns everything a batch has in common: the program's lock, the `MailBatch` row, the
IMb serials, the PDF files and data CSV, the manifest and the mail house's report. A source owns
its items (notices, confirmation letters, …): which are waiting, how one is claimed for a batch,
how its piece is rendered and what the report's events change on it. The notices layer registers
its notices; an app above it registers its own letters from its `AppConfig.ready()`, so the
builder never imports the app.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from accounts.models import Program
from accounts.services.status import Actor
from cca_notices.models import MailBatch


@dataclass
class Selection:
    """The items due for one batch: those to take, and how many were left out (and why)."""

    item_ids: list[int]
    due: int
    excluded: dict[str, int] = field(default_factory=dict)
    due_dates: dict[str, int] = field(default_factory=dict)


@dataclass
class Taken:
    """The items a source took into a batch, grouped into pieces in print order. A group's first
    item is the piece's own; the others are merged into it (one letter for all of them)."""

    groups: list[list[int]]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Piece:
    """A stored piece of a batch; `record` is whatever the source needs to render it again."""

    piece_id: str
    serial: int
    account_id: int
    account_numbers: list[str]
    record: Any = None


@dataclass(frozen=True)
class Printed:
    """A rendered piece as its data-CSV row describes it."""

    zip: str
    name: str
    address: str
    city: str
    state: str
    language: str
    kind: str
    account_numbers: tuple[str, ...]
    pages: int


@dataclass(frozen=True)
class ReportItem:
    """An item a mail-house report's piece ID stands for."""

    item_id: int
    status: str
    batch_id: int
    mail_date: dt.date


@dataclass
class ReportChanges:
    """What one report does to a source's items: item ids by day (and reason for returns).
    `inferred` are returns of pieces never reported mailed: mailed on their batch's date."""

    mailed: dict[dt.date, set[int]] = field(default_factory=dict)
    inferred: dict[dt.date, set[int]] = field(default_factory=dict)
    returned: dict[tuple[dt.date, str], set[int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.mailed or self.inferred or self.returned)


class PieceSource(Protocol):
    """One kind of mail piece. Item statuses the builder and the report rely on are the values
    `batched`, `mailed` and `returned`."""

    unit: str  # what an item is called in counts: "notices", "letters"
    batches_key: str  # the daily build's count of this source's batches

    @property
    def kinds(self) -> Collection[str]: ...

    def kinds_waiting(self, *, program: Program, mail_date: dt.date) -> Iterable[str]: ...

    def select(
        self, *, program: Program, kind: str, mail_date: dt.date, actor_name: str, now: dt.datetime
    ) -> Selection:
        """Inside the builder's transaction (program locked): the items due, with those that
        must not be mailed already recorded as left out."""
        ...

    def take(self, *, batch: MailBatch, item_ids: list[int], now: dt.datetime) -> Taken:
        """Put the items in `batch` with a conditional update (an item another builder took is
        skipped) and return the ones taken, grouped and sorted for printing."""
        ...

    def pieces_store(self, *, batch: MailBatch, pieces: list[tuple[str, list[int]]]) -> None:
        """Record each group's piece ID on its items."""
        ...

    def pieces(self, *, batch: MailBatch, piece_ids: Collection[str] | None = None) -> list[Piece]:
        """The batch's stored pieces (those of `piece_ids` only, when given), in any order (the
        builder sorts them by serial)."""
        ...

    def render(self, *, batch: MailBatch, pieces: list[Piece], out: BinaryIO) -> list[Printed]:
        """Write one PDF file of `pieces`, in their order, to `out`; one Printed each."""
        ...

    def manifest_counts(self, *, batch: MailBatch) -> dict[str, int]: ...

    def report_find(self, *, piece_ids: Collection[str]) -> dict[str, list[ReportItem]]:
        """Piece ID → its items, from the latest batch that issued the ID (a serial can come
        round again after the mailer ID's range wrapped)."""
        ...

    def report_apply(self, *, changes: ReportChanges, actor: Actor, at: dt.datetime) -> dict:
        """Apply the changes; counts under `mailed`, `mailed_inferred` and `returned`."""
        ...


_SOURCES: list[PieceSource] = []


def batch_source_register(source: PieceSource) -> None:
    """Register once (an app's ready() may run again in tests): a second source of a kind is
    refused, so the builder never has to choose between two."""
    if any(type(s) is type(source) for s in _SOURCES):
        return
    taken = {kind for s in _SOURCES for kind in s.kinds}
    clash = taken & set(source.kinds)
    if clash:
        raise ValueError(f"mail-piece kinds already supplied by another source: {sorted(clash)}")
    _SOURCES.append(source)


def batch_sources() -> tuple[PieceSource, ...]:
    """In registration order: the report looks a piece ID up in this order."""
    return tuple(_SOURCES)


def batch_source_for(kind: str) -> PieceSource | None:
    return next((s for s in _SOURCES if kind in s.kinds), None)
