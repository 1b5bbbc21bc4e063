"""The fee ledger: termination fees assessed by the intake rules, entry fees of large customers
who rejoin, a supervisor's waiver, the export the utility bills from and its billing confirmation.

One entry per opt-out (a one-to-one column), never for an opt-out in the free window, before
enrollment or on a move out: `fee_entry_for_optout`, called by optout_submit.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import Program
from accounts.services.audit import audit_access, audit_bulk
from accounts.services.files import publish, stage_for_commit, staged_leftovers, staged_path
from accounts.services.text_files import csv_dict_reader
from optouts.models import FeeEntry, FeeExport, OptOutRequest, Outcome, RejoinRequest

ZERO = Decimal("0.00")

# docs/formats/fees-export.md: the columns, in this order.
EXPORT_COLUMNS = [
    "record_type",
    "entry_id",
    "account_number",
    "customer_class",
    "fee_type",
    "amount",
    "admin_fee",
    "cost_recovery_charge",
    "fee_schedule_effective_from",
    "assessed_on",
    "reason",
    "reference",
]


def fee_entry_for_optout(*, optout: OptOutRequest) -> FeeEntry | None:
    """The termination fee of an opt-out after the free window; None for every other outcome and
    for a fee of zero (no schedule row in force, or a schedule of 0)."""
    if optout.outcome != Outcome.AFTER_FREE_WINDOW or optout.fee_amount <= ZERO:
        return None
    account = optout.account
    schedule_date = None
    if optout.fee_schedule_id:
        assert optout.fee_schedule is not None  # fee_schedule_id is set
        schedule_date = optout.fee_schedule.effective_from
    return FeeEntry.objects.create(
        program_id=optout.program_id,
        account=account,
        kind=FeeEntry.Kind.TERMINATION,
        optout=optout,
        fee_schedule_id=optout.fee_schedule_id,
        customer_class=account.customer_class,
        admin_fee=optout.admin_fee,
        cost_recovery_charge=optout.cost_recovery_charge,
        amount=optout.fee_amount,
        assessed_on=optout.request_date,
        created_at=optout.received_at,
        reason=(
            f"Termination after the free window (opt-out {optout.confirmation_code}; "
            f"fee schedule from {schedule_date or 'n/a'})"
        ),
    )


def fee_assess_for_rejoin(*, rejoin: RejoinRequest) -> FeeEntry | None:
    if rejoin.entry_fee <= ZERO:
        return None
    return FeeEntry.objects.create(
        program_id=rejoin.program_id,
        account=rejoin.account,
        kind=FeeEntry.Kind.ENTRY,
        rejoin=rejoin,
        customer_class=rejoin.account.customer_class,
        admin_fee=rejoin.entry_fee,
        amount=rejoin.entry_fee,
        assessed_on=rejoin.request_date,
        created_at=rejoin.received_at,
        reason=f"Entry fee for a large customer rejoining (rejoin {rejoin.confirmation_code})",
    )


def fee_entry_waive(*, entry: FeeEntry, user, reason: str) -> FeeEntry:
    """A supervisor's waiver, with who, when and why. An entry already sent for billing cannot be
    waived here: the utility must credit it (say so rather than let the two records disagree)."""
    if not user.has_perm("optouts.waive_fee"):
        raise PermissionDenied("only a supervisor may waive a fee")
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("reason: say why the fee is waived")
    with transaction.atomic():
        locked = FeeEntry.objects.select_for_update().get(pk=entry.pk)
        if locked.status == FeeEntry.Status.WAIVED:
            return locked
        if locked.status != FeeEntry.Status.ASSESSED:
            raise ValueError(
                f"fee entry {locked.pk} is already {locked.get_status_display().lower()}: "
                "ask the utility to credit it instead"
            )
        locked.status, locked.waived_by, locked.waived_at = (
            FeeEntry.Status.WAIVED,
            user,
            timezone.now(),
        )
        locked.waiver_reason = reason
        locked.save(update_fields=["status", "waived_by", "waived_at", "waiver_reason"])
        if locked.optout_id:
            # Keep the opt-out's own waiver columns (shown on the agent screen) in step.
            OptOutRequest.objects.filter(pk=locked.optout_id).update(
                fee_waived=True,
                fee_waived_by=user,
                fee_waived_at=locked.waived_at,
                fee_waiver_reason=reason,
            )
    return locked


# --- export ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeeExportResult:
    export: FeeExport | None
    path: Path | None
    entries: int
    total: Decimal


def _row(entry: FeeEntry) -> list[str]:
    source = entry.optout if entry.optout_id else entry.rejoin
    assert source is not None  # every entry is an opt-out's or a rejoin's
    schedule = entry.fee_schedule
    return [
        "D",
        str(entry.pk),
        entry.account.account_number,
        entry.customer_class,
        entry.kind,
        f"{entry.amount:.2f}",
        f"{entry.admin_fee:.2f}",
        f"{entry.cost_recovery_charge:.2f}",
        schedule.effective_from.isoformat() if schedule is not None else "",
        entry.assessed_on.isoformat(),
        entry.reason,
        source.confirmation_code,
    ]


def fees_export(*, program: Program, out: Path, actor_name: str) -> FeeExportResult:
    """Claim every assessed entry of the program and write them to `out`.

    The claim is one conditional UPDATE (status=assessed → exported), so two runs at once never
    export an entry twice. The file is staged under a hidden name and takes its name only once
    the claim has committed: a failed run leaves no file the billing system could read, whose
    entries would then be exported (and billed) again. First publishes the file of a run killed
    between its commit and that rename (`fees_exports_staged_finish`).
    """
    out = Path(out)
    fees_exports_staged_finish(program=program, folder=out.parent)
    now = timezone.now()
    with transaction.atomic():
        export = FeeExport.objects.create(
            program=program, file_name=out.name, created_at=now, actor_name=actor_name
        )
        claimed = FeeEntry.objects.filter(
            program=program, status=FeeEntry.Status.ASSESSED, export=None
        ).update(status=FeeEntry.Status.EXPORTED, export=export, exported_at=now)
        if not claimed:
            transaction.set_rollback(True)
            return FeeExportResult(None, None, 0, ZERO)
        entries = (
            FeeEntry.objects.filter(export=export)
            .select_related("account", "fee_schedule", "optout", "rejoin")
            .order_by("pk")
        )
        body = io.StringIO()
        # The utility's billing system reads it and checks the hash: values exactly as stored,
        # no spreadsheet guard.
        writer = csv.writer(body, lineterminator="\n")
        total = ZERO
        count = 0
        for entry in entries.iterator(chunk_size=2000):
            writer.writerow(_row(entry))
            total += entry.amount
            count += 1
        data = body.getvalue()
        digest = hashlib.sha256(data.encode()).hexdigest()
        head = io.StringIO()
        csv.writer(head, lineterminator="\n").writerow(EXPORT_COLUMNS)
        trailer = io.StringIO()
        csv.writer(trailer, lineterminator="\n").writerow(["T", str(count), f"{total:.2f}", digest])
        export.entries, export.total, export.sha256 = count, total, digest
        export.save(update_fields=["entries", "total", "sha256"])
        audit_access(instance=export, what="fee export file", detail={"file": out.name})
        stage_for_commit(out, (head.getvalue() + data + trailer.getvalue()).encode("utf-8"))
    return FeeExportResult(export, out, count, total)


ANY_NAME = re.compile(r".+")  # the caller names the file; the export rows say whose it is


def _body_sha256(staged: bytes) -> str:
    """The checksum the export records and the trailer carries: of the data lines only."""
    text = staged.decode("utf-8")
    body = text[text.index("\n") + 1 : text.rstrip("\n").rindex("\n") + 1]
    return hashlib.sha256(body.encode()).hexdigest()


def fees_exports_staged_finish(*, program: Program, folder: Path) -> list[Path]:
    """Publish the fee files of the program's exports that committed but were never renamed
    into place (the run was killed between the two). A staged file no committed export names
    is left hidden: it may be another program's run, between staging and commit."""
    finished = []
    for path in staged_leftovers(folder, names=ANY_NAME):
        digests = set(
            FeeExport.objects.filter(program=program, file_name=path.name).values_list(
                "sha256", flat=True
            )
        )
        if digests and _body_sha256(staged_path(path).read_bytes()) in digests:
            publish(path)
            finished.append(path)
    return finished


