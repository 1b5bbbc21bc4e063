"""Reading the file in blocks and validating them in a pool of worker processes.

The main process only reads the file and cuts it into blocks that end on a record boundary;
forked workers (they inherit the validator and use no database connection) parse and validate
a block each and hand back what the main process writes, in file order.
"""

from __future__ import annotations

import csv
import gc
import io
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from itertools import count, repeat
from pathlib import Path
from typing import Any

from accounts.models import Program
from accounts.services.importing.csv_file import Unreadable
from accounts.services.importing.results import MAX_REPORTED_ERRORS, ImportResult, RowError
from accounts.services.importing.validation import Validator

BLOCK = 1 << 20
# (good rows, block text or None) → what the main process writes: COPY text of the staging table
# (copy_text.copy_text) or of the account table (FirstLoad.copy_text). A None text means "do not
# trust the text": every value is escaped.
Encode = Callable[[list[tuple], str | None], Any]
Outcome = tuple[Any, list[tuple[int, list[RowError]]], int]

# Set in the main process for the run and inherited by the forked workers.
_worker_validator: Validator | None = None
_worker_encode: Encode | None = None


def _worker_init() -> None:
    assert _worker_validator is not None
    _worker_validator._random = []  # never share the parent's personal codes


def blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file after its header as (first line number, bytes) pieces that each end on a record
    boundary, so worker processes can parse them: the main process only reads."""
    with open(path, "rb") as fh:
        header = fh.readline()
        line = 2 + header.count(b"\n") - 1
        carry = b""
        while True:
            block = fh.read(BLOCK)
            data = carry + block
            if not block:
                if data:
                    yield line, data
                return
            cut = record_boundary(data)
            if cut <= 0:
                carry = data
                continue
            yield line, data[:cut]
            line += data.count(b"\n", 0, cut)
            carry = data[cut:]


def record_boundary(data: bytes) -> int:
    """Index just past the last newline that is not inside a quoted field (-1 if none)."""
    end = len(data)
    while True:
        i = data.rfind(b"\n", 0, end)
        if i < 0:
            return -1
        if data.count(b'"', 0, i) % 2 == 0:
            return i + 1
        end = i


def validate_block(piece: tuple[int, bytes], *, careful: bool = False) -> Outcome:
    """Parse and validate one block of the file (in a worker process): (what `_worker_encode`
    makes of the good rows, the bad lines with their errors, the number of good rows).

    careful=True takes the careful path at every step (the csv module, Validator.checked_row,
    COPY text with every value escaped): the definition the fast path is tested against."""
    first_line, data = piece
    validator, encode = _worker_validator, _worker_encode
    assert validator is not None
    width = len(validator.index)
    good: list[tuple] = []
    bad: list[tuple[int, list[RowError]]] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        reason = (
            f"is not UTF-8 text (byte {data[exc.start]:#04x}); "
            "nothing after it in this block was read"
        )
        return (encode([], "") if encode else []), [(line, [RowError(line, "row", reason)])], 0
    row = validator.checked_row if careful else validator.row
    records = parsed_records(text, first_line) if careful else numbered_records(text, first_line)
    # A block makes hundreds of thousands of short-lived objects and no reference cycles; the cyclic
    # collector would only walk them, and every object of the process, again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for line, rec in records:
            if rec.__class__ is Unreadable:
                bad.append((line, [RowError(line, "row", str(rec))]))
                continue
            if not rec or (len(rec) == 1 and not rec[0].strip()):
                continue  # blank line
            outcome = (
                row(rec, line)
                if len(rec) == width
                else [RowError(line, "row", f"has {len(rec)} fields; the header has {width}")]
            )
            if outcome.__class__ is list:
                bad.append((line, outcome))  # type: ignore[arg-type]
            else:
                good.append(outcome)  # type: ignore[arg-type]
    finally:
        if collecting:
            gc.enable()
    payload = encode(good, None if careful else text) if encode else good
    return payload, bad, len(good)


def numbered_records(text: str, first_line: int) -> Iterator[tuple[int, list[str]]]:
    """(line where it starts, fields) for each record of a block, as parsed_records reads them."""
    if '"' not in text and "\r" not in text:
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        # Without quotes or CRs a record is a line and its fields lie between commas, as the csv
        # module reads them (which costs more than the rest of the fast path's string work) —
        # unless a line is long enough for the csv module to reject a field.
        if max(map(len, lines), default=0) <= csv.field_size_limit():
            return zip(count(first_line), map(str.split, lines, repeat(",")))
    return parsed_records(text, first_line)


def parsed_records(text: str, first_line: int) -> Iterator[tuple[int, list[str]]]:
    """(line where it starts, fields) for each record of a block, read by the csv module."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = first_line
    while True:
        try:
            rec: list[str] = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            rec = Unreadable(exc)
        line, start = start, first_line + reader.line_num
        yield line, rec


def blocks_stream(
    program: Program,
    path: Path,
    header: list[str],
    result: ImportResult,
    progress: bool | None,
    *,
    write: Callable[[Any], object],
    step: str,
    encode: Encode | None,
) -> dict[int, list[RowError]]:
    """Validate the file in worker processes and hand each block's good rows to `write`, in file
    order, as `encode` makes them. Returns the rejected lines; counts and the first errors go in
    `result`."""
    global _worker_validator, _worker_encode

    _worker_validator, _worker_encode = Validator(program, header), encode
    bar = _progress(path, progress)
    rejected_lines: dict[int, list[RowError]] = {}
    workers = min(os.cpu_count() or 1, 4)
    use_pool = workers > 1 and path.stat().st_size > 2_000_000
    pool = (
        multiprocessing.get_context("fork").Pool(workers, initializer=_worker_init)
        if use_pool
        else None
    )
    try:
        outcomes = (
            pool.imap(validate_block, blocks(path)) if pool else map(validate_block, blocks(path))
        )
        for payload, bad, n_good in result.timed_iter(step, outcomes):
            result.rows += n_good + len(bad)
            for line, errs in bad:
                rejected_lines[line] = errs
                if len(result.errors) < MAX_REPORTED_ERRORS:
                    result.errors.extend(errs)
            write(payload)
            if bar is not None:
                bar.update(result.rows - bar.n)
    finally:
        if pool is not None:
            pool.terminate()
        _worker_validator, _worker_encode = None, None
    if bar is not None:
        bar.close()
    return rejected_lines


def _progress(path: Path, enabled: bool | None) -> Any:
    """A row counter on a terminal; silent in cron, CI and tests."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm  # only on a terminal: cron and the workers never pay for the import

    with open(path, "rb") as fh:
        lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    return tqdm(
        total=max(lines - 1, 0), unit="rows", unit_scale=True, desc="validating", file=sys.stderr
    )
