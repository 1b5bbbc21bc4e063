"""The CCASR interchange to the utility (`export_ccasr`): every queued request, once, as an ANSI
X12 814 (docs/formats/ccasr-edi.md), and the pre-enrollment opt-outs a utility that generates the
mass-enrollment Connects needs before each phase (`export_preenrollment_optouts`).

Requests are claimed with a conditional update (queued → exported) in the transaction that draws
the partner's control numbers under a row lock and records the export, so two runs at once never
send one request twice nor reuse a control number.

A process can be killed at any instruction (docs/reliability.md "Killed workers"). The file is
written, complete and flushed, under a hidden staging name (`.<file>.part`) before that
transaction commits and renamed into place after: killed before the commit, the database gives
the requests and the control numbers back and the next run removes the staged file; killed
after, the next run renames it. No file ever carries numbers or requests the database does not
record as its own. `ccasr_export_send` (the Celery task's service) then delivers every
interchange not yet delivered, so one whose delivery was cut short goes out, as it is, later.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.db.models import Exists, F, Min, OuterRef
from django.utils import timezone

from accounts.models import Phase, Program, Status, TradingPartner
from accounts.services import calendar
from accounts.services.files import (
    discard,
    publish,
    stage_for_commit,
    staged_leftovers,
    staged_path,
)
from accounts.services.trading_partners import (
    Codes,
    trading_partner_codes,
    trading_partner_for,
    trading_partner_next_control_numbers,
)
from optouts.models import CcasrExport, EdiTransfer, OptOutRequest, Outcome, PreEnrollmentOptOut
from optouts.models import ServiceRequest as SR
from optouts.services.ccasr import ccasr_connects_for_enrollment
from optouts.services.edi_delivery import edi_send, partner_folder
from optouts.services.edi_x12 import interchange_write, x12_text

logger = logging.getLogger(__name__)
TYPES = (SR.Type.CONNECT, SR.Type.DISCONNECT, SR.Type.UPDATE, SR.Type.CANCEL)


@dataclass(frozen=True)
class CcasrExportResult:
    export: CcasrExport | None
    path: Path | None
    counts: dict[str, int]
    # Files of earlier runs, killed after their commit, that this run renamed into place.
    finished: tuple[Path, ...] = ()


def _header(partner: TradingPartner, codes: Codes, reference: str, on: dt.date) -> list[tuple]:
    program = partner.program
    cca: tuple[str, ...] = ("N1", codes["n1_cca"], x12_text(program.name, max_len=60))
    utility: tuple[str, ...] = (
        "N1",
        codes["n1_utility"],
        x12_text(program.utility.name, max_len=60),
    )
    if partner.cca_id:
        cca += (partner.cca_id_qualifier, partner.cca_id)
    if partner.utility_id:
        utility += (partner.utility_id_qualifier, partner.utility_id)
    return [
        ("814",),
        ("BGN", codes["bgn_request"], reference, f"{on:%Y%m%d}"),
        cca,
        utility,
    ]


def _customer(account, codes: Codes) -> list[tuple]:
    return [
        ("N1", codes["n1_customer"], x12_text(account.customer_name, max_len=60)),
        ("N3", x12_text(account.service_address, max_len=55)),
        ("N4", x12_text(account.service_city, max_len=30), "CA", x12_text(account.service_zip)),
    ]


def request_transaction_set(
    sr: SR, *, partner: TradingPartner, codes: Codes, on: dt.date
) -> list[tuple]:
    """One 814 transaction set for one request (docs/formats/ccasr-edi.md "One request")."""
    assert sr.effective_date is not None  # only requests with an effective date are exported
    body = _header(partner, codes, sr.reference, on) + _customer(sr.account, codes)
    body += [
        ("LIN", sr.reference, *codes["lin_service"]),
        ("ASI", *codes.pair(sr.type)),
        ("REF", codes["ref_account"], x12_text(sr.account.account_number, max_len=30)),
        ("REF", codes["ref_request"], sr.reference),
    ]
    if sr.type == SR.Type.CANCEL and sr.cancels_id:
        body.append(("REF", codes["ref_cancels"], str(sr.cancels_id)))
    if sr.type in (SR.Type.CONNECT, SR.Type.UPDATE) and sr.product_code:
        body.append(("REF", codes["ref_product"], x12_text(sr.product_code, max_len=30)))
    body.append(("DTM", codes["dtm_effective"], f"{sr.effective_date:%Y%m%d}"))
    return body


def _manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def _manifest(path: Path, data: bytes, export: CcasrExport, counts: dict, program) -> bytes:
    manifest = {
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "records": export.requests,
        **counts,
        "program": program.slug,
        "utility": program.utility.code,
        "export_id": export.pk,
        "interchange_control_number": export.interchange_control_number,
        "group_control_number": export.group_control_number,
        "created_at": export.created_at.isoformat(),
    }
    return (json.dumps(manifest, indent=2) + "\n").encode("utf-8")


def _lock_partner(partner: TradingPartner) -> None:
    # The row the control numbers are drawn under: while it is held, no export of the program
    # is between staging its file and committing.
    TradingPartner.objects.select_for_update().filter(pk=partner.pk).first()


def exports_staged_finish(*, partner: TradingPartner, out_dir: Path) -> list[Path]:
    """What a run killed mid-way left in `out_dir`: a staged file whose export committed (its
    SHA-256 the one recorded) is renamed into place; one whose transaction was rolled back is
    removed, its control numbers having gone back to the counter. Every file an export names:
    the 814s and opt-out lists (with their manifests) and our 997s (in the outbound folder).
    Returns the files finished."""
    slug = re.escape(partner.program.slug.upper())
    # This program's files only: another program's run may be between staging and commit.
    ours = re.compile(
        rf"(CCASR|OPTOUTS)_{slug}(_P\d+)?_\d{{8}}_\d{{9}}\.(x12|csv)(\.manifest\.json)?"
        rf"|997_{slug}_\d{{9}}\.x12"
    )
    finished = []
    with transaction.atomic():
        _lock_partner(partner)
        # Manifests first: a file never appears without its manifest beside it.
        leftovers = sorted(
            staged_leftovers(out_dir, names=ours), key=lambda p: ("manifest" not in p.name, p)
        )
        for path in leftovers:
            file_name = path.name.removesuffix(".manifest.json")
            export = CcasrExport.objects.filter(
                program_id=partner.program_id, file_name=file_name
            ).first()
            data = staged_path(path).read_bytes()
            if path.name != file_name:  # a manifest: it names the file's checksum
                try:
                    sha = json.loads(data)["sha256"]
                except (ValueError, KeyError, TypeError):
                    sha = None
            else:
                sha = hashlib.sha256(data).hexdigest()
            if export is not None and export.sha256 and sha == export.sha256:
                publish(path)
                if path.name == file_name:
                    finished.append(path)
            else:
                discard(path)
    return finished


def ccasr_export(
    *, program: Program, out_dir: Path, actor_name: str, today: dt.date | None = None
) -> CcasrExportResult:
    """Queue the mass-enrollment Connects due (when the CCA sends them), then claim every queued
    request with an effective date and write one 814 interchange plus its manifest. First
    finishes what a killed run left in `out_dir` (`exports_staged_finish`)."""
    today = today or calendar.today()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ccasr_connects_for_enrollment(program=program, today=today)
    partner = trading_partner_for(program=program)
    finished = tuple(exports_staged_finish(partner=partner, out_dir=out_dir))
    codes = trading_partner_codes(partner)
    now = timezone.now()
    with transaction.atomic():
        export = CcasrExport.objects.create(
            program=program, file_name="", created_at=now, actor_name=actor_name
        )
        claimed = SR.objects.filter(
            program=program, status=SR.Status.QUEUED, export=None, effective_date__isnull=False
        ).update(status=SR.Status.EXPORTED, export=export, exported_at=now)
        if not claimed:
            transaction.set_rollback(True)
            return CcasrExportResult(None, None, {}, finished)
        SR.objects.filter(export=export).update(times_sent=F("times_sent") + 1)
        icn, gcn = trading_partner_next_control_numbers(partner_id=partner.pk)
        partner.refresh_from_db()
        counts: Counter[str] = Counter()
        sets = []
        qs = SR.objects.filter(export=export).select_related("account").order_by("pk")
        for sr in qs.iterator(chunk_size=5000):
            sets.append(request_transaction_set(sr, partner=partner, codes=codes, on=today))
            counts[sr.type] += 1
        text = interchange_write(
            partner=partner,
            functional_id="GE",
            interchange_control_number=icn,
            group_control_number=gcn,
            transaction_sets=sets,
            at=timezone.localtime(now),
        )
        data = text.encode("ascii")
        name = f"CCASR_{program.slug.upper()}_{today:%Y%m%d}_{icn:09d}.x12"
        export.file_name, export.requests = name, sum(counts.values())
        export.sha256 = hashlib.sha256(data).hexdigest()
        export.interchange_control_number, export.group_control_number = icn, gcn
        export.save()
        path = out_dir / name
        all_counts = {k: counts[k] for k in TYPES}
        # Published (manifest first) once this commits: killed before, nothing is visible.
        stage_for_commit(_manifest_path(path), _manifest(path, data, export, all_counts, program))
        stage_for_commit(path, data)
    return CcasrExportResult(export, path, all_counts | {"total": export.requests}, finished)


def _delivered(partner: TradingPartner) -> list[Exists]:
    """An export is delivered once each way the profile names (the folder; SFTP when a host is
    set) has an `ok` transfer of its file: one condition per way, all to hold."""
    methods = [EdiTransfer.Method.FOLDER]
    if partner.sftp_host:
        methods.append(EdiTransfer.Method.SFTP)
    return [
        Exists(
            EdiTransfer.objects.filter(
                program_id=OuterRef("program_id"),
                file_name=OuterRef("file_name"),
                direction=EdiTransfer.Direction.OUT,
                method=method,
                result=EdiTransfer.Result.OK,
            )
        )
        for method in methods
    ]


@dataclass(frozen=True)
class CcasrSendResult:
    export: CcasrExportResult
    transfers: list[EdiTransfer]
    delivered: tuple[str, ...]  # the files delivered by this run: its own and earlier ones
    # Our 997s that an import killed after its commit left staged, now in the outbound folder.
    acks_finished: tuple[Path, ...] = ()


def _undelivered(partner: TradingPartner):
    return (
        CcasrExport.objects.filter(program_id=partner.program_id, kind=CcasrExport.Kind.CCASR)
        .exclude(file_name="")
        .exclude(*_delivered(partner))
    )


def ccasr_exports_undelivered(*, program: Program):
    """The program's CCASR interchanges with a delivery still missing, oldest first."""
    partner = trading_partner_for(program=program)
    return _undelivered(partner).order_by("interchange_control_number", "pk")


