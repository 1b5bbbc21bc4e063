"""Mail batches: the waiting pieces of one program and kind become a folder the mail house prints
from — letters (PDF), a data CSV with the Intelligent Mail barcode fields, and a manifest with
counts and checksums (docs/formats/mail-house.md).

One builder for every kind of piece: the notices (cca_notices.services.notice_pieces) and the
letters other apps register (cca_notices.services.batch_sources). Two steps, so that the files
can always be written again from what the database holds:

1. **claim** (one transaction): the program's row is locked so two builders of one program take
   turns; the kind's source selects what is due (recording what it leaves out), a new `MailBatch`
   is created and the source takes its items into it with a conditional update (an item another
   builder already took is skipped, never taken twice); the pieces it forms, in print order, get
   consecutive IMb serials from the mailer ID's counter, and each item stores its piece ID.
2. **write** (`mail_batch_write_files`): reads the batch's pieces back — the print order is the
   serial order — has the source render them and writes the files into a temporary folder that
   replaces `<out>/<reference>/` at the end. Writing the same batch again gives identical bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Program
from accounts.services.calendar import add_business_days, program_calendar
from accounts.services.calendar import today as business_today
from accounts.services.files import file_sha256
from accounts.validators import mailer_id_validate
from cca_notices.mailers import imb
from cca_notices.mailers.context import KINDS as LETTER_KINDS
from cca_notices.mailers.datafile import DataFileWriter, DataRow, barcode_id, service_type_id
from cca_notices.models import LetterKind, MailBatch, NoticeKind
from cca_notices.services.batch_sources import (
    Piece,
    PieceSource,
    batch_source_for,
    batch_sources,
)
from cca_notices.services.imb_serials import ImbSerialsExhausted, imb_serials_allocate

KIND_CODES = {
    "pre_enrollment_1": "PRE1",
    "pre_enrollment_2": "PRE2",
    "post_enrollment_1": "POST1",
    "post_enrollment_2": "POST2",
    "post_enrollment_3": "POST3",
    "new_customer_1": "NEW1",
    "new_customer_2": "NEW2",
    # Letters of the opt-out app (LetterKind), registered as a source of pieces.
    "confirmation": "CONF",
    "reentry_advance_notice": "REENTRY",
}
logger = logging.getLogger(__name__)
MANIFEST_FORMAT = "cca-notices mail batch v1"
MERGE_REASON = "same customer name and mailing address as another account in the batch: one letter"


def letters_per_file() -> int:
    return int(getattr(settings, "MAIL_BATCH_LETTERS_PER_FILE", 5000))


def max_past_days() -> int:
    """A batch may be dated this many days back (a build run late in the day); not more."""
    return int(getattr(settings, "MAIL_BATCH_MAX_PAST_DAYS", 2))


def max_ahead_days() -> int:
    return int(getattr(settings, "MAIL_BATCH_MAX_AHEAD_DAYS", 45))


class MailBatchError(ValueError):
    """Bad input to a build: nothing was written."""


class SerialsExhaustedError(MailBatchError):
    """The Mailer ID has too few IMb serials free for the batch: nothing was written."""


@dataclass
class BuildResult:
    batch: MailBatch | None
    folder: Path | None = None
    due: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    rebuilt: bool = False

    @property
    def summary(self) -> dict[str, int]:
        b = self.batch
        return {
            "due": self.due,
            "excluded": sum(self.excluded.values()),
            "notices": b.notice_count if b else 0,
            "pieces": b.piece_count if b else 0,
            "merged": b.merged_count if b else 0,
            "pages": b.page_count if b else 0,
            "pdf_files": sum(1 for f in b.meta.get("files", []) if f["type"] == "letters")
            if b
            else 0,
        }


# --- checks ---------------------------------------------------------------------------------------


def mailer_id_check(mailer_id: str) -> str:
    """A USPS mailer ID (accounts.validators.mailer_id_validate): 6 or 9 digits, the serial
    takes the other 9 or 6 of the 15."""
    mid = (mailer_id or "").strip()
    try:
        if not mid:
            raise ValidationError("it is not set")
        mailer_id_validate(mid)
    except ValidationError as exc:
        raise MailBatchError(
            f"program mailer_id {mailer_id!r}: {exc.messages[0]}; "
            "set it in the program file or the admin"
        ) from exc
    return mid


def _has_template(kind: str) -> bool:
    return kind in LETTER_KINDS or kind in LetterKind.values


def _source(kind: str) -> PieceSource:
    source = batch_source_for(kind)
    if source is None:
        raise MailBatchError(
            f"unknown notice kind {kind!r}; expected a notice kind "
            f"({', '.join(NoticeKind.values)}) or a letter kind ({', '.join(LetterKind.values)})"
        )
    return source


def mail_batch_check(
    *, program: Program, kind: str, mail_date: dt.date, today: dt.date | None = None
) -> None:
    """Raise MailBatchError naming the bad argument; nothing is read or written beyond it."""
    today = today or business_today()
    _source(kind)
    if not _has_template(kind):
        raise MailBatchError(
            f"there is no letter template for {kind!r} "
            f"(templates exist for {', '.join(LETTER_KINDS)})"
        )
    if mail_date < today - dt.timedelta(days=max_past_days()):
        raise MailBatchError(
            f"mail date {mail_date} is more than {max_past_days()} days in the past "
            f"(today is {today}); letters would carry a stale date"
        )
    if mail_date > today + dt.timedelta(days=max_ahead_days()):
        raise MailBatchError(
            f"mail date {mail_date} is more than {max_ahead_days()} days ahead (today is {today})"
        )
    mailer_id_check(program.mailer_id)


def _prepare_out(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MailBatchError(f"cannot create output folder {out_dir}: {exc.strerror}") from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise MailBatchError(f"output folder {out_dir} is not writable")
    return out_dir


# --- claim ----------------------------------------------------------------------------------------


def batch_reference(*, program: Program, kind: str, mail_date: dt.date) -> str:
    prefix = f"{program.slug[:30].upper()}-{KIND_CODES[kind]}-{mail_date:%Y%m%d}-"
    taken = MailBatch.objects.filter(reference__startswith=prefix).count()
    return f"{prefix}{taken + 1:02d}"


def mail_batch_claim(
    *, program: Program, kind: str, mail_date: dt.date, actor_name: str, via: str, now
) -> BuildResult:
    """Claim `program`'s waiting pieces of `kind` into a new MailBatch (step 1 above); the batch
    is None when nothing was left to take."""
    source = _source(kind)
    with transaction.atomic():
        # Builders of one program take turns; the source's conditional update still guards
        # each item.
        Program.objects.select_for_update().filter(pk=program.pk).first()
        selection = source.select(
            program=program, kind=kind, mail_date=mail_date, actor_name=actor_name, now=now
        )
        result = BuildResult(batch=None, due=selection.due, excluded=dict(selection.excluded))
        if not selection.item_ids:
            return result
        mailer_id = mailer_id_check(program.mailer_id)
        batch = MailBatch.objects.create(
            program=program,
            kind=kind,
            mail_date=mail_date,
            reference=batch_reference(program=program, kind=kind, mail_date=mail_date),
            created_by=actor_name[:150],
            built_via=via,
            mailer_id=mailer_id,
            meta={
                "excluded": dict(sorted(result.excluded.items())),
                "due_dates": selection.due_dates,
                "barcode_id": barcode_id(),
                "service_type_id": service_type_id(),
            },
        )
        # created_at is printed in the manifest: to the second, so it reads the same everywhere.
        MailBatch.objects.filter(pk=batch.pk).update(created_at=now.replace(microsecond=0))
        batch.refresh_from_db()
        taken = source.take(batch=batch, item_ids=selection.item_ids, now=now)
        if not taken.groups:  # another builder took them all between our read and our update
            batch.delete()
            return result
        try:
            first = imb_serials_allocate(
                mailer_id=mailer_id, count=len(taken.groups), mail_date=mail_date
            )
        except ImbSerialsExhausted as exc:
            # Raised inside the transaction: the batch row and the taken items roll back.
            raise SerialsExhaustedError(str(exc)) from exc
        capacity = imb.serial_capacity(mailer_id)
        prefix = f"{batch.meta['barcode_id']}{batch.meta['service_type_id']}{mailer_id}"
        width = imb.imb_serial_width(mailer_id)
        source.pieces_store(
            batch=batch,
            pieces=[
                (f"{prefix}{(first + i) % capacity:0{width}d}", group)
                for i, group in enumerate(taken.groups)
            ],
        )
        items = sum(len(group) for group in taken.groups)
        batch.first_serial = first
        batch.piece_count = len(taken.groups)
        batch.notice_count = items
        batch.merged_count = items - len(taken.groups)
        batch.excluded_count = sum(result.excluded.values())
        batch.meta = {**batch.meta, **taken.meta}
        batch.save(
            update_fields=[
                "first_serial",
                "piece_count",
                "notice_count",
                "merged_count",
                "excluded_count",
                "meta",
            ]
        )
        result.batch = batch
        return result


# --- files ----------------------------------------------------------------------------------------


def batch_pieces(batch: MailBatch) -> list[Piece]:
    """The batch's pieces in print order (the order of their serials from the first)."""
    capacity = imb.serial_capacity(batch.mailer_id)
    pieces = _source(batch.kind).pieces(batch=batch)
    first = batch.first_serial or 0
    return sorted(pieces, key=lambda p: (p.serial - first) % capacity)


