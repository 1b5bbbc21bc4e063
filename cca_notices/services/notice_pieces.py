"""Notices as mail pieces: the batch builder's source for the opt-out notice kinds.

Due notices (stored due date on or before the mail date, still `scheduled`, in no batch) of
accounts that left or buy from a direct-access supplier are cancelled with a reason; the rest go
in the batch through the lifecycle's conditional update. Notices of one name and mailing address
share a piece (one letter; the others store `merged_into`). Letters are rendered from the
accounts with the stamped renderer, so a batch written again gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Collection
from typing import BinaryIO

from django.db import connection

from accounts.models import Phase, Product, Program, ServiceAccount
from accounts.services.status import Actor
from cca_notices.mailers import imb
from cca_notices.mailers.context import LetterRequest, letter_language
from cca_notices.mailers.stamp import LetterRenderer
from cca_notices.models import Notice, NoticeChange, NoticeKind
from cca_notices.services.batch_sources import (
    Piece,
    Printed,
    ReportChanges,
    ReportItem,
    Selection,
    Taken,
)
from cca_notices.services.lifecycle import (
    notice_mark_batched,
    notice_mark_mailed,
    notice_mark_returned,
)
from cca_notices.services.scheduling import NO_NOTICE_STATUSES

NS = Notice.Status
EXCLUDE_REASONS = {"direct_access": "direct-access account: served by another supplier, not mailed"}
UPDATE_CHUNK = 50_000
SQLITE_UPDATE_CHUNK = 5_000  # 15,000 parameters: under SQLite's 32,766


def _norm(text: str) -> str:
    return " ".join((text or "").upper().split())


def account_order(number: str) -> tuple[int, str]:
    return (len(number), number)


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
                    "FROM unnest(%s::bigint[], %s::text[], %s::bigint[]) AS v(id, piece, merged) "
                    "WHERE n.id = v.id",
                    [[r[0] for r in chunk], [r[1] for r in chunk], [r[2] for r in chunk]],
                )
        return
    if sqlite3.sqlite_version_info < (3, 33):  # no UPDATE … FROM before 3.33
        Notice.objects.bulk_update(
            [Notice(pk=pk, piece_id=piece, merged_into_id=merged) for pk, piece, merged in rows],
            ["piece_id", "merged_into"],
            batch_size=500,
        )
        return
    # SQLite: UPDATE … FROM a VALUES list, 3 parameters a row; bulk_update's CASE WHEN per row
    # made this quadratic in the batch size.
    table = Notice._meta.db_table
    with connection.cursor() as cur:
        for start in range(0, len(rows), SQLITE_UPDATE_CHUNK):
            chunk = rows[start : start + SQLITE_UPDATE_CHUNK]
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            cur.execute(
                f"WITH v(id, piece, merged) AS (VALUES {values}) "
                f"UPDATE {table} SET piece_id = v.piece, merged_into_id = v.merged "
                f"FROM v WHERE {table}.id = v.id",
                [x for row in chunk for x in row],
            )


_RENDERER: dict[int, tuple[LetterRenderer, dict]] = {}


def _renderer(batch) -> tuple[LetterRenderer, dict]:
    """One renderer per batch and process: each variant is rendered once for all the batch's
    files (about a second each), not once per file. Only the latest batch's is kept."""
    if batch.pk not in _RENDERER:
        _RENDERER.clear()
        program = Program.objects.select_related("utility").get(pk=batch.program_id)
        shared = {
            "program": program,
            "phases": {p.pk: p for p in Phase.objects.filter(program=program)},
            "products": {p.pk: p for p in Product.objects.filter(program=program)},
        }
        _RENDERER[batch.pk] = (LetterRenderer(), shared)
    return _RENDERER[batch.pk]


