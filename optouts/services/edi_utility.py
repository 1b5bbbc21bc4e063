"""The utility's side of the EDI exchange: read our 814s with the product's own reader and answer
them with 997s and 814 responses written by the product's writer with the roles swapped (the
utility as sender). For testing with a trading partner before going live, for the tests, and for
the demo's utility (cca_notices/demo_life.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from accounts.models import TradingPartner
from accounts.services.trading_partners import trading_partner_codes
from optouts.services.edi_x12 import interchange_read, interchange_write


def utility_side(partner: TradingPartner) -> TradingPartner:
    """The same profile seen from the utility: it sends as receiver_id to our sender_id."""
    return TradingPartner(
        program=partner.program,
        sender_id_qualifier=partner.receiver_id_qualifier,
        sender_id=partner.receiver_id,
        receiver_id_qualifier=partner.sender_id_qualifier,
        receiver_id=partner.sender_id,
        x12_version=partner.x12_version,
        usage=partner.usage,
        element_separator=partner.element_separator,
        component_separator=partner.component_separator,
        segment_terminator=partner.segment_terminator,
    )


def requests_in(path: Path):
    """(reference, ASI01, ASI02, REF*12, DTM) of each 814 transaction set in our file."""
    (ic,) = interchange_read(path.read_bytes())
    out = []
    for group in ic.groups:
        for ts in group.sets:
            seg = {s.id + (s.get(1) if s.id == "REF" else ""): s for s in ts.segments}
            out.append(
                {
                    "control": ts.control_number,
                    "reference": seg["REFTN"].get(2),
                    "asi": (seg["ASI"].get(1), seg["ASI"].get(2)),
                    "account": seg["REF12"].get(2),
                    "effective": seg["DTM"].get(2),
                    "cancels": seg["REF6O"].get(2) if "REF6O" in seg else None,
                    "product": seg["REFRB"].get(2) if "REFRB" in seg else None,
                    "customer": next(s for s in ts.segments if s.id == "N1" and s.get(1) == "8R"),
                }
            )
    return ic, out


def response_set(partner, request, *, accept=True, code="A13", text="Account not found", ref=None):
    codes = trading_partner_codes(partner)
    body = [
        ("814",),
        ("BGN", codes["bgn_response"], f"U{request['reference']}", "20270311"),
        ("LIN", request["reference"], *codes["lin_service"]),
        ("ASI", codes["accept"] if accept else codes["reject"], request["asi"][1]),
        ("REF", codes["ref_account"], request["account"]),
        ("REF", codes["ref_request"], ref or request["reference"]),
    ]
    if not accept:
        body.append(("REF", codes["ref_reject"], code, text))
    return body


def ack_set(export, *, rejected_sets=(), group_status=None):
    body = [("997",), ("AK1", "GE", export.group_control_number)]
    for n in range(1, export.requests + 1):
        body.append(("AK2", "814", f"{n:04d}"))
        body.append(("AK5", "R", "5") if n in rejected_sets else ("AK5", "A"))
    status = group_status or ("P" if rejected_sets else "A")
    accepted = export.requests - len(rejected_sets)
    body.append(("AK9", status, export.requests, export.requests, accepted))
    return body


def utility_answer_write(
    *,
    partner: TradingPartner,
    export_path: Path,
    out: Path,
    at: dt.datetime,
    control_number: int,
    reject: dict[str, tuple[str, str]] | None = None,
) -> Path:
    """The utility's 814 responses to every request of one of our files: accepted, except the
    references in `reject` (reference → (code, text))."""
    reject = reject or {}
    _, requests = requests_in(export_path)
    sets = [
        response_set(
            partner,
            r,
            accept=r["reference"] not in reject,
            **dict(zip(("code", "text"), reject.get(r["reference"], ("A13", "")), strict=True)),
        )
        for r in requests
    ]
    text = interchange_write(
        partner=utility_side(partner),
        functional_id="GE",
        interchange_control_number=control_number,
        group_control_number=control_number,
        transaction_sets=sets,
        at=at,
    )
    out.write_text(text)
    return out
