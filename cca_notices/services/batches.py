"""Mail batches: the due notices of one program and kind become a folder the mail house prints
from — letters (PDF), a data CSV with the Intelligent Mail barcode fields, and a manifest with
counts and checksums (docs/formats/mail-house.md).

Two steps, so that the files can always be written again from what the database holds:

1. **claim** (one transaction): the program's row is locked so two builders of one program take
   turns; due notices (stored due date on or before the mail date, still `scheduled`, in no batch)
   of accounts that left or buy from a direct-access supplier are cancelled with a reason; the
   rest are put in a new `MailBatch` through the lifecycle's conditional update (a notice another
   builder already took is skipped, never taken twice); pieces are formed (one letter per name
   and mailing address), sorted by ZIP, and given consecutive IMb serials from the mailer ID's
   counter; each notice stores its piece ID (and `merged_into` for a merged one).
2. **write** (`mail_batch_write_files`): reads the batch back — the piece order is the serial
   order — renders the letters and writes the files into a temporary folder that replaces
   `<out>/<reference>/` at the end. Writing the same batch again gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Program, ServiceAccount
from accounts.services.calendar import add_business_days, program_calendar
from accounts.services.calendar import today as business_today
from accounts.services.files import file_sha256
from cca_notices.mailers import imb
from cca_notices.mailers.context import KINDS as LETTER_KINDS
from cca_notices.mailers.context import LetterRequest, letter_language
from cca_notices.mailers.datafile import DataFileWriter, DataRow, barcode_id, service_type_id
from cca_notices.mailers.stamp import LetterRenderer
from cca_notices.models import (
    ImbSerialCounter,
    LetterKind,
    MailBatch,
    Notice,
    NoticeChange,
    NoticeKind,
)
from cca_notices.services.lifecycle import notice_mark_batched
from cca_notices.services.scheduling import NO_NOTICE_STATUSES

NS = Notice.Status
KIND_CODES = {
    "pre_enrollment_1": "PRE1",
    "pre_enrollment_2": "PRE2",
    "post_enrollment_1": "POST1",
    "post_enrollment_2": "POST2",
    "post_enrollment_3": "POST3",
    "new_customer_1": "NEW1",
    "new_customer_2": "NEW2",
    # Letters issued by the opt-out app (optouts.services.letter_batches).
    "confirmation": "CONF",
    "reentry_advance_notice": "REENTRY",
}
MANIFEST_FORMAT = "cca-notices mail batch v1"
MERGE_REASON = "same customer name and mailing address as another account in the batch: one letter"
EXCLUDE_REASONS = {"direct_access": "direct-access account: served by another supplier, not mailed"}
UPDATE_CHUNK = 50_000


def letters_per_file() -> int:
    return int(getattr(settings, "MAIL_BATCH_LETTERS_PER_FILE", 5000))


def max_past_days() -> int:
    """A batch may be dated this many days back (a build run late in the day); not more."""
    return int(getattr(settings, "MAIL_BATCH_MAX_PAST_DAYS", 2))


def max_ahead_days() -> int:
    return int(getattr(settings, "MAIL_BATCH_MAX_AHEAD_DAYS", 45))


class MailBatchError(ValueError):
    """Bad input to a build: nothing was written."""


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


# --- checks ------------------------------------------------------------------------------------------


def mailer_id_check(mailer_id: str) -> str:
    """A USPS mailer ID: 6 or 9 digits (the serial takes the other 9 or 6 of the 15)."""
    mid = (mailer_id or "").strip()
    if not (mid.isdigit() and len(mid) in (6, 9)):
        raise MailBatchError(
            f"program mailer_id {mailer_id!r} is not a USPS mailer ID (6 or 9 digits); set it in the program file "
            "or the admin"
        )
    return mid


def mail_batch_check(
    *, program: Program, kind: str, mail_date: dt.date, today: dt.date | None = None
) -> None:
    """Raise MailBatchError naming the bad argument; nothing is read or written beyond it."""
    today = today or business_today()
    if kind not in NoticeKind.values and kind not in LetterKind.values:
        raise MailBatchError(
            f"unknown notice kind {kind!r}; expected a notice kind ({', '.join(NoticeKind.values)}) "
            f"or a letter kind ({', '.join(LetterKind.values)})"
        )
    if kind not in LETTER_KINDS and kind not in LetterKind.values:
        raise MailBatchError(
            f"there is no letter template for {kind!r} (templates exist for {', '.join(LETTER_KINDS)})"
        )
    if mail_date < today - dt.timedelta(days=max_past_days()):
        raise MailBatchError(
            f"mail date {mail_date} is more than {max_past_days()} days in the past (today is {today}); "
            "letters would carry a stale date"
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


# --- claim -------------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return " ".join((text or "").upper().split())


def _account_order(number: str):
    return (len(number), number)


def batch_reference(*, program: Program, kind: str, mail_date: dt.date) -> str:
    prefix = f"{program.slug[:30].upper()}-{KIND_CODES[kind]}-{mail_date:%Y%m%d}-"
    taken = MailBatch.objects.filter(reference__startswith=prefix).count()
    return f"{prefix}{taken + 1:02d}"


def imb_serials_allocate(*, mailer_id: str, count: int) -> int:
    """Reserve `count` consecutive counter values for `mailer_id`; returns the first. The row
    stays locked by the update until the caller's transaction ends, so concurrent builders get
    disjoint ranges."""
    ImbSerialCounter.objects.get_or_create(mailer_id=mailer_id)
    ImbSerialCounter.objects.filter(mailer_id=mailer_id).update(
        next_value=F("next_value") + count, updated_at=timezone.now()
    )
    return ImbSerialCounter.objects.get(mailer_id=mailer_id).next_value - count


def notices_cancel_excluded(
    *, notice_reasons: dict[int, tuple[dt.date, str]], actor_name: str, now
) -> int:
    """Cancel due notices that must not be mailed, each with a NoticeChange saying why."""
    if not notice_reasons:
        return 0
    NoticeChange.objects.bulk_create(
        [
            NoticeChange(
                notice_id=pk,
                at=now,
                actor_name=actor_name,
                old_mail_date=day,
                old_status=NS.SCHEDULED,
                new_status=NS.CANCELLED,
                reason=f"left out of the mail batch: {reason}",
            )
            for pk, (day, reason) in notice_reasons.items()
        ],
        batch_size=2000,
    )
    ids = list(notice_reasons)
    done = 0
    for start in range(0, len(ids), UPDATE_CHUNK):
        done += Notice.objects.filter(
            pk__in=ids[start : start + UPDATE_CHUNK], status=NS.SCHEDULED, batch__isnull=True
        ).update(status=NS.CANCELLED, updated_at=now)
    return done


def _store_pieces(rows: list[tuple[int, str, int | None]]) -> None:
    """Set piece_id and merged_into on many notices (PostgreSQL: one statement per 50,000)."""
    if connection.vendor == "postgresql":
        table = Notice._meta.db_table
        with connection.cursor() as cur:
            for start in range(0, len(rows), UPDATE_CHUNK):
                chunk = rows[start : start + UPDATE_CHUNK]
                cur.execute(
                    f"UPDATE {table} AS n SET piece_id = v.piece, merged_into_id = v.merged "
                    "FROM unnest(%s::bigint[], %s::text[], %s::bigint[]) AS v(id, piece, merged) WHERE n.id = v.id",
                    [[r[0] for r in chunk], [r[1] for r in chunk], [r[2] for r in chunk]],
                )
        return
    Notice.objects.bulk_update(
        [Notice(pk=pk, piece_id=piece, merged_into_id=merged) for pk, piece, merged in rows],
        ["piece_id", "merged_into"],
        batch_size=500,
    )


def _claim(
    *, program: Program, kind: str, mail_date: dt.date, actor_name: str, via: str, now
) -> BuildResult:
    with transaction.atomic():
        # Builders of one program take turns; the conditional update below still guards each notice.
        Program.objects.select_for_update().filter(pk=program.pk).first()
        due = list(
            Notice.objects.filter(
                program=program,
                kind=kind,
                status=NS.SCHEDULED,
                batch__isnull=True,
                mail_date__lte=mail_date,
            )
            .order_by()
            .values_list("pk", "mail_date", "account__status", "account__direct_access")
        )
        result = BuildResult(batch=None, due=len(due))
        if not due:
            return result
        excluded: dict[int, tuple[dt.date, str]] = {}
        keep: list[int] = []
        due_dates: Counter = Counter()
        for pk, day, status, direct in due:
            if status in NO_NOTICE_STATUSES:
                excluded[pk] = (day, f"account is {status}")
                result.excluded[status] = result.excluded.get(status, 0) + 1
            elif direct:
                excluded[pk] = (day, EXCLUDE_REASONS["direct_access"])
                result.excluded["direct_access"] = result.excluded.get("direct_access", 0) + 1
            else:
                keep.append(pk)
                due_dates[day.isoformat()] += 1
        notices_cancel_excluded(notice_reasons=excluded, actor_name=actor_name, now=now)
        if not keep:
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
                "due_dates": dict(sorted(due_dates.items())),
                "barcode_id": barcode_id(),
                "service_type_id": service_type_id(),
            },
        )
        # created_at is printed in the manifest: keep it to the second so it reads the same everywhere.
        MailBatch.objects.filter(pk=batch.pk).update(created_at=now.replace(microsecond=0))
        batch.refresh_from_db()
        notice_mark_batched(batch=batch, notice_ids=keep, at=now)
        claimed = list(
            Notice.objects.filter(batch=batch)
            .order_by()
            .values_list(
                "pk",
                "account__account_number",
                "account__customer_name",
                "account__mailing_address",
                "account__mailing_city",
                "account__mailing_state",
                "account__mailing_zip",
            )
        )
        if not claimed:  # another builder took them all between our read and our update
            batch.delete()
            return result
        groups: dict[tuple, list[tuple]] = defaultdict(list)
        for pk, number, name, address, city, state, zip_code in claimed:
            zip_digits = "".join(ch for ch in zip_code if ch.isdigit())
            groups[(_norm(name), _norm(address), _norm(city), _norm(state), zip_digits[:5])].append(
                (number, pk, zip_digits)
            )
        pieces = []
        for key, members in groups.items():
            members.sort(key=lambda m: _account_order(m[0]))
            primary = members[0]
            # Print order: ZIP, then ZIP+4, then the address, the name and the account number.
            pieces.append(
                ((key[4], primary[2], key[1], key[0], _account_order(primary[0])), members)
            )
        pieces.sort(key=lambda p: p[0])
        first = imb_serials_allocate(mailer_id=mailer_id, count=len(pieces))
        capacity = imb.serial_capacity(mailer_id)
        prefix = f"{batch.meta['barcode_id']}{batch.meta['service_type_id']}{mailer_id}"
        width = 15 - len(mailer_id)
        rows = []
        merged = 0
        for i, (_, members) in enumerate(pieces):
            piece = f"{prefix}{(first + i) % capacity:0{width}d}"
            primary_pk = members[0][1]
            rows.append((primary_pk, piece, None))
            for _, pk, _ in members[1:]:
                rows.append((pk, piece, primary_pk))
                merged += 1
        _store_pieces(rows)
        batch.first_serial = first % capacity
        batch.piece_count = len(pieces)
        batch.notice_count = len(claimed)
        batch.merged_count = merged
        batch.excluded_count = sum(result.excluded.values())
        batch.save(
            update_fields=[
                "first_serial",
                "piece_count",
                "notice_count",
                "merged_count",
                "excluded_count",
            ]
        )
        result.batch = batch
        return result


# --- files -------------------------------------------------------------------------------------------


@dataclass
class _Piece:
    piece_id: str
    serial: int
    account_id: int
    account_numbers: list[str]


def batch_pieces(batch: MailBatch) -> list[_Piece]:
    """The batch's pieces in print order (the order of their serials from the first)."""
    width = 15 - len(batch.mailer_id)
    capacity = imb.serial_capacity(batch.mailer_id)
    by_piece: dict[str, _Piece] = {}
    merged: dict[str, list[str]] = defaultdict(list)
    rows = (
        Notice.objects.filter(batch=batch)
        .order_by()
        .values_list("piece_id", "merged_into_id", "account_id", "account__account_number")
    )
    for piece_id, merged_into, account_id, number in rows.iterator(chunk_size=20_000):
        if merged_into is None:
            by_piece[piece_id] = _Piece(piece_id, int(piece_id[-width:]), account_id, [number])
        else:
            merged[piece_id].append(number)
    for piece_id, numbers in merged.items():
        by_piece[piece_id].account_numbers.extend(sorted(numbers, key=_account_order))
    return sorted(by_piece.values(), key=lambda p: (p.serial - batch.first_serial) % capacity)


