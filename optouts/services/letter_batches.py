"""Confirmation letters and six-month advance notices as mail pieces.

A letter `Confirmation` is rendered once when it is issued (optouts.services.confirmations) and
its PDF, address and checksum are stored. `LetterSource` makes issued letters pieces of a
mail-house batch built by the notices' one builder (cca_notices.services.batches, which it is
registered with in optouts.apps): the batch's PDF files are the stored PDFs concatenated, never
rendered again; the data CSV carries each piece's IMb fields from the mailer ID's shared serial
counter; the mail house's report comes back through `report_apply`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections import Counter
from collections.abc import Collection
from typing import BinaryIO

from django.utils import timezone
from pypdf import PdfReader, PdfWriter

from accounts.models import Program, ServiceAccount
from accounts.services.status import Actor
from cca_notices.mailers import imb
from cca_notices.models import LetterKind, MailBatch
from cca_notices.services.batch_sources import (
    Piece,
    Printed,
    ReportChanges,
    ReportItem,
    Selection,
    Taken,
    batch_source_register,
)
from optouts.models import Confirmation

C = Confirmation
# Which confirmations go in which kind of letter batch.
CONFIRMATION_KINDS: dict[str, tuple[str, ...]] = {
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


def _order(conf: Confirmation):
    name, address, _, _, zip_code = letter_address(conf)
    digits = _zip_digits(zip_code)
    number = conf.account.account_number
    return digits[:5], digits, address.upper(), name.upper(), (len(number), number), conf.pk


class LetterSource:
    """Issued confirmation letters and six-month advance notices, one piece each, printed from
    the PDF stored when the letter was issued."""

    unit = "letters"
    batches_key = "letter_batches"
    kinds: Collection[str] = frozenset(CONFIRMATION_KINDS)

    def kinds_waiting(self, *, program: Program, mail_date: dt.date) -> list[str]:
        return letter_kinds_waiting(program=program)

    def select(
        self, *, program: Program, kind: str, mail_date: dt.date, actor_name: str, now
    ) -> Selection:
        waiting = list(
            letters_waiting(program=program, kind=kind).order_by().values_list("pk", "due_date")
        )
        due_dates = Counter(day.isoformat() for _, day in waiting)
        return Selection(
            item_ids=[pk for pk, _ in waiting],
            due=len(waiting),
            due_dates=dict(sorted(due_dates.items())),
        )

    def take(self, *, batch: MailBatch, item_ids: list[int], now) -> Taken:
        C.objects.filter(pk__in=item_ids, status=C.Status.ISSUED, batch__isnull=True).update(
            batch=batch, status=C.Status.BATCHED, batched_at=now
        )
        claimed = sorted(C.objects.filter(batch=batch).select_related("account"), key=_order)
        late = sum(1 for c in claimed if c.due_date < batch.mail_date)
        return Taken(groups=[[c.pk] for c in claimed], meta={"late_letters": late})

    def pieces_store(self, *, batch: MailBatch, pieces: list[tuple[str, list[int]]]) -> None:
        C.objects.bulk_update(
            [C(pk=pk, piece_id=piece) for piece, (pk,) in pieces], ["piece_id"], batch_size=500
        )

    def pieces(self, *, batch: MailBatch, piece_ids: Collection[str] | None = None) -> list[Piece]:
        width = imb.imb_serial_width(batch.mailer_id)
        confs = C.objects.filter(batch=batch).select_related("account").defer("letter_pdf")
        if piece_ids is not None:
            confs = confs.filter(piece_id__in=list(piece_ids))
        return [
            Piece(c.piece_id, int(c.piece_id[-width:]), c.account_id, [c.account.account_number], c)
            for c in confs
        ]

    def render(self, *, batch: MailBatch, pieces: list[Piece], out: BinaryIO) -> list[Printed]:
        """The stored PDFs concatenated. A stored PDF whose checksum no longer matches stops
        the write."""
        pdfs = dict(
            C.objects.filter(pk__in=[p.record.pk for p in pieces]).values_list("pk", "letter_pdf")
        )
        writer = PdfWriter()
        printed = []
        for piece in pieces:
            conf = piece.record
            pdf = bytes(pdfs.get(conf.pk) or b"")
            if not pdf or hashlib.sha256(pdf).hexdigest() != conf.letter_sha256:
                raise RuntimeError(
                    f"confirmation {conf.pk}: the stored letter PDF is missing or does not match "
                    "its SHA-256; not printed"
                )
            reader = PdfReader(io.BytesIO(pdf))
            writer.append(reader)
            name, address, city, state, zip_code = letter_address(conf)
            printed.append(
                Printed(
                    zip_code,
                    name,
                    address,
                    city,
                    state,
                    conf.language or "en",
                    conf.kind,
                    (conf.account.account_number,),
                    len(reader.pages),
                )
            )
        writer.write(out)
        return printed

    def manifest_counts(self, *, batch: MailBatch) -> dict[str, int]:
        return {"letters": batch.piece_count, "late_letters": batch.meta.get("late_letters", 0)}

    def report_find(self, *, piece_ids: Collection[str]) -> dict[str, list[ReportItem]]:
        return {
            piece: [ReportItem(*row)] for piece, row in confirmations_by_piece(piece_ids).items()
        }

    def report_apply(self, *, changes: ReportChanges, actor: Actor, at) -> dict[str, int]:
        counts: Counter = Counter()
        for day, ids in sorted(changes.mailed.items()):
            counts["mailed"] += confirmations_mark_mailed(confirmation_ids=ids, mailed_on=day)
        for day, ids in sorted(changes.inferred.items()):
            counts["mailed_inferred"] += confirmations_mark_mailed(
                confirmation_ids=ids, mailed_on=day
            )
        for (day, reason), ids in sorted(changes.returned.items()):
            counts["returned"] += confirmations_mark_returned(
                confirmation_ids=ids, return_date=day, reason=reason, at=at
            )
        return dict(counts)


def letter_source_register() -> None:
    """Called from optouts' AppConfig.ready(): the builder iterates its registered sources."""
    batch_source_register(LetterSource())


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
    """Undeliverable: recorded on a mailed letter, and the account is flagged for address repair
    (the report first records a batched letter the house returns as mailed)."""
    if not reason.strip():
        raise ValueError("a returned letter needs a reason (e.g. 'insufficient address')")
    at = at or timezone.now()
    ids = list(confirmation_ids)
    changed = C.objects.filter(pk__in=ids, status=C.Status.MAILED).update(
        status=C.Status.RETURNED, returned_on=return_date, return_reason=reason.strip()[:200]
    )
    ServiceAccount.objects.filter(pk__in=C.objects.filter(pk__in=ids).values("account_id")).update(
        address_needs_repair=True, updated_at=at
    )
    return changed