def ccasr_undelivered_oldest() -> dt.datetime | None:
    """When the oldest CCASR interchange written but not yet delivered to the utility was made,
    over every program (a program with an export has a trading partner; none is created here).
    One the utility acknowledged or answered reached it, however it was sent (`export_ccasr
    --out` and a transfer outside the app leave no transfer record)."""
    answered = SR.objects.filter(export=OuterRef("pk"), responded_at__isnull=False)
    times = [
        _undelivered(partner)
        .filter(ack_status="")
        .exclude(Exists(answered))
        .aggregate(t=Min("created_at"))["t"]
        for partner in TradingPartner.objects.order_by("pk")
    ]
    return min((t for t in times if t is not None), default=None)


def ccasr_export_send(
    *, program: Program, actor_name: str, today: dt.date | None = None
) -> CcasrSendResult:
    """The export and its delivery in one, as the Celery task runs them: the interchange is
    written to `<partner folder>/exported/`, then every interchange there not yet delivered —
    this run's, and one whose run was killed before or during its delivery — goes to the
    partner (`edi_send`: the outbound folder, and SFTP when set), unchanged: same file, same
    control numbers. Deliveries of one program take turns on the partner's row lock. A 997 a
    killed import left staged is finished here too, so it does not wait for the next import."""
    partner = trading_partner_for(program=program)
    acks = tuple(
        exports_staged_finish(partner=partner, out_dir=partner_folder(partner) / "outbound")
    )
    out_dir = partner_folder(partner) / "exported"
    result = ccasr_export(program=program, out_dir=out_dir, actor_name=actor_name, today=today)
    transfers: list[EdiTransfer] = []
    delivered = []
    for export in ccasr_exports_undelivered(program=program):
        path = out_dir / export.file_name
        # Written elsewhere (`export_ccasr --out DIR`): delivered with `edi_transfer --send`.
        if not path.is_file():
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != export.sha256:
            logger.error("%s: not the bytes recorded for interchange %s; not sent", path, export.pk)
            continue
        # One file at a time, each recorded as it goes: a run killed on the second file has
        # the first on record.
        with transaction.atomic():
            _lock_partner(partner)
            # Another run may have delivered it while this one waited for the lock.
            if not ccasr_exports_undelivered(program=program).filter(pk=export.pk).exists():
                continue
            sent = edi_send(program=program, paths=[path])
        transfers += sent
        if all(t.result == EdiTransfer.Result.OK for t in sent):
            delivered.append(export.file_name)
    return CcasrSendResult(result, transfers, tuple(delivered), acks)


