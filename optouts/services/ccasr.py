"""The CCASR queue: service requests to the utility (Connect, Disconnect, Update, Cancel).

Created by mass enrollment (`ccasr_connects_for_enrollment`), opt-outs (`ccasr_for_optout`, called
by optout_submit), product changes (`ccasr_request_update`, called by the retention switch),
rejoins (rejoin_submit) and moves. `ccasr_export` writes the utility file
(docs/formats/ccasr.md), claiming each queued request with a conditional update so it is sent
exactly once; `ccasr_import_responses` records the utility's answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import (
    ACTIVE_STATUSES,
    PRE_ENROLLMENT_STATUSES,
    Channel,
    Program,
    ServiceAccount,
    Status,
)
from accounts.services import calendar
from accounts.services.reads import NoReadDate, effective_read_date
from accounts.services.status import Actor, account_transition, can_transition
from accounts.services.text_files import csv_dict_reader
from cca_notices.models import Notice
from optouts.models import (
    LIVE_CONNECT,
    CcasrExport,
    OptOutRequest,
    Outcome,
    ServiceRequest,
    ServiceRequestType,
)

SR = ServiceRequest
# Connects are queued this many days before the enrollment read, so a pre-enrollment opt-out
# before then never reaches the utility at all (it is withdrawn, not cancelled).
CONNECT_LEAD_DAYS = 45


def _lead_days() -> int:
    return int(getattr(settings, "CCASR_CONNECT_LEAD_DAYS", CONNECT_LEAD_DAYS))


def ccasr_request_create(
    *,
    account: ServiceAccount,
    type: str,
    source: str,
    effective_date: dt.date | None,
    optout: OptOutRequest | None = None,
    rejoin=None,
    product_code: str = "",
    cancels: ServiceRequest | None = None,
    note: str = "",
) -> ServiceRequest:
    return SR.objects.create(
        program_id=account.program_id,
        account=account,
        type=type,
        source=source,
        effective_date=effective_date,
        optout=optout,
        rejoin=rejoin,
        product_code=product_code,
        cancels=cancels,
        note=note,
        created_at=timezone.now(),
    )


def ccasr_withdraw_pending_connect(
    *, account: ServiceAccount, why: str
) -> tuple[bool, ServiceRequest | None]:
    """Withdraw a Connect not yet sent (claimed with a conditional update, so an export running at
    the same moment either took it first or never sees it). Returns (withdrawn, the sent Connect
    that must be cancelled instead, if any), the sent one marked superseded."""
    connect = SR.objects.filter(LIVE_CONNECT, account=account).first()
    if connect is None:
        return False, None
    if connect.status == SR.Status.QUEUED:
        if SR.objects.filter(pk=connect.pk, status=SR.Status.QUEUED).update(
            status=SR.Status.WITHDRAWN, superseded=True, note=why
        ):
            return True, None
        connect.refresh_from_db()  # an export claimed it first: it was sent
    # Unconditional: once claimed by an export, a Connect's row changes only through the
    # utility's answer, which leaves `superseded` alone.
    SR.objects.filter(pk=connect.pk).update(superseded=True)
    connect.superseded = True
    return False, connect


def ccasr_for_optout(*, optout: OptOutRequest) -> ServiceRequest | None:
    """What an opt-out sets in motion at the utility (docs/formats/ccasr.md "Who queues what").

    A Connect not yet sent is withdrawn and nothing goes to the utility; a sent one is marked
    superseded and cancelled (before enrollment), or the account is disconnected on its effective
    read date. Returns the request queued, if any."""
    account = optout.account
    withdrawn, sent_connect = ccasr_withdraw_pending_connect(
        account=account, why=f"opt-out {optout.confirmation_code}"
    )
    if withdrawn:
        return None
    if optout.service_request == ServiceRequestType.CANCEL:
        if sent_connect is None:
            return None  # never asked the utility for anything: nothing to cancel
        return ccasr_request_create(
            account=account,
            type=SR.Type.CANCEL,
            source=SR.Source.OPTOUT,
            effective_date=optout.request_date,
            optout=optout,
            cancels=sent_connect,
        )
    if (
        optout.outcome == Outcome.MOVED_OUT
        and account.status == Status.MOVED_OUT
        and sent_connect is None
        and optout.from_status in PRE_ENROLLMENT_STATUSES
    ):
        return None
    return ccasr_request_create(
        account=account,
        type=SR.Type.DISCONNECT,
        source=SR.Source.OPTOUT,
        effective_date=optout.effective_date,
        optout=optout,
    )


def ccasr_request_update(
    *, account: ServiceAccount, product_code: str, request_date: dt.date | None = None
) -> ServiceRequest | None:
    """A product change on an account the utility has (or will have) on CCA service."""
    connect = SR.objects.filter(LIVE_CONNECT, account=account).first()
    if account.status not in ACTIVE_STATUSES and connect is None:
        return None  # not on CCA service yet and no Connect: the Connect will carry the product
    queued_connect = connect if connect and connect.status == SR.Status.QUEUED else None
    if queued_connect is not None:
        # Not sent yet: the Connect carries the new product instead of a second request.
        SR.objects.filter(pk=queued_connect.pk, status=SR.Status.QUEUED).update(
            product_code=product_code
        )
        return None
    request_date = request_date or calendar.today()
    try:
        effective = effective_read_date(
            program=account.program, read_cycle=account.read_cycle, request_date=request_date
        )
    except NoReadDate:
        effective = None
    return ccasr_request_create(
        account=account,
        type=SR.Type.UPDATE,
        source=SR.Source.PRODUCT_CHANGE,
        effective_date=effective,
        product_code=product_code,
    )


def ccasr_connects_for_enrollment(*, program: Program, today: dt.date | None = None) -> int:
    """Set-based: a Connect for each account about to be (or already) enrolled that has none.

    The enrollment date is the account's own or, before enrollment, the one the notice engine
    stored on its first post-enrollment / new-customer notice. Accounts are picked once their
    enrollment read is within the lead time (`CCASR_CONNECT_LEAD_DAYS`, default 45). Called by
    `export_ccasr` before it writes the file, and by the daily task."""
    today = today or calendar.today()
    through = today + dt.timedelta(days=_lead_days())
    notice_date = Subquery(
        Notice.objects.filter(
            account=OuterRef("pk"), kind__in=["post_enrollment_1", "new_customer_1"]
        )
        .order_by("mail_date")
        .values("enrollment_date")[:1]
    )
    live_connect = SR.objects.filter(LIVE_CONNECT, account=OuterRef("pk"))
    rows = list(
        ServiceAccount.objects.filter(
            program=program,
            status__in=(Status.ELIGIBLE, Status.NOTIFIED, Status.ENROLLED),
            direct_access=False,
        )
        .annotate(when=Coalesce("enrollment_date", notice_date), has_connect=Exists(live_connect))
        .filter(when__isnull=False, when__lte=through, has_connect=False)
        .values_list("pk", "when", "product__code")
    )
    now = timezone.now()
    objs = [
        SR(
            program=program,
            account_id=pk,
            type=SR.Type.CONNECT,
            source=SR.Source.ENROLLMENT,
            effective_date=when,
            product_code=product or "",
            created_at=now,
        )
        for pk, when, product in rows
    ]
    try:
        with transaction.atomic():
            SR.objects.bulk_create(objs, batch_size=5000)
    except IntegrityError:
        # Another run queued some of them meanwhile: add the rest one by one (the constraint
        # decides).
        created = 0
        for obj in objs:
            try:
                with transaction.atomic():
                    obj.pk = None
                    obj.save()
                created += 1
            except IntegrityError:
                pass
        return created
    return len(objs)


def ccasr_requeue(*, request_ids, note: str = "") -> int:
    """Rejected requests, fixed by staff, go back to the queue for the next export."""
    count = 0
    for sr in SR.objects.filter(pk__in=list(request_ids), status=SR.Status.REJECTED):
        history = (
            f"rejected {sr.responded_at:%Y-%m-%d} {sr.rejection_code} {sr.rejection_reason}".strip()
        )
        count += SR.objects.filter(pk=sr.pk, status=SR.Status.REJECTED).update(
            status=SR.Status.QUEUED,
            export=None,
            note="\n".join(x for x in (sr.note, history, note) if x),
        )
    return count


# --- the utility file -------------------------------------------------------------------------

TYPE_CODES: dict[str, str] = {
    SR.Type.CONNECT: "C",
    SR.Type.DISCONNECT: "D",
    SR.Type.UPDATE: "U",
    SR.Type.CANCEL: "X",
}
# (name, width) of a detail record; docs/formats/ccasr.md
DETAIL = [
    ("record_type", 1),
    ("request_id", 10),
    ("request_type", 1),
    ("account_number", 32),
    ("effective_date", 8),
    ("customer_class", 20),
    ("rate_schedule", 12),
    ("product_code", 20),
    ("cancels_request_id", 10),
    ("customer_name", 40),
]
RECORD_WIDTH = sum(w for _, w in DETAIL)


def _field(value: str, width: int, *, numeric: bool = False) -> str:
    value = "".join(
        c if 32 <= ord(c) < 127 else "?" for c in str(value)
    )  # ASCII only: fixed columns
    if numeric:
        return value.rjust(width, "0")[:width] if value else " " * width
    return value.ljust(width)[:width]


def _detail(sr: ServiceRequest) -> str:
    assert sr.effective_date is not None  # only requests with an effective date are exported
    a = sr.account
    values = {
        "record_type": "D",
        "request_id": str(sr.pk),
        "request_type": TYPE_CODES[sr.type],
        "account_number": a.account_number,
        "effective_date": sr.effective_date.strftime("%Y%m%d"),
        "customer_class": a.customer_class,
        "rate_schedule": a.rate_schedule,
        "product_code": sr.product_code,
        "cancels_request_id": str(sr.cancels_id or ""),
        "customer_name": a.customer_name,
    }
    numeric = {"request_id", "cancels_request_id"}
    return "".join(_field(values[n], w, numeric=n in numeric) for n, w in DETAIL)


@dataclass(frozen=True)
class CcasrExportResult:
    export: CcasrExport | None
    path: Path | None
    counts: dict[str, int]


def ccasr_export(
    *, program: Program, out_dir: Path, actor_name: str, today: dt.date | None = None
) -> CcasrExportResult:
    """Queue mass-enrollment Connects due, then claim every queued request with an effective date
    and write one fixed-width file plus its manifest (docs/formats/ccasr.md)."""
    today = today or calendar.today()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ccasr_connects_for_enrollment(program=program, today=today)
    now = timezone.now()
    tmp = None
    try:
        with transaction.atomic():
            export = CcasrExport.objects.create(
                program=program, file_name="", created_at=now, actor_name=actor_name
            )
            claimed = SR.objects.filter(
                program=program, status=SR.Status.QUEUED, export=None, effective_date__isnull=False
            ).update(status=SR.Status.EXPORTED, export=export, exported_at=now)
            if not claimed:
                transaction.set_rollback(True)
                return CcasrExportResult(None, None, {})
            SR.objects.filter(export=export).update(times_sent=F("times_sent") + 1)
            name = f"CCASR_{program.slug.upper()}_{today:%Y%m%d}_{export.pk:06d}.txt"
            path = out_dir / name
            tmp = path.with_name(name + ".part")
            counts: Counter = Counter()
            lines = []
            header = (
                "H"
                + _field(program.slug.upper(), 16)
                + _field(program.utility.code.upper(), 8)
                + today.strftime("%Y%m%d")
                + _field(str(export.pk), 10, numeric=True)
            )
            lines.append(header.ljust(RECORD_WIDTH))
            qs = SR.objects.filter(export=export).select_related("account").order_by("pk")
            for sr in qs.iterator(chunk_size=5000):
                lines.append(_detail(sr))
                counts[sr.type] += 1
            total = sum(counts.values())
            trailer = "T" + "".join(
                _field(str(n), 10, numeric=True)
                for n in (
                    total,
                    counts[SR.Type.CONNECT],
                    counts[SR.Type.DISCONNECT],
                    counts[SR.Type.UPDATE],
                    counts[SR.Type.CANCEL],
                )
            )
            lines.append(trailer.ljust(RECORD_WIDTH))
            data = ("\r\n".join(lines) + "\r\n").encode("ascii")
            tmp.write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            export.file_name, export.requests, export.sha256 = name, total, digest
            export.save(update_fields=["file_name", "requests", "sha256"])
            manifest = {
                "file": name,
                "sha256": digest,
                "bytes": len(data),
                "records": total,
                "connect": counts[SR.Type.CONNECT],
                "disconnect": counts[SR.Type.DISCONNECT],
                "update": counts[SR.Type.UPDATE],
                "cancel": counts[SR.Type.CANCEL],
                "program": program.slug,
                "utility": program.utility.code,
                "export_id": export.pk,
                "created_at": now.isoformat(),
            }
            (out_dir / (name + ".manifest.json")).write_text(json.dumps(manifest, indent=2) + "\n")
            os.replace(tmp, path)
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()
    return CcasrExportResult(export, path, {k: counts[k] for k in TYPE_CODES} | {"total": total})


# --- the utility's answers ----------------------------------------------------------------------


class ResponseFileError(ValueError):
    pass


RESPONSE_COLUMNS = ["request_id", "result", "reason_code", "reason", "utility_reference"]


def ccasr_import_responses(*, path: Path, actor: Actor | None = None) -> dict[str, int]:
    """Accepted / rejected per request id. Every line is checked first; any bad or unknown line
    rejects the whole file (each one named), so a file is either recorded whole or not at all."""
    actor = actor or Actor("utility-response")
    path = Path(path)
    errors, rows = [], []
    # A file that cannot be read raises InputFileError naming the line (the command reports it).
    with csv_dict_reader(path) as reader:
        missing = [c for c in RESPONSE_COLUMNS[:2] if c not in (reader.fieldnames or [])]
        if missing:
            raise ResponseFileError(f"line 1: missing column(s) {', '.join(missing)}")
        for line, rec in enumerate(reader, start=2):
            raw_id, result = (
                (rec.get("request_id") or "").strip(),
                (rec.get("result") or "").strip().upper(),
            )
            if not raw_id.isdigit():
                errors.append(f"line {line}: request_id {raw_id!r} is not a number")
                continue
            if result not in ("ACCEPTED", "REJECTED"):
                errors.append(f"line {line}: result {result!r} is not ACCEPTED or REJECTED")
                continue
            if (
                result == "REJECTED"
                and not (rec.get("reason") or rec.get("reason_code") or "").strip()
            ):
                errors.append(f"line {line}: reason is required for a rejection")
                continue
            rows.append(
                (
                    line,
                    int(raw_id),
                    result,
                    (rec.get("reason_code") or "").strip()[:20],
                    (rec.get("reason") or "").strip(),
                    (rec.get("utility_reference") or "").strip()[:40],
                )
            )
    known = {
        sr.pk: sr for sr in SR.objects.filter(pk__in=[r[1] for r in rows]).select_related("account")
    }
    for line, pk, *_ in rows:
        sr = known.get(pk)
        if sr is None:
            errors.append(f"line {line}: request_id {pk} is unknown (never sent by this system)")
        elif sr.status == SR.Status.QUEUED or sr.status == SR.Status.WITHDRAWN:
            errors.append(f"line {line}: request_id {pk} was not sent (status {sr.status})")
    if errors:
        raise ResponseFileError("; ".join(errors))
    now = timezone.now()
    counts: Counter[str] = Counter()
    with transaction.atomic():
        for _line, pk, result, code, reason, ref in rows:
            new = SR.Status.ACCEPTED if result == "ACCEPTED" else SR.Status.REJECTED
            done = SR.objects.filter(pk=pk, status=SR.Status.EXPORTED).update(
                status=new,
                responded_at=now,
                response_file=path.name,
                utility_reference=ref,
                rejection_code=code if new == SR.Status.REJECTED else "",
                rejection_reason=reason if new == SR.Status.REJECTED else "",
            )
            if not done:
                counts["already_answered"] += 1
                continue
            counts[new] += 1
            # An accepted Disconnect only records the acceptance: the account returns to bundled
            # service on the request's effective date (ccasr_disconnects_take_effect, daily).
    return dict(counts)


def ccasr_disconnects_take_effect(
    *, today: dt.date | None = None, program_ids=None, actor: Actor | None = None
) -> dict[str, int]:
    """Accepted Disconnects whose effective date (a meter read) has arrived: the account returns
    to bundled service now, through accounts.services.status. Picked from stored dates, so a
    missed day is caught up; each request is claimed with a conditional update (`took_effect_at`)
    in the same transaction as the status change, so it is applied exactly once."""
    today = today or calendar.today()
    actor = actor or Actor("optouts-daily")
    due = SR.objects.filter(
        type=SR.Type.DISCONNECT,
        status=SR.Status.ACCEPTED,
        took_effect_at__isnull=True,
        effective_date__lte=today,
    )
    if program_ids is not None:
        due = due.filter(program_id__in=program_ids)
    counts: Counter[str] = Counter()
    for pk in list(due.order_by("effective_date", "pk").values_list("pk", flat=True)):
        with transaction.atomic():
            now = timezone.now()
            if not SR.objects.filter(
                pk=pk, status=SR.Status.ACCEPTED, took_effect_at__isnull=True
            ).update(took_effect_at=now):
                continue  # another run applied it
            sr = SR.objects.select_related("account").get(pk=pk)
            account = sr.account
            if can_transition(account.status, Status.RETURNED_BUNDLED):
                ref = f", ref {sr.utility_reference}" if sr.utility_reference else ""
                account_transition(
                    account=account,
                    to_status=Status.RETURNED_BUNDLED,
                    channel=Channel.SYSTEM,
                    actor=actor,
                    at=now,
                    reason=(
                        f"disconnect {sr.pk} (accepted by the utility{ref}) "
                        f"took effect on {sr.effective_date}"
                    ),
                )
                counts["returned_bundled"] += 1
            else:
                # e.g. the customer rejoined or moved out before the read: nothing to return.
                SR.objects.filter(pk=pk).update(
                    note=(sr.note + "\n" if sr.note else "")
                    + f"{today}: not applied, account is {account.status}"
                )
                counts["not_applicable"] += 1
    return dict(counts)