@dataclass
class _Written:
    """What the builder put in the folder: the pieces in print order, the PDF files, counts."""

    pieces: list[Piece]
    files: list[dict] = field(default_factory=list)
    by_kind_lang: Counter = field(default_factory=Counter)
    notices_by_lang: Counter = field(default_factory=Counter)
    pages: int = 0


def _pieces_write(
    *,
    batch: MailBatch,
    tmp: Path,
    data: DataFileWriter,
    progress: Callable[[int, int], None] | None,
) -> _Written:
    """The letters, one PDF per `letters_per_file()` pieces, and one data row per piece."""
    source = _source(batch.kind)
    pieces = batch_pieces(batch)
    out = _Written(pieces=pieces)
    per_file = letters_per_file()
    for index, start in enumerate(range(0, len(pieces), per_file), start=1):
        chunk = pieces[start : start + per_file]
        name = f"{batch.reference}-letters-{index:03d}.pdf"
        with open(tmp / name, "wb") as pdf_fh:
            try:
                printed = source.render(batch=batch, pieces=chunk, out=pdf_fh)
            except RuntimeError as exc:
                raise RuntimeError(f"{name}: {exc}") from exc
        offset = 1
        for seq, (piece, p) in enumerate(zip(chunk, printed, strict=True), start=start + 1):
            out.by_kind_lang[(p.kind, p.language)] += 1
            out.notices_by_lang[p.language] += len(p.account_numbers)
            data.write(
                DataRow(
                    seq,
                    piece.serial,
                    p.zip,
                    p.name,
                    p.address,
                    p.city,
                    p.state,
                    p.language,
                    p.kind,
                    p.account_numbers,
                    p.pages,
                    name,
                    offset,
                )
            )
            offset += p.pages
        out.pages += offset - 1
        out.files.append(
            {
                "name": name,
                "type": "letters",
                "letters": len(chunk),
                "pages": offset - 1,
                "first_sequence": start + 1,
                "last_sequence": start + len(chunk),
            }
        )
        if progress:
            progress(len(chunk), len(pieces))
    return out