# --- pre-enrollment opt-outs for a utility that generates the Connects ------------------------

OPTOUT_LIST_COLUMNS = [
    "account_number",
    "customer_name",
    "service_zip",
    "opt_out_date",
    "reference",
]


def preenrollment_optouts_due(*, program: Program, phase: Phase | None):
    """Accounts of the phase that opted out before enrollment and were not yet told."""
    qs = OptOutRequest.objects.filter(
        account__program=program,
        outcome=Outcome.BEFORE_ENROLLMENT,
        account__status=Status.OPTED_OUT_PRE,
    ).exclude(
        # A subquery, not a join: with no phase, "sent with phase NULL" must not match the NULL
        # of an account never sent at all.
        account__in=PreEnrollmentOptOut.objects.filter(phase=phase).values("account")
    )
    if phase is not None:
        qs = qs.filter(account__phase=phase)
    return qs.select_related("account").order_by("account_id", "-received_at")


def preenrollment_optouts_export(
    *,
    program: Program,
    phase: Phase | None,
    out_dir: Path,
    actor_name: str,
    today: dt.date | None = None,
) -> CcasrExportResult:
    """The phase's pre-enrollment opt-outs not yet sent, in the form the profile names: a CSV
    list or an 814 (ASI codes `preenrollment_optout`). Each account is sent once per phase."""
    today = today or calendar.today()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    partner = trading_partner_for(program=program)
    finished = tuple(exports_staged_finish(partner=partner, out_dir=out_dir))
    codes = trading_partner_codes(partner)
    now = timezone.now()
    with transaction.atomic():
        seen: set[int] = set()
        optouts = []
        for o in preenrollment_optouts_due(program=program, phase=phase):
            if o.account_id not in seen:  # the latest opt-out per account
                seen.add(o.account_id)
                optouts.append(o)
        if not optouts:
            return CcasrExportResult(None, None, {}, finished)
        icn, gcn = trading_partner_next_control_numbers(partner_id=partner.pk)
        partner.refresh_from_db()
        export = CcasrExport.objects.create(
            program=program,
            kind=CcasrExport.Kind.PREENROLLMENT_OPTOUTS,
            file_name="",
            created_at=now,
            actor_name=actor_name,
            requests=len(optouts),
            interchange_control_number=icn,
            group_control_number=gcn,
        )
        PreEnrollmentOptOut.objects.bulk_create(
            [
                PreEnrollmentOptOut(
                    account_id=o.account_id, phase=phase, optout=o, export=export, sent_at=now
                )
                for o in optouts
            ]
        )
        phase_part = f"_P{phase.number}" if phase else ""
        stem = f"OPTOUTS_{program.slug.upper()}{phase_part}_{today:%Y%m%d}_{icn:09d}"
        if partner.preenrollment_optouts == TradingPartner.OptOutForm.EDI:
            sets = []
            for o in optouts:
                ref = f"OPT{o.pk}"  # PreEnrollmentOptOut.reference
                body = _header(partner, codes, ref, today) + _customer(o.account, codes)
                body += [
                    ("LIN", ref, *codes["lin_service"]),
                    ("ASI", *codes.pair("preenrollment_optout")),
                    ("REF", codes["ref_account"], x12_text(o.account.account_number, max_len=30)),
                    ("REF", codes["ref_request"], ref),
                    ("DTM", codes["dtm_effective"], f"{o.request_date:%Y%m%d}"),
                ]
                sets.append(body)
            data = interchange_write(
                partner=partner,
                functional_id="GE",
                interchange_control_number=icn,
                group_control_number=gcn,
                transaction_sets=sets,
                at=timezone.localtime(now),
            ).encode("ascii")
            name = stem + ".x12"
        else:
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\r\n")
            writer.writerow(OPTOUT_LIST_COLUMNS)
            for o in optouts:
                a = o.account
                writer.writerow(
                    [a.account_number, a.customer_name, a.service_zip, o.request_date, f"OPT{o.pk}"]
                )
            data = buf.getvalue().encode("utf-8")
            name = stem + ".csv"
        export.file_name, export.sha256 = name, hashlib.sha256(data).hexdigest()
        export.save(update_fields=["file_name", "sha256"])
        path = out_dir / name
        stage_for_commit(
            _manifest_path(path), _manifest(path, data, export, {"optouts": len(optouts)}, program)
        )
        stage_for_commit(path, data)
    return CcasrExportResult(
        export, path, {"optouts": len(optouts), "total": len(optouts)}, finished
    )


