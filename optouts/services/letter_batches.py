"""Confirmation letters and six-month advance notices as mail pieces.

A letter `Confirmation` is rendered once when it is issued (optouts.services.confirmations) and
its PDF, address and checksum are stored. Here issued letters become pieces of a mail-house batch
with the same folder as a notice batch (docs/formats/mail-house.md): the batch's PDF files are the
stored PDFs concatenated, never rendered again; the data CSV carries each piece's IMb fields from
the mailer ID's shared serial counter; the manifest has counts and SHA-256 per file.

Called by cca_notices.services.batches (`mail_batch_build` for a LetterKind, the daily build and
`mail_batch_write_files`); the mail-house report comes back through
`confirmations_mark_mailed` / `confirmations_mark_returned`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from accounts.models import Program, ServiceAccount
from cca_notices.mailers import imb
from cca_notices.mailers.datafile import DataFileWriter, DataRow, barcode_id, service_type_id
from cca_notices.models import LetterKind, MailBatch
from optouts.models import Confirmation

C = Confirmation
# Which confirmations go in which kind of letter batch.
CONFIRMATION_KINDS = {
    LetterKind.CONFIRMATION: (C.Kind.OPTOUT, C.Kind.TERMINATION, C.Kind.REJOIN),
    LetterKind.REENTRY_ADVANCE_NOTICE: (C.Kind.REENTRY,),
}


def letters_waiting(*, program: Program, kind: str):
    """Issued letters of `kind` not yet in a batch (all of them: a letter goes out as soon as a
    batch can carry it; its due date only tells whether it went out in time)."""
    return C.objects.filter(
        program=program,
        method=C.Method.LETTER,
        status=C.Status.ISSUED,
        batch__isnull=True,
        kind__in=CONFIRMATION_KINDS[kind],
    )


def letter_kinds_waiting(*, program: Program) -> list[str]:
    return [
        kind for kind in LetterKind.values if letters_waiting(program=program, kind=kind).exists()
    ]


def letter_address(conf: Confirmation) -> tuple[str, str, str, str, str]:
    """(name, address, city, state, zip) as printed on the issued letter. The stored block is
    name / street / "city state zip"; an older or odd block falls back to the account's fields."""
    lines = [line.strip() for line in (conf.mailing_address or "").splitlines() if line.strip()]
    a = conf.account
    if len(lines) == 3:
        parts = lines[2].rsplit(" ", 2)
        if len(parts) == 3 and any(ch.isdigit() for ch in parts[2]):
            return lines[0], lines[1], parts[0].strip(), parts[1].strip(), parts[2].strip()
    return a.customer_name, a.mailing_address, a.mailing_city, a.mailing_state, a.mailing_zip


def _zip_digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def letter_batch_claim(
    *, program: Program, kind: str, mail_date: dt.date, actor_name: str, via: str, now
):
    """Put the program's waiting letters of `kind` in a new MailBatch with consecutive IMb serials
    in ZIP order. Each letter is claimed with a conditional update (issued, no batch → batched,
    this batch), so a letter is never in two batches even with two builders at once."""
    from cca_notices.services.batches import (
        BuildResult,
        batch_reference,
        imb_serials_allocate,
        mailer_id_check,
    )

    with transaction.atomic():
        Program.objects.select_for_update().filter(pk=program.pk).first()
        waiting = list(
            letters_waiting(program=program, kind=kind).order_by().values_list("pk", "due_date")
        )
        result = BuildResult(batch=None, due=len(waiting))
        if not waiting:
            return result
        mailer_id = mailer_id_check(program.mailer_id)
        due_dates = Counter(day.isoformat() for _, day in waiting)
        batch = MailBatch.objects.create(
            program=program,
            kind=kind,
            mail_date=mail_date,
            reference=batch_reference(program=program, kind=kind, mail_date=mail_date),
            created_by=actor_name[:150],
            built_via=via,
            mailer_id=mailer_id,
            meta={
                "excluded": {},
                "due_dates": dict(sorted(due_dates.items())),
                "barcode_id": barcode_id(),
                "service_type_id": service_type_id(),
            },
        )
        MailBatch.objects.filter(pk=batch.pk).update(created_at=now.replace(microsecond=0))
        batch.refresh_from_db()
        C.objects.filter(
            pk__in=[pk for pk, _ in waiting], status=C.Status.ISSUED, batch__isnull=True
        ).update(batch=batch, status=C.Status.BATCHED, batched_at=now)
        claimed = list(C.objects.filter(batch=batch).select_related("account"))
        if not claimed:  # another builder took them all between our read and our update
            batch.delete()
            return result

        def order(conf):
            name, address, _, _, zip_code = letter_address(conf)
            digits = _zip_digits(zip_code)
            number = conf.account.account_number
            return digits[:5], digits, address.upper(), name.upper(), (len(number), number), conf.pk

        claimed.sort(key=order)
        first = imb_serials_allocate(mailer_id=mailer_id, count=len(claimed))
        capacity = imb.serial_capacity(mailer_id)
        prefix = f"{batch.meta['barcode_id']}{batch.meta['service_type_id']}{mailer_id}"
        width = 15 - len(mailer_id)
        for i, conf in enumerate(claimed):
            conf.piece_id = f"{prefix}{(first + i) % capacity:0{width}d}"
        C.objects.bulk_update(claimed, ["piece_id"], batch_size=500)
        late = sum(1 for c in claimed if c.due_date < mail_date)
        batch.first_serial = first % capacity
        batch.piece_count = batch.notice_count = len(claimed)
        batch.merged_count = batch.excluded_count = 0
        batch.meta = {**batch.meta, "late_letters": late}
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


