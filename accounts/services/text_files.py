"""Reading the text files people and utilities send us: UTF-8 checked line by line, so a file
that cannot be read is refused with its line named, never a traceback (docs/formats/).

Every command that reads a file checks the path with `input_file_check` and reads through
`text_lines` or `csv_dict_reader`; each raises InputFileError, whose message names the line."""

from __future__ import annotations

import csv
import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

# A line longer than this is not a record of any of our formats: refused before it is held in
# memory whole (the csv module's own limit on one field is csv.field_size_limit(), 131,072).
MAX_LINE_BYTES = 1 << 20


class InputFileError(ValueError):
    """A file that cannot be read as our text formats: the message names the line."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


def input_file_check(path: str | os.PathLike) -> Path:
    """`path` if it is a readable file; InputFileError saying why not."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, not a file")
    if not path.is_file():
        raise InputFileError(f"{path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise InputFileError(f"{path}: cannot be read (permission denied)")
    return path


def text_lines(path: str | os.PathLike, *, allow_nul: bool = False) -> Generator[str, None, None]:
    """The file's lines as text (line endings kept, a leading byte-order mark dropped), each
    decoded as UTF-8; InputFileError naming the first line that is not UTF-8, holds a NUL or is
    longer than MAX_LINE_BYTES."""
    path = input_file_check(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the `with` below
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be opened ({exc.strerror})") from None
    with fh:
        number = 0
        while raw := fh.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(raw) > MAX_LINE_BYTES:
                raise InputFileError(f"longer than {MAX_LINE_BYTES:,} bytes", number)
            yield _decoded(raw, number, allow_nul)


def _decoded(raw: bytes, number: int, allow_nul: bool) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"not UTF-8 text (byte {raw[exc.start]:#04x} at column {exc.start + 1}); "
            "save the file as UTF-8",
            number,
        ) from None
    if number == 1:
        text = text.removeprefix("\ufeff")
    if not allow_nul and "\x00" in text:
        raise InputFileError(
            f"holds a NUL character (column {text.index(chr(0)) + 1}); no field may", number
        )
    return text


class CsvDictReader(csv.DictReader):
    """csv.DictReader whose csv errors (a field past the csv module's limit) are InputFileError
    naming the line."""

    def __init__(self, lines: Iterator[str] | IO[str]):
        super().__init__(lines)

    @property
    def fieldnames(self):
        try:
            return super().fieldnames
        except csv.Error as exc:
            raise InputFileError(_csv_problem(exc), self.reader.line_num) from None

    @fieldnames.setter
    def fieldnames(self, value):
        self._fieldnames = value

    def __next__(self):
        try:
            return super().__next__()
        except csv.Error as exc:
            raise InputFileError(_csv_problem(exc), self.reader.line_num) from None


def _csv_problem(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return f"not valid CSV ({exc})"


@contextmanager
def csv_dict_reader(path: str | os.PathLike) -> Iterator[CsvDictReader]:
    """A DictReader over the checked lines of `path` (see text_lines and CsvDictReader)."""
    lines = text_lines(path)
    try:
        yield CsvDictReader(lines)
    finally:
        lines.close()