# --- our 997 for the utility's 814 responses ---------------------------------------------------


def ack_997_write(
    *, partner: TradingPartner, groups, file_name: str, actor_name: str
) -> tuple[CcasrExport, Path]:
    """A 997 accepting each functional group of 814 responses just recorded (the file was
    refused whole otherwise, so every set is accepted), with control numbers from the partner's
    counter, in the caller's transaction. Staged in the partner's outbound folder and published
    when that transaction commits: the utility never gets a 997 for a file we did not record,
    nor one whose control numbers went back to the counter. A run killed in between leaves it
    staged for `exports_staged_finish`."""
    now = timezone.now()
    icn, gcn = trading_partner_next_control_numbers(partner_id=partner.pk)
    partner.refresh_from_db()
    sets = []
    for group in groups:
        body: list[tuple] = [("997",), ("AK1", group.functional_id, group.control_number)]
        for ts in group.sets:
            body += [("AK2", ts.id, ts.control_number), ("AK5", "A")]
        n = len(group.sets)
        body.append(("AK9", "A", n, n, n))
        sets.append(body)
    data = interchange_write(
        partner=partner,
        functional_id="FA",
        interchange_control_number=icn,
        group_control_number=gcn,
        transaction_sets=sets,
        at=timezone.localtime(now),
    ).encode("ascii")
    name = f"997_{partner.program.slug.upper()}_{icn:09d}.x12"
    export = CcasrExport.objects.create(
        program=partner.program,
        kind=CcasrExport.Kind.ACK_997,
        file_name=name,
        created_at=now,
        actor_name=actor_name,
        requests=len(sets),
        sha256=hashlib.sha256(data).hexdigest(),
        interchange_control_number=icn,
        group_control_number=gcn,
        ack_note=f"acknowledges {file_name}",
    )
    outbox = partner_folder(partner) / "outbound"
    outbox.mkdir(parents=True, exist_ok=True)
    stage_for_commit(outbox / name, data)
    return export, outbox / name