def _notice_pieces_write(
    *,
    batch: MailBatch,
    tmp: Path,
    data: DataFileWriter,
    progress: Callable[[int, int], None] | None,
) -> _Written:
    """The notice letters: rendered from the accounts (stamped renderer), one PDF per chunk."""
    ref = batch.reference
    pieces = batch_pieces(batch)
    out = _Written(pieces=pieces)
    renderer = LetterRenderer()
    per_file = letters_per_file()
    for index, start in enumerate(range(0, len(pieces), per_file), start=1):
        chunk = pieces[start : start + per_file]
        accounts = ServiceAccount.objects.select_related(
            "program__utility", "phase", "product"
        ).in_bulk([p.account_id for p in chunk])
        requests = [
            LetterRequest(accounts[p.account_id], batch.kind, batch.mail_date, p.piece_id)
            for p in chunk
        ]
        name = f"{ref}-letters-{index:03d}.pdf"
        offset = 1
        rows = []
        for seq, (p, req) in enumerate(zip(chunk, requests), start=start + 1):
            a = req.account
            pages = len(renderer.variant(req).page_heights)
            lang = letter_language(a)
            out.by_kind_lang[(batch.kind, lang)] += 1
            out.notices_by_lang[lang] += len(p.account_numbers)
            rows.append(
                DataRow(
                    seq,
                    p.serial,
                    a.mailing_zip,
                    a.customer_name,
                    a.mailing_address,
                    a.mailing_city,
                    a.mailing_state,
                    lang,
                    batch.kind,
                    tuple(p.account_numbers),
                    pages,
                    name,
                    offset,
                )
            )
            offset += pages
        with open(tmp / name, "wb") as pdf_fh:
            pages_in_file = renderer.write(requests, pdf_fh)
        if pages_in_file != offset - 1:
            raise RuntimeError(f"{name}: {pages_in_file} pages written, {offset - 1} expected")
        for row in rows:
            data.write(row)
        out.pages += pages_in_file
        out.files.append(
            {
                "name": name,
                "type": "letters",
                "letters": len(chunk),
                "pages": pages_in_file,
                "first_sequence": start + 1,
                "last_sequence": start + len(chunk),
            }
        )
        if progress:
            progress(len(chunk), len(pieces))
    return out