# --- billing confirmation -------------------------------------------------------------------


class BillingFileError(ValueError):
    pass


BILLING_COLUMNS = ["entry_id", "account_number", "amount", "billed_on", "billing_reference"]


def fees_import_billing(*, path: Path) -> dict[str, int]:
    """The utility's billing confirmation (docs/formats/fees-export.md): exported → billed.
    Every line is checked before anything is written; a bad line names its number and field."""
    # A file that cannot be read raises InputFileError naming the line (the command reports it).
    with csv_dict_reader(path) as reader:
        missing = [c for c in BILLING_COLUMNS[:4] if c not in (reader.fieldnames or [])]
        if missing:
            raise BillingFileError(f"line 1: missing column(s) {', '.join(missing)}")
        rows = []
        for line, rec in enumerate(reader, start=2):
            try:
                entry_id = int(rec["entry_id"])
            except (TypeError, ValueError):
                raise BillingFileError(
                    f"line {line}: entry_id {rec['entry_id']!r} is not a number"
                ) from None
            try:
                amount = Decimal(rec["amount"])
            except (InvalidOperation, TypeError):
                raise BillingFileError(
                    f"line {line}: amount {rec['amount']!r} is not a number"
                ) from None
            try:
                billed_on = dt.date.fromisoformat(rec["billed_on"])
            except (TypeError, ValueError):
                raise BillingFileError(
                    f"line {line}: billed_on {rec['billed_on']!r} is not YYYY-MM-DD"
                ) from None
            rows.append(
                (
                    line,
                    entry_id,
                    rec["account_number"].strip(),
                    amount,
                    billed_on,
                    (rec.get("billing_reference") or "").strip(),
                )
            )
    counts = {"billed": 0, "already_billed": 0}
    with transaction.atomic():
        entries = {
            e.pk: e
            for e in FeeEntry.objects.select_for_update()
            .select_related("account")
            .filter(pk__in=[r[1] for r in rows])
        }
        for line, entry_id, number, amount, billed_on, ref in rows:
            entry = entries.get(entry_id)
            if entry is None:
                raise BillingFileError(f"line {line}: entry_id {entry_id} is not in the fee ledger")
            if entry.account.account_number != number:
                raise BillingFileError(
                    f"line {line}: account_number {number} is not the account of entry {entry_id}"
                )
            if amount != entry.amount:
                raise BillingFileError(
                    f"line {line}: amount {amount} differs from the ledger's {entry.amount}"
                )
            if entry.status == FeeEntry.Status.BILLED:
                counts["already_billed"] += 1
                continue
            if entry.status != FeeEntry.Status.EXPORTED:
                raise BillingFileError(
                    f"line {line}: entry {entry_id} is {entry.status}, not exported"
                )
            FeeEntry.objects.filter(pk=entry_id, status=FeeEntry.Status.EXPORTED).update(
                status=FeeEntry.Status.BILLED, billed_on=billed_on, billing_reference=ref
            )
            counts["billed"] += 1
        audit_bulk(
            model=FeeEntry, what="fees billed (utility's file)", counts=counts, ids=list(entries)
        )
    return counts


def fee_entries_mark_billed(*, entry_ids, billed_on: dt.date, reference: str = "") -> int:
    """Admin action: exported entries the utility has billed (without a confirmation file)."""
    ids = list(entry_ids)
    with transaction.atomic():
        billed = FeeEntry.objects.filter(pk__in=ids, status=FeeEntry.Status.EXPORTED).update(
            status=FeeEntry.Status.BILLED, billed_on=billed_on, billing_reference=reference
        )
        audit_bulk(model=FeeEntry, what="fees marked billed", counts={"billed": billed}, ids=ids)
    return billed