def letter_pieces_write(
    *,
    batch: MailBatch,
    tmp: Path,
    data: DataFileWriter,
    progress: Callable[[int, int], None] | None,
):
    """The batch's PDF files — the stored letters, in serial order, concatenated — and one data
    row per letter. A stored PDF whose checksum no longer matches stops the write."""
    from pypdf import PdfReader, PdfWriter

    from cca_notices.services.batches import _Piece, _Written, letters_per_file

    width = 15 - len(batch.mailer_id)
    capacity = imb.serial_capacity(batch.mailer_id)
    confs = list(C.objects.filter(batch=batch).select_related("account").defer("letter_pdf"))
    confs.sort(key=lambda c: (int(c.piece_id[-width:]) - batch.first_serial) % capacity)
    pieces = [
        _Piece(c.piece_id, int(c.piece_id[-width:]), c.account_id, [c.account.account_number])
        for c in confs
    ]
    out = _Written(pieces=pieces)
    per_file = letters_per_file()
    ref = batch.reference
    for index, start in enumerate(range(0, len(confs), per_file), start=1):
        chunk = confs[start : start + per_file]
        pdfs = dict(C.objects.filter(pk__in=[c.pk for c in chunk]).values_list("pk", "letter_pdf"))
        name = f"{ref}-letters-{index:03d}.pdf"
        writer = PdfWriter()
        offset = 1
        for seq, conf in enumerate(chunk, start=start + 1):
            pdf = bytes(pdfs.get(conf.pk) or b"")
            if not pdf or hashlib.sha256(pdf).hexdigest() != conf.letter_sha256:
                raise RuntimeError(
                    f"confirmation {conf.pk}: the stored letter PDF is missing or does not match its "
                    "SHA-256; not printed"
                )
            reader = PdfReader(io.BytesIO(pdf))
            pages = len(reader.pages)
            writer.append(reader)
            name_, address, city, state, zip_code = letter_address(conf)
            lang = conf.language or "en"
            out.by_kind_lang[(conf.kind, lang)] += 1
            out.notices_by_lang[lang] += 1
            data.write(
                DataRow(
                    seq,
                    int(conf.piece_id[-width:]),
                    zip_code,
                    name_,
                    address,
                    city,
                    state,
                    lang,
                    conf.kind,
                    (conf.account.account_number,),
                    pages,
                    name,
                    offset,
                )
            )
            offset += pages
        with open(tmp / name, "wb") as fh:
            writer.write(fh)
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
            progress(len(chunk), len(confs))
    out.extra_counts = {"letters": len(confs), "late_letters": batch.meta.get("late_letters", 0)}
    return out


# --- the mail house's report --------------------------------------------------------------------


def confirmations_by_piece(piece_ids) -> dict[str, tuple[int, str, int, dt.date]]:
    """Piece ID → (confirmation id, status, batch id, batch mail date); the latest batch wins
    when a serial was reused after the mailer ID's range wrapped round."""
    found: dict[str, tuple] = {}
    ids = list(piece_ids)
    for start in range(0, len(ids), 5000):
        rows = (
            C.objects.filter(piece_id__in=ids[start : start + 5000], batch__isnull=False)
            .order_by("batch_id")
            .values_list("piece_id", "pk", "status", "batch_id", "batch__mail_date")
        )
        for piece, pk, status, batch_id, mail_date in rows:
            found[piece] = (pk, status, batch_id, mail_date)
    return found


def confirmations_mark_mailed(*, confirmation_ids, mailed_on: dt.date) -> int:
    return C.objects.filter(pk__in=list(confirmation_ids), status=C.Status.BATCHED).update(
        status=C.Status.MAILED, mailed_on=mailed_on
    )


def confirmations_mark_returned(
    *, confirmation_ids, return_date: dt.date, reason: str, at=None
) -> int:
    """Undeliverable: recorded on the letter, and the account is flagged for address repair."""
    if not reason.strip():
        raise ValueError("a returned letter needs a reason (e.g. 'insufficient address')")
    at = at or timezone.now()
    ids = list(confirmation_ids)
    # Returned only from mailed: a batched letter the house returns is first recorded as mailed.
    batched = C.objects.filter(pk__in=ids, status=C.Status.BATCHED)
    for mail_date in set(batched.values_list("batch__mail_date", flat=True)):
        C.objects.filter(pk__in=ids, status=C.Status.BATCHED, batch__mail_date=mail_date).update(
            status=C.Status.MAILED, mailed_on=mail_date
        )
    changed = C.objects.filter(pk__in=ids, status=C.Status.MAILED).update(
        status=C.Status.RETURNED, returned_on=return_date, return_reason=reason.strip()[:200]
    )
    ServiceAccount.objects.filter(pk__in=C.objects.filter(pk__in=ids).values("account_id")).update(
        address_needs_repair=True, updated_at=at
    )
    return changed
