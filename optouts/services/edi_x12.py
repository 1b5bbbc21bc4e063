"""ANSI X12 for the CCASR exchange (docs/formats/ccasr-edi.md): writing segments and envelopes
(a few lines of our own), reading and validating envelopes with pyx12 (docs/development.md says
why that library).

A file that cannot be trusted is refused whole with `EdiFileError`, which names the segment (its
position in the file, counted from 1, and its ID) and what is wrong.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

import pyx12.errors
import pyx12.x12file

from accounts.models import TradingPartner
from accounts.services.trading_partners import Codes, trading_partner_codes


class EdiFileError(ValueError):
    """A received file refused whole; `position` is the segment's place in the file (from 1)."""

    def __init__(self, message: str, *, position: int | None = None, segment_id: str = ""):
        self.position, self.segment_id, self.problem = position, segment_id, message
        where = ""
        if position is not None:
            where = f"segment {position}" + (f" ({segment_id})" if segment_id else "") + ": "
        super().__init__(where + message)


# --- writing ------------------------------------------------------------------------------------


def x12_text(value: object, *, max_len: int | None = None) -> str:
    """A data element's text: printable ASCII (others become '?'), upper-case so every utility's
    translator reads it; separators are never inside a value (the profile's check keeps them out
    of IDs, and here they become spaces)."""
    text = " ".join(str(value).split())
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text).upper()
    return text[:max_len] if max_len else text


@dataclass
class SegmentWriter:
    partner: TradingPartner
    segments: list[list[str]] = field(default_factory=list)

    def add(self, seg_id: str, *elements: object) -> None:
        values = [seg_id, *("" if e is None else str(e) for e in elements)]
        while len(values) > 1 and values[-1] == "":
            values.pop()  # X12: no trailing empty elements
        seps = {
            self.partner.element_separator,
            self.partner.segment_terminator,
            self.partner.component_separator,
        }
        clean = [values[0]] + ["".join(" " if c in seps else c for c in v) for v in values[1:]]
        self.segments.append(clean)

    def render(self) -> str:
        e, t = self.partner.element_separator, self.partner.segment_terminator
        # One segment a line after the terminator: readable, and every translator accepts it.
        return "".join(e.join(seg) + t + "\n" for seg in self.segments)


def isa_version(partner: TradingPartner) -> str:
    return partner.x12_version[:5]


def interchange_write(
    *,
    partner: TradingPartner,
    functional_id: str,
    interchange_control_number: int,
    group_control_number: int,
    transaction_sets: list[list[tuple]],
    at: dt.datetime,
) -> str:
    """One ISA/GS envelope around the given transaction sets (each a list of (seg_id, *elements)
    without ST/SE, which are added here with their counts)."""
    w = SegmentWriter(partner)
    version5 = isa_version(partner)
    # ISA is fixed-width and its last element is the component separator itself (not data), so
    # it is built as is rather than through add().
    w.segments.append(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            partner.sender_id_qualifier.ljust(2),
            partner.sender_id.ljust(15),
            partner.receiver_id_qualifier.ljust(2),
            partner.receiver_id.ljust(15),
            f"{at:%y%m%d}",
            f"{at:%H%M}",
            "U" if version5 < "00501" else "^",  # ISA11: standards ID (4010) / repetition separator
            version5,
            f"{interchange_control_number:09d}",
            "0",
            partner.usage,
            partner.component_separator,
        ]
    )
    w.add(
        "GS",
        functional_id,
        partner.application_sender_code or partner.sender_id,
        partner.application_receiver_code or partner.receiver_id,
        f"{at:%Y%m%d}",
        f"{at:%H%M}",
        group_control_number,
        "X",
        partner.x12_version,
    )
    for n, body in enumerate(transaction_sets, start=1):
        control = f"{n:04d}"
        w.add("ST", body[0][0], control)
        for seg in body[1:]:
            w.add(*seg)
        w.add("SE", len(body) + 1, control)  # ST and SE count, the set id line does not
    w.add("GE", len(transaction_sets), group_control_number)
    w.add("IEA", 1, f"{interchange_control_number:09d}")
    return w.render()


# --- reading ------------------------------------------------------------------------------------


@dataclass
class Segment:
    position: int
    id: str
    elements: list[str]  # elements[1] is the first data element (XX01)

    def get(self, n: int) -> str:
        return self.elements[n] if n < len(self.elements) else ""


@dataclass
class TransactionSet:
    id: str
    control_number: str
    segments: list[Segment]  # ST … SE


@dataclass
class Group:
    functional_id: str
    control_number: str
    version: str
    sets: list[TransactionSet]
    gs: Segment


@dataclass
class Interchange:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    control_number: str
    usage: str
    groups: list[Group]
    closed: bool = False


def _seg(position: int, raw) -> Segment:
    seg_id = raw.get_seg_id() or ""
    return Segment(position, seg_id, [seg_id, *(comp.format() for comp in raw.elements)])


