"""The file as the utility sent it: its header, its records as the csv module reads them, and
the reject file, which repeats the rejected records as they were (a cell a spreadsheet would run
as a formula gets a leading `'`: staff open this file)."""

from __future__ import annotations

import csv
import difflib
from collections.abc import Iterable, Iterator
from pathlib import Path

from accounts.services.importing.columns import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from accounts.services.importing.results import ImportRejected, ImportResult, RowError
from accounts.services.spreadsheet import spreadsheet_writer


class Unreadable(list):
    """In place of a record the csv module refused (a field past csv.field_size_limit()): the
    line is rejected with this reason and the records after it are read as usual."""

    def __init__(self, exc: csv.Error):
        super().__init__()
        self.reason = (
            f"has a field longer than {csv.field_size_limit():,} characters"
            if "field larger than field limit" in str(exc)
            else f"is not valid CSV ({exc})"
        )

    def __str__(self) -> str:
        return self.reason

    def __eq__(self, other: object) -> bool:
        return other.__class__ is Unreadable and str(other) == self.reason

    __hash__ = None


def header_read(records: Iterator[list[str]], path: Path) -> list[str]:
    """The header's column names, or ImportRejected naming each missing, unknown or repeated one."""
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(records)]
    except StopIteration:
        raise ImportRejected([RowError(1, "header", f"{path.name} is empty")], 1) from None
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    errors = []
    for col in REQUIRED_COLUMNS:
        if col not in header:
            errors.append(RowError(1, col, "required column is missing"))
    for col in header:
        if col not in known:
            hint = difflib.get_close_matches(col, known, n=1)
            errors.append(
                RowError(
                    1,
                    col or "(blank)",
                    "unknown column" + (f" (did you mean {hint[0]}?)" if hint else ""),
                )
            )
    dupes = {c for c in header if header.count(c) > 1}
    errors += [RowError(1, c, "column appears more than once") for c in sorted(dupes)]
    if errors:
        raise ImportRejected(errors, len(errors))
    return header


def file_header(path: Path) -> list[str]:
    _, header_rec = next(records(path))
    return header_read(iter([header_rec]), path)


def records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields), the header first."""
    # surrogateescape: a byte that is not UTF-8 is carried through (into a reject file) as it was;
    # the validation reports it by line.
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, [])
        except csv.Error as exc:
            raise ImportRejected([RowError(1, "header", str(Unreadable(exc)))], 1) from None
        yield 1, header
        start = reader.line_num + 1
        while True:
            try:
                rec: list[str] = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                # The reject file says which line it was; the record itself cannot be repeated.
                rec = [f"(line {start} {Unreadable(exc)}: not repeated here)"]
            yield start, rec
            start = reader.line_num + 1


def rejects_write(path: Path, result: ImportResult) -> Path:
    """The rejected rows as they were in the file, with line, column and reason appended, each
    cell through the spreadsheet guard."""
    out = path.with_name(path.stem + ".rejects.csv")
    rejected = result.rejected_lines
    with open(out, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        # Staff open it in a spreadsheet to work the rows, so every cell gets the guard.
        writer = spreadsheet_writer(fh)
        for line, rec in records(path):
            if line == 1:
                writer.writerow([*rec, "reject_line", "reject_column", "reject_reason"])
            elif line in rejected:
                errs = rejected[line]
                writer.writerow(_reject_row(rec, line, errs))
    return out


def _reject_row(rec: list[str], line: int, errs: Iterable[RowError]) -> list[object]:
    errs = list(errs)
    return [*rec, line, "; ".join(e.column for e in errs), "; ".join(e.reason for e in errs)]
