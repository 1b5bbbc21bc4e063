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
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import Program
from accounts.services.calendar import add_business_days, program_calendar
from accounts.services.calendar import today as business_today
from accounts.services.files import file_sha256
from accounts.validators import mailer_id_validate
from cca_notices.mailers import imb
from cca_notices.mailers.context import KINDS as LETTER_KINDS
from cca_notices.mailers.datafile import DataFileWriter, barcode_id, service_type_id
from cca_notices.models import LetterKind, MailBatch, MailBatchFile, NoticeKind
from cca_notices.services import batch_files
from cca_notices.services.batch_sources import (
    Piece,
    PieceSource,
    batch_source_for,
    batch_sources,
)
from cca_notices.services.dashboard_tally import NOTICES, dashboard_tallies_refresh_after_commit
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


letters_per_file = batch_files.letters_per_file


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
    *,
    program: Program,
    kind: str,
    mail_date: dt.date,
    actor_name: str,
    via: str,
    now,
    out_dir: Path | None = None,
) -> BuildResult:
    """Claim `program`'s waiting pieces of `kind` into a new MailBatch (step 1 above); the batch
    is None when nothing was left to take. The new batch holds its write lease (taken by the
    caller's write, or by the daily run's resume once it expires) and remembers `out_dir`."""
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
            write_claimed_at=now,
            meta={
                **({"out_dir": str(Path(out_dir).resolve())} if out_dir else {}),
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
        if kind in NoticeKind.values:  # the dashboard's figures: notices batched, some cancelled
            dashboard_tallies_refresh_after_commit(program_ids=[program.pk], names=[NOTICES])
        return result


# --- files ----------------------------------------------------------------------------------------


class BatchBusyError(MailBatchError):
    """Another process holds the batch's write lease: nothing was written."""


def batch_pieces(batch: MailBatch) -> list[Piece]:
    """The batch's pieces in print order (the order of their serials from the first)."""
    capacity = imb.serial_capacity(batch.mailer_id)
    pieces = _source(batch.kind).pieces(batch=batch)
    first = batch.first_serial or 0
    return sorted(pieces, key=lambda p: (p.serial - first) % capacity)


def _write_lease_take(batch: MailBatch) -> dt.datetime:
    now = timezone.now()
    taken = (
        MailBatch.objects.filter(pk=batch.pk)
        .filter(Q(write_claimed_at=None) | Q(write_claimed_at__lt=now - batch_files.lease()))
        .update(write_claimed_at=now)
    )
    if not taken:
        raise BatchBusyError(
            f"mail batch {batch.reference} is being written by another process (its lease "
            f"expires {batch_files.lease().total_seconds():.0f} s after its last progress); "
            "nothing was written"
        )
    return now


def _staged_parts(*, batch: MailBatch, staging: Path, again: bool) -> None:
    """Files already rendered into the staging folder are kept when a killed write resumes; a
    write of a batch already written, or a file whose PDF is gone, starts afresh."""
    parts = MailBatchFile.objects.filter(batch=batch)
    if again:
        parts.update(done_at=None, claimed_at=None)
        shutil.rmtree(staging, ignore_errors=True)
        return
    for part in parts.exclude(done_at=None):
        name = part.result.get("name", "")
        pdf, rows = staging / name, staging / batch_files.ROWS_DIR / name
        if not (name and pdf.is_file() and rows.is_file()) or pdf.stat().st_size != part.result.get(
            "bytes"
        ):
            MailBatchFile.objects.filter(pk=part.pk).update(done_at=None, claimed_at=None)


def _render_all(
    *, batch: MailBatch, out_dir: Path, progress: Callable[[int, int], None] | None
) -> None:
    """Render the files nobody has taken and wait for those others are rendering; a file whose
    renderer died is taken again when its lease expires."""
    try:
        batch_files.batch_files_queue(batch=batch, out_dir=out_dir)
    except Exception:  # a broker outage: this process renders every file
        logger.warning("mail batch %s: file tasks not queued", batch.reference, exc_info=True)
    parts = MailBatchFile.objects.filter(batch=batch)
    reported = 0
    while True:
        rendered = batch_files.batch_file_render_next(batch_id=batch.pk, out_dir=out_dir)
        MailBatch.objects.filter(pk=batch.pk).update(write_claimed_at=timezone.now())
        done = parts.exclude(done_at=None).aggregate(n=Sum("letters"))["n"] or 0
        if progress and done > reported:
            progress(done - reported, batch.piece_count)
            reported = done
        if rendered:
            continue
        if not parts.filter(done_at=None).exists():
            return
        time.sleep(0.2)  # the remaining files are being rendered by workers


def _data_file_write(*, batch: MailBatch, staging: Path, parts: list[MailBatchFile]) -> str:
    """The data CSV: its header and each file's rows, in file order."""
    name = f"{batch.reference}-data.csv"
    with open(staging / name, "w", encoding="utf-8", newline="") as fh:
        DataFileWriter(
            fh,
            mailer_id=batch.mailer_id,
            barcode=batch.meta.get("barcode_id"),
            service_type=batch.meta.get("service_type_id"),
        )
    with open(staging / name, "ab") as out:
        for part in parts:
            with open(staging / batch_files.ROWS_DIR / part.result["name"], "rb") as rows:
                rows.readline()  # each file's rows were written under their own header
                shutil.copyfileobj(rows, out)
    return name


def mail_batch_write_files(
    *,
    batch: MailBatch,
    out_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    lease_held: bool = False,
) -> Path:
    """Write (or write again) the batch's folder `<out_dir>/<reference>/`; returns its path.
    The source renders what it stored (a letter issued as a PDF is never rendered again). The
    letters files are rendered by this process and any Celery workers (batch_files) into a
    staging folder that replaces the batch's folder only once complete: a folder is never
    half-written, and a write killed half-way resumes from the files already rendered."""
    out_dir = _prepare_out(out_dir)
    if not lease_held:
        _write_lease_take(batch)
    ref = batch.reference
    staging = batch_files.staging_dir(out_dir=out_dir, reference=ref)
    try:
        _staged_parts(batch=batch, staging=staging, again=batch.files_written_at is not None)
        batch_files.batch_files_plan(batch=batch)
        staging.mkdir(exist_ok=True)
        _render_all(batch=batch, out_dir=out_dir, progress=progress)
        parts = list(MailBatchFile.objects.filter(batch=batch).order_by("index"))
        files = [
            {
                "name": p.result["name"],
                "type": "letters",
                "letters": p.letters,
                "pages": p.result["pages"],
                "first_sequence": p.first_sequence,
                "last_sequence": p.first_sequence + p.letters - 1,
                "sha256": p.result["sha256"],
                "bytes": p.result["bytes"],
            }
            for p in parts
        ]
        data_name = _data_file_write(batch=batch, staging=staging, parts=parts)
        files.append(
            {
                "name": data_name,
                "type": "data",
                "rows": batch.piece_count,
                "sha256": file_sha256(staging / data_name),
                "bytes": (staging / data_name).stat().st_size,
            }
        )
        manifest = _manifest(batch, parts, files)
        manifest["counts"].update(_source(batch.kind).manifest_counts(batch=batch))
        manifest_name = f"{ref}-manifest.json"
        (staging / manifest_name).write_text(
            json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        shutil.rmtree(staging / batch_files.ROWS_DIR)
        final = out_dir / ref
        old = None
        if final.exists():
            old = out_dir / f".{ref}.old-{os.getpid()}-{threading.get_ident()}"
            final.rename(old)
        staging.rename(final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        if isinstance(exc, Exception):
            # An error, not a kill: nothing of this attempt is kept, and the lease is freed.
            MailBatchFile.objects.filter(batch=batch).update(done_at=None, claimed_at=None)
            shutil.rmtree(staging, ignore_errors=True)
            MailBatch.objects.filter(pk=batch.pk).update(write_claimed_at=None)
        raise
    manifest_file = {
        "name": manifest_name,
        "type": "manifest",
        "sha256": file_sha256(final / manifest_name),
        "bytes": (final / manifest_name).stat().st_size,
    }
    processes: dict[str, dict] = {}
    for p in parts:
        proc = processes.setdefault(p.result["process"], {"process": p.result["process"]})
        proc["files"] = proc.get("files", 0) + 1
        proc["peak_mb"] = max(proc.get("peak_mb", 0), p.result["peak_mb"])
        proc["cpu_s"] = round(proc.get("cpu_s", 0) + p.result.get("cpu_s", 0), 3)
    batch.meta = {
        **batch.meta,
        "files": [*files, manifest_file],
        "counts": manifest["counts"],
        "render": {"processes": sorted(processes.values(), key=lambda p: p["process"])},
    }
    batch.folder = str(final.resolve())
    batch.page_count = manifest["counts"]["pages"]
    batch.files_written_at = timezone.now()
    batch.write_claimed_at = None
    batch.save(
        update_fields=["meta", "folder", "page_count", "files_written_at", "write_claimed_at"]
    )
    return final


def _manifest(batch: MailBatch, parts: list[MailBatchFile], files: list[dict]) -> dict:
    width = imb.imb_serial_width(batch.mailer_id)
    capacity = imb.serial_capacity(batch.mailer_id)
    by_kind_lang: Counter = Counter()
    notices_by_lang: Counter = Counter()
    for p in parts:
        by_kind_lang.update(p.result["by_kind_language"])
        notices_by_lang.update(p.result["notices_by_language"])
    kinds: dict[str, dict[str, int]] = defaultdict(dict)
    for key, n in sorted(by_kind_lang.items()):
        kind, lang = key.split("|")
        kinds[kind][lang] = n
    excluded = batch.meta.get("excluded", {})
    first = batch.first_serial or 0
    count = batch.piece_count
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
            "first_serial": f"{first % capacity:0{width}d}" if count else None,
            "last_serial": f"{(first + count - 1) % capacity:0{width}d}" if count else None,
        },
        "counts": {
            "pieces": count,
            "notices": batch.notice_count,
            "pages": sum(p.result["pages"] for p in parts),
            "pieces_by_kind_language": dict(kinds),
            "notices_by_language": dict(sorted(notices_by_lang.items())),
            "merged_notices": batch.merged_count,
            "merged_reason": MERGE_REASON,
            "excluded_notices": sum(excluded.values()),
            "excluded_by_reason": excluded,
            "due_dates": batch.meta.get("due_dates", {}),
        },
        "files": [{k: f[k] for k in sorted(f)} for f in files],
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
        out_dir=out_dir,
    )
    if result.batch is not None:
        result.folder = mail_batch_write_files(
            batch=result.batch, out_dir=out_dir, progress=progress, lease_held=True
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


def mail_batches_resume(*, program: Program, out_root: Path) -> int:
    """Finish the writes a killed process left: batches claimed whose files were never written,
    once their write lease has expired (their pieces stay theirs; nothing is claimed again)."""
    stale = timezone.now() - batch_files.lease()
    resumed = 0
    for batch in MailBatch.objects.select_related("program").filter(
        Q(write_claimed_at=None) | Q(write_claimed_at__lt=stale),
        program=program,
        files_written_at=None,
        piece_count__gt=0,
    ):
        out_dir = Path(batch.meta.get("out_dir") or out_root / program.slug)
        try:
            mail_batch_write_files(batch=batch, out_dir=out_dir)
        except BatchBusyError:
            continue
        logger.warning("mail batch %s: write resumed after an interrupted build", batch.reference)
        resumed += 1
    return resumed


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
        resumed = mail_batches_resume(program=program, out_root=out_root)
        if resumed:
            totals["resumed"] += resumed
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
