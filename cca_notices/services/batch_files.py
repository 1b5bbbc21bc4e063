"""A batch's letters PDFs as units of work, so its rendering spreads over the Celery workers and
a write killed half-way resumes where it stopped.

Each letters file of a batch (`letters_per_file()` pieces in print order) is a `MailBatchFile`
row. Whoever renders one claims it first with a conditional update that doubles as a lease
(`claimed_at`; taken again once `MAIL_BATCH_LEASE_SECONDS` have passed without it being done),
renders its pieces — found by their piece IDs, which follow the print order — into the batch's
staging folder `<out>/.<reference>.partial/` under a temporary name, renames it into place and
only then records it done with its pages, counts and checksum. The batch's writer
(batches.mail_batch_write_files) queues one task per file when there is a broker, renders the
files nobody has taken itself, waits for the others and assembles the data CSV and manifest.
Without a broker (CELERY_TASK_ALWAYS_EAGER) the writer renders every file in its own process.
The staging folder must be on storage every worker sees (MEDIA_ROOT).
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import socket
import time
from collections import Counter
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from accounts.services.files import atomic_text_writer, atomic_writer, file_sha256
from cca_notices.mailers import imb
from cca_notices.mailers.datafile import DataFileWriter, DataRow
from cca_notices.models import MailBatch, MailBatchFile
from cca_notices.services.batch_sources import batch_source_for

ROWS_DIR = ".rows"  # inside the staging folder; removed before the folder is published


def letters_per_file() -> int:
    return int(getattr(settings, "MAIL_BATCH_LETTERS_PER_FILE", 5000))


def lease() -> dt.timedelta:
    """Longer than one file takes to render (~5 s for 5,000 letters here)."""
    return dt.timedelta(seconds=int(getattr(settings, "MAIL_BATCH_LEASE_SECONDS", 900)))


def staging_dir(*, out_dir: Path, reference: str) -> Path:
    return Path(out_dir) / f".{reference}.partial"


def file_name(batch: MailBatch, index: int) -> str:
    return f"{batch.reference}-letters-{index:03d}.pdf"


def batch_files_plan(*, batch: MailBatch) -> None:
    """The batch's file rows (idempotent: rows already there are kept)."""
    per_file = letters_per_file()
    MailBatchFile.objects.bulk_create(
        [
            MailBatchFile(
                batch=batch,
                index=index,
                first_sequence=start + 1,
                letters=min(per_file, batch.piece_count - start),
            )
            for index, start in enumerate(range(0, batch.piece_count, per_file), start=1)
        ],
        ignore_conflicts=True,
    )


def _claimable(now: dt.datetime) -> Q:
    return Q(done_at=None) & (Q(claimed_at=None) | Q(claimed_at__lt=now - lease()))


def batch_file_claim(*, batch_id: int, index: int | None = None) -> MailBatchFile | None:
    """Claim one file not done and not leased (the given one, or the first such): the claim is
    a conditional update, so two processes never render one file at once."""
    while True:
        now = timezone.now()
        todo = MailBatchFile.objects.filter(batch_id=batch_id).filter(_claimable(now))
        if index is not None:
            todo = todo.filter(index=index)
        pk = todo.order_by("index").values_list("pk", flat=True).first()
        if pk is None:
            return None
        taken = (
            MailBatchFile.objects.filter(pk=pk)
            .filter(_claimable(now))
            .update(claimed_at=now, attempts=F("attempts") + 1)
        )
        if taken:
            return MailBatchFile.objects.select_related("batch__program").get(pk=pk)


def _piece_ids(batch: MailBatch, part: MailBatchFile) -> list[str]:
    capacity = imb.serial_capacity(batch.mailer_id)
    width = imb.imb_serial_width(batch.mailer_id)
    prefix = f"{batch.meta['barcode_id']}{batch.meta['service_type_id']}{batch.mailer_id}"
    first = (batch.first_serial or 0) + part.first_sequence - 1
    return [f"{prefix}{(first + i) % capacity:0{width}d}" for i in range(part.letters)]