def mail_batch_write_files(
    *, batch: MailBatch, out_dir: Path, progress: Callable[[int, int], None] | None = None
) -> Path:
    """Write (or write again) the batch's folder `<out_dir>/<reference>/`; returns its path.
    The source renders what it stored (a letter issued as a PDF is never rendered again)."""
    out_dir = _prepare_out(out_dir)
    ref = batch.reference
    tmp = out_dir / f".{ref}.partial-{os.getpid()}-{threading.get_ident()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    data_name = f"{ref}-data.csv"
    try:
        with open(tmp / data_name, "w", encoding="utf-8", newline="") as data_fh:
            data = DataFileWriter(
                data_fh,
                mailer_id=batch.mailer_id,
                barcode=batch.meta.get("barcode_id"),
                service_type=batch.meta.get("service_type_id"),
            )
            written = _pieces_write(batch=batch, tmp=tmp, data=data, progress=progress)
        files = written.files
        pieces = written.pieces
        files.append({"name": data_name, "type": "data", "rows": len(pieces)})
        for f in files:
            path = tmp / f["name"]
            f["sha256"] = file_sha256(path)
            f["bytes"] = path.stat().st_size
        manifest = _manifest(batch, written)
        manifest["counts"].update(_source(batch.kind).manifest_counts(batch=batch))
        manifest_name = f"{ref}-manifest.json"
        (tmp / manifest_name).write_text(
            json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        final = out_dir / ref
        old = None
        if final.exists():
            old = out_dir / f".{ref}.old-{os.getpid()}-{threading.get_ident()}"
            final.rename(old)
        tmp.rename(final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest_file = {
        "name": manifest_name,
        "type": "manifest",
        "sha256": file_sha256(final / manifest_name),
        "bytes": (final / manifest_name).stat().st_size,
    }
    batch.meta = {**batch.meta, "files": [*files, manifest_file], "counts": manifest["counts"]}
    batch.folder = str(final.resolve())
    batch.page_count = written.pages
    batch.files_written_at = timezone.now()
    batch.save(update_fields=["meta", "folder", "page_count", "files_written_at"])
    return final


def _manifest(batch: MailBatch, written: _Written) -> dict:
    pieces = written.pieces
    width = imb.imb_serial_width(batch.mailer_id)
    kinds: dict[str, dict[str, int]] = defaultdict(dict)
    for (kind, lang), n in sorted(written.by_kind_lang.items()):
        kinds[kind][lang] = n
    excluded = batch.meta.get("excluded", {})
    return {
        "format": MANIFEST_FORMAT,
        "reference": batch.reference,
        "program": batch.program.slug,
        "program_name": batch.program.name,
        "kind": batch.kind,
        "mail_date": batch.mail_date.isoformat(),
        "created_at": timezone.localtime(batch.created_at).isoformat(),
        "created_by": batch.created_by,
        "built_via": batch.built_via,
        "imb": {
            "barcode_id": batch.meta.get("barcode_id"),
            "service_type_id": batch.meta.get("service_type_id"),
            "mailer_id": batch.mailer_id,
            "first_serial": f"{pieces[0].serial:0{width}d}" if pieces else None,
            "last_serial": f"{pieces[-1].serial:0{width}d}" if pieces else None,
        },
        "counts": {
            "pieces": len(pieces),
            "notices": batch.notice_count,
            "pages": written.pages,
            "pieces_by_kind_language": dict(kinds),
            "notices_by_language": dict(sorted(written.notices_by_lang.items())),
            "merged_notices": batch.merged_count,
            "merged_reason": MERGE_REASON,
            "excluded_notices": sum(excluded.values()),
            "excluded_by_reason": excluded,
            "due_dates": batch.meta.get("due_dates", {}),
        },
        "files": [{k: f[k] for k in sorted(f)} for f in written.files],
    }


# --- entry points ---------------------------------------------------------------------------------


def mail_batch_build(
    *,
    program: Program,
    kind: str,
    mail_date: dt.date,
    out_dir: Path,
    actor_name: str,
    via: str = MailBatch.Via.COMMAND,
    today: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BuildResult:
    """Build a batch of `program`'s `kind` pieces waiting for `mail_date` and write its files.
    Returns the result with `batch=None` when nothing was due (excluded notices still counted)."""
    mail_batch_check(program=program, kind=kind, mail_date=mail_date, today=today)
    out_dir = _prepare_out(out_dir)
    result = mail_batch_claim(
        program=program,
        kind=kind,
        mail_date=mail_date,
        actor_name=actor_name,
        via=via,
        now=timezone.now(),
    )
    if result.batch is not None:
        result.folder = mail_batch_write_files(
            batch=result.batch, out_dir=out_dir, progress=progress
        )
    return result


def mail_batch_rebuild(
    *, reference: str, out_dir: Path, progress: Callable[[int, int], None] | None = None
) -> BuildResult:
    """Write an existing batch's files again from the stored pieces (same data: same bytes)."""
    batch = MailBatch.objects.select_related("program").filter(reference=reference).first()
    if batch is None:
        raise MailBatchError(f"no mail batch with reference {reference!r}")
    folder = mail_batch_write_files(batch=batch, out_dir=out_dir, progress=progress)
    return BuildResult(batch=batch, folder=folder, rebuilt=True)


def batches_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "batches"


def mail_batches_build_due(
    *,
    today: dt.date | None = None,
    program_ids=None,
    actor_name: str = "beat",
    out_root: Path | None = None,
) -> dict[str, int]:
    """The daily build: for each program and each registered source, every kind with pieces
    waiting for the mail date `Program.mail_lead_business_days` business days ahead (overdue
    notices, issued letters not yet in a batch)."""
    today = today or business_today()
    out_root = Path(out_root or batches_root())
    totals: Counter = Counter()
    programs = (
        Program.objects.all() if program_ids is None else Program.objects.filter(pk__in=program_ids)
    )
    for program in programs:
        try:
            mailer_id_check(program.mailer_id)
        except MailBatchError:
            totals["programs_without_mailer_id"] += 1
            continue
        mail_days = program_calendar(program=program, kind="mail")
        mail_date = add_business_days(today, program.mail_lead_business_days, calendar=mail_days)
        for source in batch_sources():
            for kind in source.kinds_waiting(program=program, mail_date=mail_date):
                if not _has_template(kind):
                    totals["kinds_without_template"] += 1
                    continue
                try:
                    result = mail_batch_build(
                        program=program,
                        kind=kind,
                        mail_date=mail_date,
                        out_dir=out_root / program.slug,
                        actor_name=actor_name,
                        via=MailBatch.Via.BEAT,
                        today=today,
                    )
                except SerialsExhaustedError as exc:
                    # The other programs and kinds still go out; this one waits for serials.
                    logger.error("mail batch %s %s not built: %s", program.slug, kind, exc)
                    totals["serials_exhausted"] += 1
                    continue
                totals["excluded"] += sum(result.excluded.values())
                if result.batch is not None:
                    totals[source.batches_key] += 1
                    totals["pieces"] += result.batch.piece_count
                    totals[source.unit] += result.batch.notice_count
    return dict(totals)
