"""The utility's answers (`import_ccasr_responses FILE`): 997 functional acknowledgements and 814
responses (accept, reject with reason), docs/formats/ccasr-edi.md "What comes back".

Everything is checked before anything is written: the envelopes (edi_x12), which trading partner
sent the file, and every answer against the request it quotes. An unknown reference, a broken
envelope or a count that does not match refuses the whole file, naming the segment; otherwise the
file is recorded in one transaction, and our 997 for it appears in the outbound folder only once
that transaction has committed. The same file imported again records nothing, and an answer
to a request already answered is counted, not applied twice.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from accounts.models import Program, TradingPartner
from accounts.services.trading_partners import Codes
from optouts.models import CcasrExport, EdiInterchangeIn, PreEnrollmentOptOut
from optouts.models import ServiceRequest as SR
from optouts.services.edi_delivery import partner_folder
from optouts.services.edi_export import ack_997_write, exports_staged_finish
from optouts.services.edi_x12 import (
    EdiFileError,
    Interchange,
    Segment,
    TransactionSet,
    codes_for,
    interchange_read,
    partner_for_interchange,
    x12_text,
)

# 997 AK5/AK9 codes that mean the set (or group) was not accepted.
AK_REJECTED = {"R", "M", "W", "X"}


@dataclass
class _Answer:
    request: SR | PreEnrollmentOptOut
    accepted: bool
    code: str
    reason: str
    utility_reference: str


@dataclass
class _Ack:
    export: CcasrExport
    status: str
    note: str
    rejected_requests: list[tuple[SR, str]] = field(default_factory=list)


def _err(msg: str, seg: Segment) -> EdiFileError:
    return EdiFileError(msg, position=seg.position, segment_id=seg.id)


def _loops(ts: TransactionSet) -> tuple[Segment | None, list[list[Segment]]]:
    """The BGN and the LIN loops (each LIN with the segments up to the next LIN or the SE)."""
    bgn, loops = None, []
    for seg in ts.segments[1:-1]:
        if seg.id == "BGN":
            bgn = seg
        elif seg.id == "LIN":
            loops.append([seg])
        elif loops:
            loops[-1].append(seg)
    return bgn, loops


def _response_answers(
    ts: TransactionSet, *, program: Program, codes: Codes, answers: list[_Answer]
) -> None:
    bgn, loops = _loops(ts)
    if bgn is None:
        raise _err("the 814 has no BGN", ts.segments[0])
    if bgn.get(1) != codes["bgn_response"]:
        raise _err(
            f"BGN01 {bgn.get(1)!r} is not a response ({codes['bgn_response']}); the utility's "
            "enrollment notifications are read by reconcile_enrollment",
            bgn,
        )
    if not loops:
        raise _err("a response with no LIN loop", bgn)
    for loop in loops:
        lin = loop[0]
        asi = next((s for s in loop if s.id == "ASI"), None)
        refs = {s.get(1): s for s in loop if s.id == "REF"}
        if asi is None:
            raise _err("the LIN loop has no ASI", lin)
        ref = refs.get(codes["ref_request"])
        if ref is None:
            raise _err(f"the LIN loop has no REF*{codes['ref_request']} (our reference)", lin)
        value = ref.get(2)
        sr: SR | PreEnrollmentOptOut | None = None
        number = value[3:] if value.startswith("OPT") else value
        if number.isdigit() and len(number) <= 18:  # a bigint; longer is no id of ours
            if value.startswith("OPT"):  # an entry of a pre-enrollment opt-out list
                sr = (
                    PreEnrollmentOptOut.objects.select_related("account")
                    .filter(optout_id=int(number), account__program=program)
                    .order_by("-sent_at")
                    .first()
                )
            else:
                sr = (
                    SR.objects.select_related("account")
                    .filter(pk=int(number), program=program)
                    .first()
                )
        if sr is None:
            raise _err(f"reference {value!r} is unknown (never sent by this program)", ref)
        if isinstance(sr, SR) and sr.status in (SR.Status.QUEUED, SR.Status.WITHDRAWN):
            raise _err(f"reference {value!r}: request {sr.pk} was not sent ({sr.status})", ref)
        kind = sr.type if isinstance(sr, SR) else "preenrollment_optout"
        action, maintenance = asi.get(1), asi.get(2)
        if action not in (codes["accept"], codes["reject"]):
            raise _err(
                f"ASI01 {action!r} is neither accept ({codes['accept']}) "
                f"nor reject ({codes['reject']})",
                asi,
            )
        what = f"request {sr.pk}" if isinstance(sr, SR) else f"opt-out {value}"
        expected = codes.pair(kind)[1]
        if maintenance != expected:
            raise _err(
                f"ASI02 {maintenance!r} does not answer {what}, a {kind.replace('_', ' ')} "
                f"({expected})",
                asi,
            )
        account_ref = refs.get(codes["ref_account"])
        account_number = x12_text(sr.account.account_number, max_len=30)
        if account_ref is not None and account_ref.get(2) != account_number:
            raise _err(
                f"account {account_ref.get(2)!r} is not the account of {what}",
                account_ref,
            )
        accepted = action == codes["accept"]
        reason = refs.get(codes["ref_reject"])
        if not accepted and (reason is None or not (reason.get(2) or reason.get(3))):
            raise _err(f"a rejection needs REF*{codes['ref_reject']} with its reason", asi)
        answers.append(
            _Answer(
                sr,
                accepted,
                reason.get(2)[:20] if reason and not accepted else "",
                reason.get(3) if reason and not accepted else "",
                bgn.get(2)[:40],
            )
        )


def _ack(ts: TransactionSet, *, program: Program, acks: list[_Ack]) -> None:
    segs = ts.segments[1:-1]
    ak1 = next((s for s in segs if s.id == "AK1"), None)
    ak9 = next((s for s in segs if s.id == "AK9"), None)
    if ak1 is None:
        raise _err("the 997 has no AK1", ts.segments[0])
    if ak9 is None:
        raise _err("the 997 has no AK9", ts.segments[-1])
    number = ak1.get(2)
    export = None
    if number.isdigit() and len(number) <= 9:  # GS06 has at most nine digits
        export = CcasrExport.objects.filter(
            program=program, group_control_number=int(number)
        ).first()
    if export is None:
        raise _err(f"group control number {number!r} was never sent to this partner", ak1)
    requests = (
        list(SR.objects.filter(export=export).select_related("account").order_by("pk"))
        if export.kind == CcasrExport.Kind.CCASR
        else []
    )
    expected_sets = export.requests
    try:
        received = int(ak9.get(3))
    except ValueError:
        raise _err(f"AK903 {ak9.get(3)!r} is not a number", ak9) from None
    if received != expected_sets:
        raise _err(
            f"AK903 says {received} transaction sets received; group {number} had {expected_sets}",
            ak9,
        )
    ack = _Ack(export, ak9.get(1), "")
    notes = []
    ak2 = None
    for seg in segs:
        if seg.id == "AK2":
            ak2 = seg
            if not seg.get(2).isdigit() or not 1 <= int(seg.get(2)) <= expected_sets:
                raise _err(
                    f"transaction set {seg.get(2)!r} is not one of group {number}'s "
                    f"(0001 to {expected_sets:04d})",
                    seg,
                )
        elif seg.id == "AK5":
            if ak2 is None:
                raise _err("AK5 without its AK2", seg)
            if seg.get(1) in AK_REJECTED:
                codes = " ".join(x for x in seg.elements[2:] if x)
                notes.append(f"set {ak2.get(2)} rejected ({seg.get(1)} {codes})".strip())
                if requests:
                    ack.rejected_requests.append((requests[int(ak2.get(2)) - 1], codes))
            ak2 = None
    if ak9.get(1) not in ("A", "E", "P", "R"):
        raise _err(f"AK901 {ak9.get(1)!r} is not one of A, E, P, R", ak9)
    if ak9.get(1) == "R" and requests and not ack.rejected_requests:
        # The whole group rejected without set detail: every request in it was refused.
        ack.rejected_requests = [(sr, "") for sr in requests]
    ack.note = "; ".join(notes)
    acks.append(ack)


@dataclass
class ImportResult:
    counts: dict[str, int]
    already_imported: EdiInterchangeIn | None = None
    ack_path: Path | None = None  # our 997: in place once the import's transaction committed


def edi_responses_import(*, path: Path, actor_name: str = "utility-response") -> ImportResult:
    path = Path(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    interchanges = interchange_read(data)
    if len(interchanges) != 1:
        raise EdiFileError(
            f"{len(interchanges)} interchanges in one file; the exchange sends one per file"
        )
    ic: Interchange = interchanges[0]
    partner: TradingPartner = partner_for_interchange(ic)
    program = partner.program
    # A 997 a killed import left staged: published if that import committed, else removed.
    exports_staged_finish(partner=partner, out_dir=partner_folder(partner) / "outbound")
    seen = EdiInterchangeIn.objects.filter(program=program, sha256=digest).first()
    if seen is not None:
        return ImportResult({}, already_imported=seen)
    dup = EdiInterchangeIn.objects.filter(
        program=program, sender_id=ic.sender_id, interchange_control_number=ic.control_number
    ).first()
    if dup is not None:
        raise EdiFileError(
            f"interchange control number {ic.control_number} from {ic.sender_id} was already "
            f"received in {dup.file_name} with different content",
            position=1,
            segment_id="ISA",
        )
    codes = codes_for(partner)
    answers: list[_Answer] = []
    acks: list[_Ack] = []
    kinds = set()
    for group in ic.groups:
        for ts in group.sets:
            if group.functional_id == "FA" and ts.id == "997":
                _ack(ts, program=program, acks=acks)
                kinds.add("997")
            elif group.functional_id == "GE" and ts.id == "814":
                _response_answers(ts, program=program, codes=codes, answers=answers)
                kinds.add("814")
            else:
                raise _err(
                    f"a {ts.id} in a {group.functional_id} group is neither a 997 (FA) nor an "
                    "814 response (GE)",
                    ts.segments[0],
                )
    refs = [a.request.reference for a in answers]
    if len(refs) != len(set(refs)):
        twice = next(ref for ref in refs if refs.count(ref) > 1)
        raise EdiFileError(f"reference {twice} is answered twice in this file")
    now = timezone.now()
    counts: Counter[str] = Counter()
    with transaction.atomic():
        for ack in acks:
            done = CcasrExport.objects.filter(pk=ack.export.pk, ack_status="").update(
                ack_status=ack.status, ack_at=now, ack_file=path.name, ack_note=ack.note
            )
            if not done:
                counts["already_acknowledged"] += 1
                continue
            counts["acknowledged"] += 1
            for sr, ak_codes in ack.rejected_requests:
                counts["rejected_by_997"] += SR.objects.filter(
                    pk=sr.pk, status=SR.Status.EXPORTED
                ).update(
                    status=SR.Status.REJECTED,
                    responded_at=now,
                    response_file=path.name,
                    rejection_code=f"997 {ak_codes}".strip()[:20],
                    rejection_reason="transaction set rejected by the utility's EDI translator "
                    f"(997, group {ack.export.group_control_number})",
                )
        for a in answers:
            if isinstance(a.request, PreEnrollmentOptOut):
                done = PreEnrollmentOptOut.objects.filter(
                    pk=a.request.pk, answered_at__isnull=True
                ).update(
                    answered_at=now,
                    accepted=a.accepted,
                    rejection_code=a.code,
                    rejection_reason=a.reason,
                    response_file=path.name,
                )
                key = "optout_accepted" if a.accepted else "optout_rejected"
                counts[key if done else "already_answered"] += 1
                continue
            new = SR.Status.ACCEPTED if a.accepted else SR.Status.REJECTED
            done = SR.objects.filter(pk=a.request.pk, status=SR.Status.EXPORTED).update(
                status=new,
                responded_at=now,
                response_file=path.name,
                utility_reference=a.utility_reference,
                rejection_code=a.code,
                rejection_reason=a.reason,
            )
            # An accepted Disconnect only records the acceptance: the account returns to bundled
            # service on the request's effective date (ccasr_disconnects_take_effect, daily).
            counts[new if done else "already_answered"] += 1
        EdiInterchangeIn.objects.create(
            program=program,
            kind=EdiInterchangeIn.Kind.RESPONSE_814
            if "814" in kinds
            else EdiInterchangeIn.Kind.ACK_997,
            file_name=path.name,
            sha256=digest,
            sender_id=ic.sender_id,
            interchange_control_number=ic.control_number,
            imported_at=now,
            actor_name=actor_name,
            counts=dict(counts),
        )
        ack_path = None
        responses = [g for g in ic.groups if g.functional_id == "GE"]
        if responses and partner.acknowledge_responses:
            # Every group received is acknowledged: the utility's translator waits for it. Last
            # in the transaction, and published only once it commits.
            _, ack_path = ack_997_write(
                partner=partner, groups=responses, file_name=path.name, actor_name=actor_name
            )
    return ImportResult(dict(counts), ack_path=ack_path)