def interchange_read(data: bytes) -> list[Interchange]:
    """Parse and validate the envelopes (pyx12's reader: ISA/IEA, GS/GE and ST/SE control
    numbers and counts, unterminated loops), then our structure (ST inside GS inside ISA).
    Raises EdiFileError naming the first problem's segment."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise EdiFileError(f"byte {exc.start + 1} is not ASCII; an X12 file is ASCII") from None
    if "\x00" in text:
        raise EdiFileError(f"byte {text.index(chr(0)) + 1} is a NUL; an X12 file is text")
    if not text.lstrip().startswith("ISA"):
        raise EdiFileError("the file does not begin with an ISA segment", position=1)
    try:
        reader = pyx12.x12file.X12Reader(io.StringIO(text.lstrip()))
    except pyx12.errors.X12Error as exc:
        raise EdiFileError(str(exc), position=1, segment_id="ISA") from None
    interchanges: list[Interchange] = []
    position = 0
    current: TransactionSet | None = None
    group: Group | None = None
    try:
        for raw in reader:
            position += 1
            errors = reader.pop_errors()
            if errors:
                seg_id = raw.get_seg_id() or ""
                shown = seg_id if seg_id.isalnum() and len(seg_id) <= 3 else ""
                raise EdiFileError(errors[0][2], position=position, segment_id=shown)
            seg = _seg(position, raw)
            _structure(seg, interchanges, group, current)
            if seg.id == "ISA":
                interchanges.append(
                    Interchange(
                        seg.get(5).strip(),
                        seg.get(6).strip(),
                        seg.get(7).strip(),
                        seg.get(8).strip(),
                        seg.get(13),
                        seg.get(15),
                        [],
                    )
                )
            elif seg.id == "GS":
                group = Group(seg.get(1), seg.get(6), seg.get(8), [], seg)
                interchanges[-1].groups.append(group)
            elif seg.id == "ST":
                assert group is not None
                current = TransactionSet(seg.get(1), seg.get(2), [seg])
                group.sets.append(current)
            elif seg.id == "SE":
                assert current is not None
                current.segments.append(seg)
                current = None
            elif seg.id == "GE":
                group = None
            elif current is not None:
                current.segments.append(seg)
    except (pyx12.errors.X12Error, pyx12.errors.EngineError) as exc:
        raise EdiFileError(str(exc), position=position + 1) from None
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, EdiFileError):
            raise
        # pyx12 assumes a well-nested file; a trailer with nothing open lands here
        raise EdiFileError(
            f"segment out of place ({exc.__class__.__name__})", position=position
        ) from None
    reader.cleanup()
    errors = reader.pop_errors()
    if errors:
        raise EdiFileError(errors[0][2] + " (at the end of the file)", position=position)
    rest = reader.raw.buffer.strip()
    if rest:
        raise EdiFileError(
            f"text after the last segment terminator: {rest[:20]!r}", position=position + 1
        )
    return interchanges


def _structure(seg: Segment, interchanges, group, current) -> None:
    if seg.id == "ISA":
        if interchanges and not interchanges[-1].closed:
            raise EdiFileError("an ISA inside an open interchange", position=seg.position)
        return
    if not interchanges:
        raise EdiFileError("a segment before the ISA", position=seg.position, segment_id=seg.id)
    if interchanges[-1].closed:
        raise EdiFileError("a segment after the IEA", position=seg.position, segment_id=seg.id)
    if seg.id == "IEA":
        interchanges[-1].closed = True
        return
    if seg.id == "GS" and group is not None:
        raise EdiFileError("a GS inside an open group", position=seg.position, segment_id="GS")
    if seg.id not in ("GS", "GE") and group is None:
        raise EdiFileError("outside a GS/GE group", position=seg.position, segment_id=seg.id)
    if seg.id == "ST" and current is not None:
        raise EdiFileError("an ST inside an open ST", position=seg.position, segment_id="ST")
    if seg.id not in ("GS", "GE", "ST") and current is None:
        raise EdiFileError(
            "outside an ST/SE transaction set", position=seg.position, segment_id=seg.id
        )


def partner_for_interchange(ic: Interchange) -> TradingPartner:
    """The utility sends with its ID as sender and ours as receiver: that pair names the
    trading partner, and with it the program."""
    partner = (
        TradingPartner.objects.select_related("program", "program__utility")
        .filter(receiver_id=ic.sender_id, sender_id=ic.receiver_id)
        .first()
    )
    if partner is None:
        raise EdiFileError(
            f"no trading partner sends as {ic.sender_id!r} to {ic.receiver_id!r} "
            "(ISA06/ISA08 of a program's [trading_partner])",
            position=1,
            segment_id="ISA",
        )
    return partner


def codes_for(partner: TradingPartner) -> Codes:
    return trading_partner_codes(partner)


def x12_date(value: str, seg: Segment) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise EdiFileError(
            f"{value!r} is not a date (CCYYMMDD)", position=seg.position, segment_id=seg.id
        ) from None