@dataclass
class _Written:
    """What a piece writer put in the folder: the pieces in print order, the PDF files, counts."""

    pieces: list
    files: list[dict] = field(default_factory=list)
    by_kind_lang: Counter = field(default_factory=Counter)
    notices_by_lang: Counter = field(default_factory=Counter)
    pages: int = 0
    extra_counts: dict = field(default_factory=dict)


def mail_batch_write_files(
    *, batch: MailBatch, out_dir: Path, progress: Callable[[int, int], None] | None = None
) -> Path:
    """Write (or write again) the batch's folder `<out_dir>/<reference>/`; returns its path.
    Notice batches render their letters; letter batches (LetterKind) concatenate the PDFs stored
    when each letter was issued (optouts.services.letter_batches) — an issued letter is never
    rendered again."""
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
            if batch.is_letter_batch:
                from optouts.services.letter_batches import letter_pieces_write

                written = letter_pieces_write(batch=batch, tmp=tmp, data=data, progress=progress)
            else:
                written = _notice_pieces_write(batch=batch, tmp=tmp, data=data, progress=progress)
        files = written.files
        pieces = written.pieces
        files.append({"name": data_name, "type": "data", "rows": len(pieces)})
        for f in files:
            path = tmp / f["name"]
            f["sha256"] = file_sha256(path)
            f["bytes"] = path.stat().st_size
        manifest = _manifest(
            batch, pieces, files, written.by_kind_lang, written.notices_by_lang, written.pages
        )
        manifest["counts"].update(written.extra_counts)
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
    batch.meta = {**batch.meta, "files": files + [manifest_file], "counts": manifest["counts"]}
    batch.folder = str(final.resolve())
    batch.page_count = written.pages
    batch.files_written_at = timezone.now()
    batch.save(update_fields=["meta", "folder", "page_count", "files_written_at"])
    return final


