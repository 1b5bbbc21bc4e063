"""After a phase's mass enrollment by the utility: its enrollment notifications (an 814 of the
utility's Connects, or its enrollment list CSV) recorded and checked against the registry
(`reconcile_enrollment`, docs/formats/ccasr-edi.md "Enrollment notifications and reconciliation").

- an account the registry has as opted out that the utility enrolled anyway gets a Disconnect at
  once, effective on the utility's enrollment date, with no fee: the customer opted out in time
  and the error is not theirs (R-CCASR-WHO);
- an account the utility enrolled that the registry does not know is flagged;
- an eligible account of the phase that the utility did not enroll is flagged.
Every enrolled account's Connect is recorded as the utility's (accepted), so a later opt-out
before the enrollment date cancels it and one after disconnects it.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from accounts.models import (
    OPTED_OUT_STATUSES,
    PRE_ENROLLMENT_STATUSES,
    Phase,
    Program,
    ServiceAccount,
)
from optouts.models import (
    LIVE_CONNECT,
    EnrollmentReconciliation,
    ReconciliationItem,
)
from optouts.models import ServiceRequest as SR
from optouts.services.edi_x12 import (
    EdiFileError,
    codes_for,
    interchange_read,
    partner_for_interchange,
    x12_date,
)

ENROLLMENT_LIST_COLUMNS = ["account_number", "enrollment_date"]  # + optional utility_reference
Item = ReconciliationItem.Kind


@dataclass(frozen=True)
class Enrolled:
    where: str  # "segment 12" / "line 3": named in any refusal
    account_number: str
    enrollment_date: dt.date
    utility_reference: str


def _from_814(data: bytes, program: Program) -> list[Enrolled]:
    interchanges = interchange_read(data)
    if len(interchanges) != 1:
        raise EdiFileError(f"{len(interchanges)} interchanges in one file; one is expected")
    ic = interchanges[0]
    partner = partner_for_interchange(ic)
    if partner.program_id != program.pk:
        raise EdiFileError(
            f"the interchange is for program {partner.program.slug}, not {program.slug}",
            position=1,
            segment_id="ISA",
        )
    codes = codes_for(partner)
    rows = []
    for group in ic.groups:
        for ts in group.sets:
            if ts.id != "814":
                raise EdiFileError(
                    f"a {ts.id}, not an 814", position=ts.segments[0].position, segment_id="ST"
                )
            bgn = next((s for s in ts.segments if s.id == "BGN"), None)
            lins = [i for i, s in enumerate(ts.segments) if s.id == "LIN"]
            if bgn is None or not lins:
                raise EdiFileError(
                    "an enrollment notification needs a BGN and a LIN",
                    position=ts.segments[0].position,
                    segment_id="ST",
                )
            for n, start in enumerate(lins):
                end = lins[n + 1] if n + 1 < len(lins) else len(ts.segments) - 1
                loop = ts.segments[start:end]
                lin = loop[0]
                asi = next((s for s in loop if s.id == "ASI"), None)
                if asi is None or (asi.get(1), asi.get(2)) != codes.pair("connect"):
                    raise EdiFileError(
                        f"not a Connect (ASI {'*'.join(codes.pair('connect'))})",
                        position=(asi or lin).position,
                        segment_id=(asi or lin).id,
                    )
                refs = {s.get(1): s for s in loop if s.id == "REF"}
                account = refs.get(codes["ref_account"])
                if account is None or not account.get(2):
                    raise EdiFileError(
                        f"no REF*{codes['ref_account']} (the service account)",
                        position=lin.position,
                        segment_id="LIN",
                    )
                dtm = next(
                    (s for s in loop if s.id == "DTM" and s.get(1) == codes["dtm_effective"]), None
                )
                if dtm is None:
                    raise EdiFileError(
                        f"no DTM*{codes['dtm_effective']} (the enrollment date)",
                        position=lin.position,
                        segment_id="LIN",
                    )
                ref = refs.get(codes["ref_request"])
                rows.append(
                    Enrolled(
                        f"segment {account.position}",
                        account.get(2),
                        x12_date(dtm.get(2), dtm),
                        (ref.get(2) if ref else bgn.get(2))[:40],
                    )
                )
    return rows


def _from_csv(data: bytes) -> list[Enrolled]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EdiFileError(f"byte {exc.start + 1} is not UTF-8") from None
    if "\x00" in text:
        raise EdiFileError(f"line {text[: text.index(chr(0))].count(chr(10)) + 1}: a NUL byte")
    try:
        return _csv_rows(text)
    except csv.Error as exc:
        raise EdiFileError(f"not a CSV file the utility's list format allows: {exc}") from None


def _csv_rows(text: str) -> list[Enrolled]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in ENROLLMENT_LIST_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise EdiFileError(f"line 1: missing column(s) {', '.join(missing)}")
    rows = []
    for rec in reader:
        line = reader.line_num
        number = (rec.get("account_number") or "").strip()
        raw = (rec.get("enrollment_date") or "").strip()
        if not number:
            raise EdiFileError(f"line {line}: account_number is empty")
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            raise EdiFileError(f"line {line}: enrollment_date {raw!r} is not YYYY-MM-DD") from None
        ref = (rec.get("utility_reference") or "").strip()[:40]
        rows.append(Enrolled(f"line {line}", number, day, ref))
    return rows


@dataclass
class ReconcileResult:
    reconciliation: EnrollmentReconciliation
    already: bool = False


def enrollment_reconcile(
    *, program: Program, path: Path, phase: Phase | None = None, actor_name: str
) -> ReconcileResult:
    path = Path(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    seen = EnrollmentReconciliation.objects.filter(program=program, sha256=digest).first()
    if seen is not None:
        return ReconcileResult(seen, already=True)
    rows = _from_814(data, program) if data.lstrip()[:3] == b"ISA" else _from_csv(data)
    first: dict[str, Enrolled] = {}
    for row in rows:
        if row.account_number in first:
            raise EdiFileError(
                f"{row.where}: account {row.account_number} is already enrolled by "
                f"{first[row.account_number].where}"
            )
        first[row.account_number] = row
    now = timezone.now()
    counts: Counter[str] = Counter()
    with transaction.atomic():
        rec = EnrollmentReconciliation.objects.create(
            program=program,
            phase=phase,
            file_name=path.name,
            sha256=digest,
            created_at=now,
            actor_name=actor_name,
        )
        accounts = {
            a.account_number: a
            for a in ServiceAccount.objects.select_for_update(of=("self",)).filter(
                program=program, account_number__in=list(first)
            )
        }
        items = []
        connects = _utility_connects(
            [(accounts[r.account_number], r) for r in rows if r.account_number in accounts],
            path.name,
            now,
        )
        for row in rows:
            counts["enrolled_by_utility"] += 1
            account = accounts.get(row.account_number)
            if account is None:
                counts[Item.UNKNOWN_ACCOUNT] += 1
                items.append(
                    ReconciliationItem(
                        reconciliation=rec,
                        kind=Item.UNKNOWN_ACCOUNT,
                        account_number=row.account_number,
                        utility_date=row.enrollment_date,
                        note=f"{row.where}: not in the registry of {program.slug}",
                    )
                )
                continue
            connect = connects[account.pk]
            if account.status in OPTED_OUT_STATUSES:
                disconnect = _disconnect_opted_out(account, row, connect, now)
                counts[Item.OPTED_OUT_ENROLLED] += 1
                items.append(
                    ReconciliationItem(
                        reconciliation=rec,
                        kind=Item.OPTED_OUT_ENROLLED,
                        account=account,
                        account_number=account.account_number,
                        utility_date=row.enrollment_date,
                        service_request=disconnect,
                        note=disconnect.note,
                    )
                )
            else:
                counts["matched"] += 1
        missing = ServiceAccount.objects.filter(
            program=program,
            status__in=list(PRE_ENROLLMENT_STATUSES),
            direct_access=False,
        ).exclude(account_number__in=list(first))
        if phase is not None:
            missing = missing.filter(phase=phase)
        else:
            last = max((r.enrollment_date for r in rows), default=None)
            missing = missing.filter(phase__enrollment_start__lte=last) if last else missing.none()
        for account in missing.order_by("account_number").iterator(chunk_size=5000):
            counts[Item.NOT_ENROLLED] += 1
            items.append(
                ReconciliationItem(
                    reconciliation=rec,
                    kind=Item.NOT_ENROLLED,
                    account=account,
                    account_number=account.account_number,
                    note=f"{account.get_status_display()}, phase "
                    f"{account.phase.name if account.phase else '-'}: not in the utility's "
                    "enrollment",
                )
            )
        ReconciliationItem.objects.bulk_create(items, batch_size=5000)
        rec.counts = dict(counts)
        rec.save(update_fields=["counts"])
    return ReconcileResult(rec)


def _utility_connects(
    matched: list[tuple[ServiceAccount, Enrolled]], file_name: str, now
) -> dict[int, SR]:
    """Each enrolled account's live Connect: the one already recorded, or one the utility made
    during mass enrollment, recorded here as accepted. Set-based: a phase has up to a million
    rows (the accounts are row-locked by the caller, so none is added meanwhile)."""
    ids = [account.pk for account, _ in matched]
    live: dict[int, SR] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for sr in SR.objects.filter(LIVE_CONNECT, account_id__in=chunk):  # newest first
            live.setdefault(sr.account_id, sr)
    new = [
        SR(
            program_id=account.program_id,
            account=account,
            type=SR.Type.CONNECT,
            source=SR.Source.UTILITY,
            effective_date=row.enrollment_date,
            status=SR.Status.ACCEPTED,
            created_at=now,
            responded_at=now,
            response_file=file_name,
            utility_reference=row.utility_reference,
            note=f"generated by the utility during mass enrollment ({row.where} of {file_name})",
        )
        for account, row in matched
        if account.pk not in live
    ]
    for sr in SR.objects.bulk_create(new, batch_size=5000):
        live[sr.account_id] = sr
    return live


def _disconnect_opted_out(account: ServiceAccount, row: Enrolled, connect: SR, now) -> SR:
    optout = account.optout_requests.filter(is_current=True).order_by("-received_at").first()
    when = f" on {optout.request_date} ({optout.confirmation_code})" if optout else ""
    SR.objects.filter(pk=connect.pk).update(superseded=True)
    return SR.objects.create(
        program_id=account.program_id,
        account=account,
        type=SR.Type.DISCONNECT,
        source=SR.Source.RECONCILIATION,
        effective_date=row.enrollment_date,
        optout=optout,
        created_at=now,
        note=(
            f"customer opted out in time{when}; the utility enrolled the account anyway "
            f"effective {row.enrollment_date}: disconnected at once, no fee"
        ),
    )


REPORT_COLUMNS = ["kind", "account_number", "utility_date", "service_request", "note"]


def reconciliation_report_rows(rec: EnrollmentReconciliation) -> Iterator[list[str]]:
    yield REPORT_COLUMNS
    for item in rec.items.order_by("kind", "account_number"):
        yield [
            item.kind,
            item.account_number,
            str(item.utility_date or ""),
            str(item.service_request_id or ""),
            item.note,
        ]
