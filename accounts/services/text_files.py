"""Reading the text files people and utilities send us: UTF-8 checked line by line, so a file
that cannot be read is refused with its line named, never a traceback (docs/formats/).

Every command that reads a file checks the path with `input_file_check` and reads through
`text_lines` or `csv_dict_reader`; each raises InputFileError, whose message names the line."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

# A line longer than this is not a record of any of our formats: refused before it is held in
# memory whole (the csv module's own limit on one field is csv.field_size_limit(), 131,072).
MAX_LINE_CHARS = 1 << 20


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
    """The file's lines as text, line endings kept (CRLF, LF or a lone CR, as spreadsheets
    write them), a leading byte-order mark dropped; InputFileError naming the first line that
    is not UTF-8, holds a NUL or is longer than MAX_LINE_CHARS."""
    path = input_file_check(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the `with` below
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be opened ({exc.strerror})") from None
    with fh:
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
        number = 0
        try:
            while line := text.readline(MAX_LINE_CHARS + 1):
                number += 1
                if len(line) > MAX_LINE_CHARS:
                    raise InputFileError(f"longer than {MAX_LINE_CHARS:,} characters", number)
                if not allow_nul and "\x00" in line:
                    raise InputFileError(
                        f"holds a NUL character (column {line.index(chr(0)) + 1}); no field may",
                        number,
                    )
                yield line
        except UnicodeDecodeError:
            # The decoder works in blocks; find the line again, byte by byte (errors only).
            raise _undecodable(path) from None


def _undecodable(path: Path) -> InputFileError:
    with open(path, "rb") as fh:
        number = 0
        while raw := fh.readline(MAX_LINE_CHARS + 1):
            # A lone CR ends a line too; UTF-8 never has a CR or LF inside a character.
            for piece in re.split(rb"\r(?!\n)", raw):
                number += 1
                try:
                    piece.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return InputFileError(
                        f"not UTF-8 text (byte {piece[exc.start]:#04x} at column "
                        f"{exc.start + 1}); save the file as UTF-8",
                        number,
                    )
    return InputFileError("not UTF-8 text; save the file as UTF-8")


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
