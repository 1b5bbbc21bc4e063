"""What a run reports: row errors, the rejection of a file, the counts and step timings."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from accounts.models import ImportRun

MAX_REPORTED_ERRORS = 1000
T = TypeVar("T")


@dataclass
class RowError:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.reason}"


class ImportRejected(Exception):
    """The file was not loaded; `errors` says where and why."""

    def __init__(self, errors: list[RowError], total: int, run: ImportRun | None = None):
        self.errors, self.total, self.run = errors, total, run
        shown = "\n".join(f"  {e}" for e in errors[:20])
        more = f"\n  … and {total - 20} more" if total > 20 else ""
        super().__init__(f"{total} error(s); nothing was written:\n{shown}{more}")


@dataclass
class ImportResult:
    run: ImportRun
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    status_kept: int = 0
    inherited_opt_outs: int = 0
    reject_file: Path | None = None
    errors: list[RowError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS, by line
    rejected_lines: dict[int, list[RowError]] = field(default_factory=dict, repr=False)
    # Seconds per step, in order (import_accounts -v 2 prints them; docs/performance.md uses them).
    timings: dict[str, float] = field(default_factory=dict, repr=False)
    _lap: float = field(default=0.0, repr=False)

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - started

    def lap(self, step: str | None = None) -> None:
        """Time since the previous lap goes to `step` (None starts the clock)."""
        now = time.perf_counter()
        if step is not None:
            self.timings[step] = self.timings.get(step, 0.0) + now - self._lap
        self._lap = now

    def timed_iter(self, step: str, items: Iterable[T]) -> Iterator[T]:
        with self.timed(step):
            yield from items

    def summary(self) -> str:
        text = (
            f"{self.rows} rows: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
        )
        if self.status_kept:
            text += (
                f"; {self.status_kept} status(es) in the file ignored"
                " (would move an account backwards or re-enroll it)"
            )
        if self.inherited_opt_outs:
            text += (
                f"; {self.inherited_opt_outs} new account(s) kept opted out"
                " (same customer and premises as an opted-out account)"
            )
        if self.reject_file:
            text += f"; rejected rows in {self.reject_file}"
        return text