def _manifest(
    batch: MailBatch,
    pieces: list[_Piece],
    files: list[dict],
    by_kind_lang: Counter,
    notices_by_lang: Counter,
    pages: int,
) -> dict:
    width = 15 - len(batch.mailer_id)
    kinds: dict[str, dict[str, int]] = defaultdict(dict)
    for (kind, lang), n in sorted(by_kind_lang.items()):
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
            "pages": pages,
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


# --- entry points ------------------------------------------------------------------------------------


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
    """Build a batch of `program`'s `kind` notices due on or before `mail_date` and write its files.
    Returns the result with `batch=None` when nothing was due (excluded notices still counted)."""
    mail_batch_check(program=program, kind=kind, mail_date=mail_date, today=today)
    out_dir = _prepare_out(out_dir)
    if kind in LetterKind.values:
        from optouts.services.letter_batches import letter_batch_claim

        result = letter_batch_claim(
            program=program,
            kind=kind,
            mail_date=mail_date,
            actor_name=actor_name,
            via=via,
            now=timezone.now(),
        )
    else:
        result = _claim(
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
    """The daily build: for each program, every kind with notices due by the mail date
    `Program.mail_lead_business_days` business days ahead (overdue ones included), and every
    letter kind with issued letters not yet in a batch (confirmations, six-month advance notices)."""
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
        kinds = set(
            Notice.objects.filter(
                program=program, status=NS.SCHEDULED, batch__isnull=True, mail_date__lte=mail_date
            )
            .order_by()
            .values_list("kind", flat=True)
            .distinct()
        )
        for kind in sorted(kinds):
            if kind not in LETTER_KINDS:
                totals["kinds_without_template"] += 1
                continue
            result = mail_batch_build(
                program=program,
                kind=kind,
                mail_date=mail_date,
                out_dir=out_root / program.slug,
                actor_name=actor_name,
                via=MailBatch.Via.BEAT,
                today=today,
            )
            totals["excluded"] += sum(result.excluded.values())
            if result.batch is not None:
                totals["batches"] += 1
                totals["pieces"] += result.batch.piece_count
                totals["notices"] += result.batch.notice_count
        from optouts.services.letter_batches import letter_kinds_waiting

        for kind in letter_kinds_waiting(program=program):
            result = mail_batch_build(
                program=program,
                kind=kind,
                mail_date=mail_date,
                out_dir=out_root / program.slug,
                actor_name=actor_name,
                via=MailBatch.Via.BEAT,
                today=today,
            )
            if result.batch is not None:
                totals["letter_batches"] += 1
                totals["pieces"] += result.batch.piece_count
                totals["letters"] += result.batch.piece_count
    return dict(totals)
