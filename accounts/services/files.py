"""The files the app writes and how a reader of their folder sees them, plus checksums.

Two ways to put a file in place, never half-written where a reader looks:

- **Atomic write** (`atomic_write`; `atomic_writer`, `atomic_text_writer` to write as you go;
  `atomic_copy`): the
  bytes go to a temporary name beside the target (`NAME.part` unless the caller names another),
  are flushed to disk, and one `os.replace` gives them the target's name. A reader sees the old
  file or the new one whole; an error removes the temporary file. A killed process leaves it.
- **Staged for commit** (`stage_for_commit`): for a file that a database transaction records
  (its control numbers, its checksum). It is written whole and flushed under a hidden staging
  name (`.NAME.part`) inside the transaction and renamed into place only once the transaction
  commits (`transaction.on_commit`); a rolled-back transaction publishes nothing. A process
  killed between the two leaves the staged file: `staged_leftovers` lists them, and the caller,
  which knows what its database recorded, `publish`es or `discard`s each.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO, cast

from django.db import transaction


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MB blocks so a million-row file is never held in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- atomic write ------------------------------------------------------------------------------


def temp_path(path: Path) -> Path:
    """The default temporary name of an atomic write: `NAME.part`, beside the target (a rename
    is atomic only within one file system)."""
    path = Path(path)
    return path.with_name(path.name + ".part")


@contextmanager
def _atomic_open(path: Path, mode: str, *, temp: Path | None, **kw: Any) -> Iterator[IO[Any]]:
    path = Path(path)
    tmp = Path(temp) if temp is not None else temp_path(path)
    try:
        with open(tmp, mode, **kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_writer(path: Path, *, temp: Path | None = None) -> Iterator[BinaryIO]:
    """A binary file handle to write `path` through: on leaving the block without an error the
    file is flushed to disk and renamed to `path`; on an error the temporary file is removed."""
    with _atomic_open(path, "wb", temp=temp) as fh:
        yield cast(BinaryIO, fh)


@contextmanager
def atomic_text_writer(
    path: Path, *, encoding: str = "utf-8", newline: str = "", temp: Path | None = None
) -> Iterator[TextIO]:
    """`atomic_writer` for text; `newline=""` as the csv module wants it."""
    with _atomic_open(path, "w", temp=temp, encoding=encoding, newline=newline) as fh:
        yield cast(TextIO, fh)


def atomic_write(path: Path, data: bytes, *, temp: Path | None = None) -> None:
    """`data` as `path`, written whole before it takes the name."""
    with atomic_writer(path, temp=temp) as fh:
        fh.write(data)


def atomic_copy(src: Path, dst: Path, *, temp: Path | None = None) -> None:
    """A copy of `src` as `dst`, complete before it takes the name."""
    with open(src, "rb") as source, atomic_writer(dst, temp=temp) as fh:
        shutil.copyfileobj(source, fh)


# --- staged for commit -------------------------------------------------------------------------


def staged_path(path: Path) -> Path:
    """Where `path` waits for its transaction: hidden, so a reader listing the folder for new
    files (the utility's translator, a mail house) never takes it."""
    path = Path(path)
    return path.with_name(f".{path.name}.part")


def stage(path: Path, data: bytes) -> None:
    """`data` under `path`'s staging name, flushed to disk: complete before the transaction that
    records it commits."""
    with open(staged_path(path), "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def publish(path: Path) -> None:
    """The staged file takes its name in one rename. Already published is no error: a finisher
    (`staged_leftovers`) may have renamed it between the commit and this call."""
    try:
        os.replace(staged_path(path), path)
    except FileNotFoundError:
        if not Path(path).exists():
            raise


def discard(path: Path) -> None:
    """Remove `path`'s staged file (its transaction rolled back)."""
    staged_path(path).unlink(missing_ok=True)


def stage_for_commit(path: Path, data: bytes) -> None:
    """Stage `data` for `path` now and publish it when the current transaction commits; if it
    rolls back, nothing is published. Files staged in one transaction are published in the order
    they were staged (a manifest before its file)."""
    if not transaction.get_connection().in_atomic_block:
        raise ValueError(f"{Path(path).name}: a file is staged inside the transaction recording it")
    stage(path, data)
    transaction.on_commit(lambda: publish(path))


def staged_leftovers(folder: Path, *, names: re.Pattern[str]) -> list[Path]:
    """The targets (final paths) of the files staged in `folder` and never published whose final
    names match `names`, sorted. The pattern keeps each caller to its own files: another's run
    may be between staging and commit."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    finals = (p.name[1 : -len(".part")] for p in folder.glob(".*.part"))
    return sorted(folder / name for name in finals if name and names.fullmatch(name))
