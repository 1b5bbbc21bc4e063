"""The CSV-injection guard for files people open in a spreadsheet (OWASP, "CSV Injection").

A cell whose text starts with one of FORMULA_START is run as a formula by Excel, LibreOffice and
Google Sheets, so it gets a leading `'`. Only files meant for people use this: files another
system reads (the mail house, the utility) carry values exactly as stored, with a plain writer.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """The value with a leading `'` when it is text a spreadsheet would run as a formula; any
    other value (numbers, dates, None) as it is, since only text can carry a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class SpreadsheetWriter:
    """csv.writer that passes every cell through spreadsheet_safe."""

    def __init__(self, out: Any, **fmtparams: Any):
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([spreadsheet_safe(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def spreadsheet_writer(out: Any, **fmtparams: Any) -> SpreadsheetWriter:
    """A csv writer for a file people open in a spreadsheet (same arguments as csv.writer)."""
    return SpreadsheetWriter(out, **fmtparams)