def batch_file_render(*, part: MailBatchFile, out_dir: Path) -> None:
    """Render one claimed file and its data rows into the staging folder, then record it done.
    Killed half-way, it leaves only a temporary file and a lease that expires."""
    cpu_started = time.process_time()
    batch = part.batch
    source = batch_source_for(batch.kind)
    assert source is not None, batch.kind
    staging = staging_dir(out_dir=out_dir, reference=batch.reference)
    (staging / ROWS_DIR).mkdir(parents=True, exist_ok=True)
    ids = _piece_ids(batch, part)
    order = {piece_id: i for i, piece_id in enumerate(ids)}
    pieces = sorted(source.pieces(batch=batch, piece_ids=ids), key=lambda p: order[p.piece_id])
    if len(pieces) != part.letters:
        raise RuntimeError(
            f"batch {batch.reference} file {part.index}: {len(pieces)} stored pieces found for "
            f"{part.letters} sequences; the batch's pieces were changed since it was claimed"
        )
    name = file_name(batch, part.index)
    tag = f"{os.getpid()}-{part.attempts}"
    pdf_tmp, rows_tmp = staging / f".{name}.{tag}", staging / ROWS_DIR / f".{name}.{tag}"
    try:
        # The rows' file inside the PDF's: both renamed into place only once both are whole.
        with (
            atomic_writer(staging / name, temp=pdf_tmp) as pdf_fh,
            atomic_text_writer(staging / ROWS_DIR / name, temp=rows_tmp) as rows_fh,
        ):
            try:
                printed = source.render(batch=batch, pieces=pieces, out=pdf_fh)
            except RuntimeError as exc:
                raise RuntimeError(f"{name}: {exc}") from exc
            by_kind_lang: Counter = Counter()
            notices_by_lang: Counter = Counter()
            offset = 1
            data = DataFileWriter(
                rows_fh,
                mailer_id=batch.mailer_id,
                barcode=batch.meta.get("barcode_id"),
                service_type=batch.meta.get("service_type_id"),
            )
            for seq, (piece, p) in enumerate(
                zip(pieces, printed, strict=True), start=part.first_sequence
            ):
                by_kind_lang[f"{p.kind}|{p.language}"] += 1
                notices_by_lang[p.language] += len(p.account_numbers)
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
    except BaseException:
        # Released at once on an error (a kill leaves the lease to expire).
        MailBatchFile.objects.filter(pk=part.pk, claimed_at=part.claimed_at).update(claimed_at=None)
        raise
    MailBatchFile.objects.filter(pk=part.pk).update(
        done_at=timezone.now(),
        result={
            "name": name,
            "pages": offset - 1,
            "sha256": file_sha256(staging / name),
            "bytes": (staging / name).stat().st_size,
            "by_kind_language": dict(by_kind_lang),
            "notices_by_language": dict(notices_by_lang),
            "process": f"{socket.gethostname()}:{os.getpid()}",
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "cpu_s": round(time.process_time() - cpu_started, 3),
        },
    )


def batch_file_render_next(*, batch_id: int, out_dir: Path, index: int | None = None) -> bool:
    """Claim and render one file (the given one, or the first free); False when none was free."""
    part = batch_file_claim(batch_id=batch_id, index=index)
    if part is None:
        return False
    batch_file_render(part=part, out_dir=out_dir)
    return True


@shared_task(name="cca_notices.tasks.mail_batch_file", acks_late=True)
def batch_file_task(batch_id: int, index: int, out_dir: str) -> bool:
    """One file of a batch, for a worker helping the batch's writer. Idempotent: a file done
    or being rendered elsewhere is left alone."""
    return batch_file_render_next(batch_id=batch_id, out_dir=Path(out_dir), index=index)


def batch_files_queue(*, batch: MailBatch, out_dir: Path) -> int:
    """Queue a task per file not done, so idle workers take some; none without a broker (the
    writer renders them all itself) or for a single file."""
    if batch_file_task.app.conf.task_always_eager:
        return 0
    pending = list(
        MailBatchFile.objects.filter(batch=batch, done_at=None)
        .order_by("index")
        .values_list("index", flat=True)
    )
    if len(pending) < 2:
        return 0
    for index in pending[1:]:  # the writer starts on the first itself
        batch_file_task.delay(batch.pk, index, str(out_dir))
    return len(pending) - 1


def data_rows_path(*, out_dir: Path, batch: MailBatch, index: int) -> Path:
    return (
        staging_dir(out_dir=out_dir, reference=batch.reference) / ROWS_DIR / file_name(batch, index)
    )