class NoticeSource:
    unit = "notices"
    batches_key = "batches"
    kinds: Collection[str] = frozenset(NoticeKind.values)

    def kinds_waiting(self, *, program: Program, mail_date: dt.date) -> list[str]:
        return sorted(
            Notice.objects.filter(
                program=program, status=NS.SCHEDULED, batch__isnull=True, mail_date__lte=mail_date
            )
            .order_by()
            .values_list("kind", flat=True)
            .distinct()
        )

    def select(
        self, *, program: Program, kind: str, mail_date: dt.date, actor_name: str, now
    ) -> Selection:
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
        selection = Selection(item_ids=[], due=len(due))
        excluded: dict[int, tuple[dt.date, str]] = {}
        due_dates: Counter = Counter()
        for pk, day, status, direct in due:
            if status in NO_NOTICE_STATUSES:
                excluded[pk] = (day, f"account is {status}")
                selection.excluded[status] = selection.excluded.get(status, 0) + 1
            elif direct:
                excluded[pk] = (day, EXCLUDE_REASONS["direct_access"])
                selection.excluded["direct_access"] = selection.excluded.get("direct_access", 0) + 1
            else:
                selection.item_ids.append(pk)
                due_dates[day.isoformat()] += 1
        selection.due_dates = dict(sorted(due_dates.items()))
        notices_cancel_excluded(notice_reasons=excluded, actor_name=actor_name, now=now)
        return selection

    def take(self, *, batch, item_ids: list[int], now) -> Taken:
        notice_mark_batched(batch=batch, notice_ids=item_ids, at=now)
        claimed = (
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
        groups: dict[tuple, list[tuple]] = defaultdict(list)
        for pk, number, name, address, city, state, zip_code in claimed:
            zip_digits = "".join(ch for ch in zip_code if ch.isdigit())
            key = (_norm(name), _norm(address), _norm(city), _norm(state), zip_digits[:5])
            groups[key].append((number, pk, zip_digits))
        pieces = []
        for key, members in groups.items():
            members.sort(key=lambda m: account_order(m[0]))
            primary = members[0]
            # Print order: ZIP, then ZIP+4, then the address, the name and the account number.
            order = (key[4], primary[2], key[1], key[0], account_order(primary[0]))
            pieces.append((order, [pk for _, pk, _ in members]))
        pieces.sort(key=lambda p: p[0])
        return Taken(groups=[members for _, members in pieces])

    def pieces_store(self, *, batch, pieces: list[tuple[str, list[int]]]) -> None:
        rows: list[tuple[int, str, int | None]] = []
        for piece, (primary, *merged) in pieces:
            rows.append((primary, piece, None))
            rows.extend((pk, piece, primary) for pk in merged)
        _store_pieces(rows)

    def pieces(self, *, batch, piece_ids: Collection[str] | None = None) -> list[Piece]:
        width = imb.imb_serial_width(batch.mailer_id)
        by_piece: dict[str, Piece] = {}
        merged: dict[str, list[str]] = defaultdict(list)
        notices = Notice.objects.filter(batch=batch)
        if piece_ids is not None:
            notices = notices.filter(piece_id__in=list(piece_ids))
        rows = notices.order_by().values_list(
            "piece_id", "merged_into_id", "account_id", "account__account_number"
        )
        for piece_id, merged_into, account_id, number in rows.iterator(chunk_size=20_000):
            if merged_into is None:
                by_piece[piece_id] = Piece(piece_id, int(piece_id[-width:]), account_id, [number])
            else:
                merged[piece_id].append(number)
        for piece_id, numbers in merged.items():
            by_piece[piece_id].account_numbers.extend(sorted(numbers, key=account_order))
        return list(by_piece.values())

    def render(self, *, batch, pieces: list[Piece], out: BinaryIO) -> list[Printed]:
        renderer, shared = _renderer(batch)
        accounts = ServiceAccount.objects.in_bulk([p.account_id for p in pieces])
        for a in accounts.values():
            # The program, phases and products once per batch, not a join per letter.
            a.program = shared["program"]
            if a.phase_id in shared["phases"]:
                a.phase = shared["phases"][a.phase_id]
            if a.product_id in shared["products"]:
                a.product = shared["products"][a.product_id]
        requests = [
            LetterRequest(accounts[p.account_id], batch.kind, batch.mail_date, p.piece_id)
            for p in pieces
        ]
        renderer.prepare(requests)  # the file's variants together: over the variant pool if open
        printed = []
        for p, req in zip(pieces, requests, strict=True):
            a = req.account
            printed.append(
                Printed(
                    a.mailing_zip,
                    a.customer_name,
                    a.mailing_address,
                    a.mailing_city,
                    a.mailing_state,
                    letter_language(a),
                    batch.kind,
                    tuple(p.account_numbers),
                    len(renderer.variant(req).page_heights),
                )
            )
        written = renderer.write(requests, out)
        expected = sum(p.pages for p in printed)
        if written != expected:
            raise RuntimeError(f"{written} pages written, {expected} expected")
        return printed

    def manifest_counts(self, *, batch) -> dict[str, int]:
        return {}

    def report_find(self, *, piece_ids: Collection[str]) -> dict[str, list[ReportItem]]:
        found: dict[str, dict[int, list[ReportItem]]] = defaultdict(lambda: defaultdict(list))
        ids = list(piece_ids)
        for start in range(0, len(ids), 5000):
            rows = Notice.objects.filter(
                piece_id__in=ids[start : start + 5000], batch__isnull=False
            ).values_list("piece_id", "pk", "status", "batch_id", "batch__mail_date")
            for piece, pk, status, batch_id, mail_date in rows:
                found[piece][batch_id].append(ReportItem(pk, status, batch_id, mail_date))
        return {piece: batches[max(batches)] for piece, batches in found.items()}

    def report_apply(self, *, changes: ReportChanges, actor: Actor, at) -> dict[str, int]:
        counts: Counter = Counter()
        for day, ids in sorted(changes.mailed.items()):
            step = notice_mark_mailed(notice_ids=sorted(ids), mailed_on=day, actor=actor, at=at)
            counts["mailed"] += step.changed
        for day, ids in sorted(changes.inferred.items()):
            step = notice_mark_mailed(notice_ids=sorted(ids), mailed_on=day, actor=actor, at=at)
            counts["mailed_inferred"] += step.changed
        for (day, reason), ids in sorted(changes.returned.items()):
            step = notice_mark_returned(
                notice_ids=sorted(ids), return_date=day, reason=reason, actor=actor, at=at
            )
            counts["returned"] += step.changed
        return dict(counts)
