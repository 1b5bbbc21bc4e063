"""Print-ready PDFs for many letters at once: render each variant once, stamp each recipient.

WeasyPrint renders about five letters a second; a notice round is a million. Everything on a
letter except a handful of one-line personal fields depends only on its *variant*
(context.variant_key). So, per variant, WeasyPrint renders the letter once with the personal boxes
laid out but not drawn (`stamping`), and we read from its layout where each box's first baseline
is, in which size, weight and colour. Each recipient's page is then the variant's page content
(shared, written once per file) followed by a tiny content stream that draws the personal text in
DejaVu Sans — the font the template uses, embedded once per file — and the QR code as
rectangles. The PDF is written directly (objects, xref, trailer): per letter that is a few page
dictionaries and one small stream, so thousands of letters a second on one core.

Same look as the one-by-one render: same font, size, colour and baseline, kerning and ligatures
off in both (letter.css `.f`); tests/mailers/test_stamp.py rasterises both and compares.

Characters (glyphs.py): the embedded font is a subset of DejaVu Sans — Latin-1, Latin Extended-A/B
and punctuation, widened per file to every other stampable character its letters use (e.g.
Vietnamese). A letter with characters DejaVu Sans lacks (CJK) or that need shaping (Arabic,
combining marks) is rendered on its own by WeasyPrint, whose font fallback finds them, and its
pages are copied into the file in its place. Nothing is ever substituted: a character no font has
raises `UnprintableText`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import multiprocessing
import os
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import lru_cache
from typing import BinaryIO

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, StreamObject

from cca_notices.mailers import render_worker
from cca_notices.mailers.context import (
    LetterRequest,
    opt_out_prefix,
    personal_fields,
    variant_context,
    variant_key,
)
from cca_notices.mailers.glyphs import (
    FONT_FILES,
    STAMP,
    UnprintableText,
    check_rendered,
    describe,
    letter_route,
    stamp_rows,
)
from cca_notices.mailers.qr import qr_modules, qr_runs
from cca_notices.mailers.render import letter_html, letter_pdf, weasy_document

FONT_NAMES = {"regular": "DejaVuSans", "bold": "DejaVuSans-Bold"}
STAMP_FONT_KEY = {"regular": "/StampR", "bold": "/StampB"}
# Glyphs always embedded for personal text: everything a US mailing list and a Spanish date need.
# A file whose letters use other stampable characters gets them added (stamp_font's `extra`).
CHARSET = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x250),
    0x2013,
    0x2014,
    0x2018,
    0x2019,
    0x201C,
    0x201D,
    0x2022,
    0x2026,
    0x2212,
]
_CHARSET_SET = frozenset(map(chr, CHARSET))
PX = 0.75  # CSS px to PDF points


# --- the stamp font -------------------------------------------------------------------------------


@dataclass
class StampFont:
    name: str
    file_bytes: bytes
    gid_hex: dict[str, str]
    widths: dict[int, int]  # gid -> advance in 1/1000 em
    to_unicode: dict[int, int]
    bbox: list[int]
    ascent: int
    descent: int

    def encode(self, text: str) -> str:
        """Glyph ids as hex; KeyError for a character not in the subset (never a substitute)."""
        gid_hex = self.gid_hex
        return "".join([gid_hex[ch] for ch in text])


@lru_cache(maxsize=8)
def stamp_font(weight: str, extra: frozenset[str] = frozenset()) -> StampFont:
    """DejaVu Sans (`weight`) subset to CHARSET plus `extra` characters. Same arguments, same
    bytes."""
    import logging

    from fontTools import subset
    from fontTools.ttLib import TTFont

    logging.getLogger("fontTools").setLevel(
        logging.WARNING
    )  # the subsetter logs every glyph at INFO

    path = FONT_FILES[weight]
    font = TTFont(
        path, recalcTimestamp=False
    )  # head.modified stays the file's: same bytes every run
    cmap = font.getBestCmap()
    units = font["head"].unitsPerEm
    options = subset.Options()
    options.retain_gids = True  # glyph ids stay those of the full font: CID = GID
    options.notdef_outline = True
    options.layout_features = []
    options.name_IDs = ["*"]
    options.hinting = False
    options.drop_tables += [
        "FFTM"
    ]  # FontForge's timestamps: not needed to draw, and the subsetter warns on it
    sub = subset.Subsetter(options)
    charset = sorted({*CHARSET, *map(ord, extra)})
    sub.populate(unicodes=[u for u in charset if u in cmap])
    sub.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    order = {name: gid for gid, name in enumerate(font.getGlyphOrder())}
    hmtx = font["hmtx"]
    gid_hex: dict[str, str] = {}
    widths: dict[int, int] = {}
    to_unicode: dict[int, int] = {}
    for u in charset:
        glyph = cmap.get(u)
        if glyph is None:
            continue
        gid = order[glyph]
        gid_hex[chr(u)] = f"{gid:04X}"
        widths[gid] = round(hmtx[glyph][0] * 1000 / units)
        to_unicode.setdefault(gid, u)
    head, hhea = font["head"], font["hhea"]
    font.close()
    scale = 1000 / units
    return StampFont(
        name=FONT_NAMES[weight],
        file_bytes=buf.getvalue(),
        gid_hex=gid_hex,
        widths=widths,
        to_unicode=to_unicode,
        bbox=[round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)],
        ascent=round(hhea.ascent * scale),
        descent=round(hhea.descent * scale),
    )


def _to_unicode_cmap(mapping: dict[int, int]) -> bytes:
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    items = sorted(mapping.items())
    for i in range(0, len(items), 100):
        chunk = items[i : i + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines.extend(f"<{gid:04X}> <{u:04X}>" for gid, u in chunk)
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode()


# --- a minimal PDF writer -------------------------------------------------------------------------


class PdfOut:
    """Objects written straight to a binary file, with the xref kept as offsets."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.offsets: list[int] = [0]
        self.pos = 0
        self.page_refs: list[int] = []
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self.pages_num = self.alloc()

    def _write(self, data: bytes):
        self.out.write(data)
        self.pos += len(data)

    def alloc(self) -> int:
        self.offsets.append(0)
        return len(self.offsets) - 1

    def obj(self, num: int, body: bytes):
        self.offsets[num] = self.pos
        self._write(b"%d 0 obj\n%s\nendobj\n" % (num, body))

    def stream(self, num: int, data: bytes, extra: bytes = b""):
        self.offsets[num] = self.pos
        self._write(
            b"%d 0 obj\n<< /Length %d %s>>\nstream\n%s\nendstream\nendobj\n"
            % (num, len(data), extra, data)
        )

    def finish(self):
        kids = b" ".join(b"%d 0 R" % n for n in self.page_refs)
        self.obj(
            self.pages_num, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (len(self.page_refs), kids)
        )
        catalog = self.alloc()
        self.obj(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % self.pages_num)
        xref = self.pos
        rows = [b"xref\n0 %d\n0000000000 65535 f \n" % len(self.offsets)]
        rows.extend(b"%010d 00000 n \n" % off for off in self.offsets[1:])
        self._write(b"".join(rows))
        # The ID is derived from the content so that re-building a batch gives identical bytes.
        ident = hashlib.md5(b"%d:%d" % (len(self.offsets), xref)).hexdigest().encode()
        self._write(
            b"trailer\n<< /Size %d /Root %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(self.offsets), catalog, ident, ident, xref)
        )


class _Copier:
    """Copies objects of one source PDF into a PdfOut, renumbering references."""

    def __init__(self, pdf: PdfOut | _PagesRecorder, reader: PdfReader):
        self.pdf = pdf
        self.reader = reader
        self.numbers: dict[int, int] = {}
        self.pending: list[tuple[int, object]] = []

    def ref(self, indirect: IndirectObject) -> int:
        num = self.numbers.get(indirect.idnum)
        if num is None:
            num = self.numbers[indirect.idnum] = self.pdf.alloc()
            self.pending.append((num, indirect.get_object()))
        return num

    def ser(self, obj) -> bytes:
        if isinstance(obj, IndirectObject):
            return b"%d 0 R" % self.ref(obj)
        if isinstance(obj, DictionaryObject):
            items = b" ".join(self.ser(k) + b" " + self.ser(v) for k, v in obj.items())
            return b"<< " + items + b" >>"
        if isinstance(obj, ArrayObject):
            return b"[" + b" ".join(self.ser(v) for v in obj) + b"]"
        buf = io.BytesIO()
        obj.write_to_stream(buf)
        return buf.getvalue()

    def flush(self):
        while self.pending:
            num, obj = self.pending.pop()
            if isinstance(obj, StreamObject):
                raw = obj._data  # still encoded: copied as is, filters kept
                head = {k: v for k, v in obj.items() if k != "/Length"}
                self.pdf.stream(
                    num,
                    raw,
                    b" ".join(self.ser(NameObject(k)) + b" " + self.ser(v) for k, v in head.items())
                    + b" ",
                )
            else:
                self.pdf.obj(num, self.ser(obj))


# --- variants -------------------------------------------------------------------------------------


@dataclass
class FieldBox:
    name: str
    page: int
    x: float
    y: float  # baseline, PDF points from the bottom
    size: float
    weight: str
    color: tuple[float, float, float]


@dataclass
class QrBox:
    page: int
    x: float
    top: float
    width: float


@dataclass
class Variant:
    """A variant's single WeasyPrint render and where its personal fields go."""

    pdf_bytes: bytes
    page_heights: list[float]
    fields: list[FieldBox]
    qr: QrBox | None
    qr_prefix: str
    by_page: dict[int, list[FieldBox]] = field(default_factory=dict)
    value_names: tuple[str, ...] = ()  # the personal_fields keys the letter draws
    # Its pages as copied into a file, recorded once (_PagesTemplate), replayed into each file.
    pages_template: _PagesTemplate | None = field(default=None, repr=False, compare=False)


# Rendered variants by the hash of their HTML, across batches and drops: the same text lays out
# the same, so a notice mailed on several dates (one drop per read cycle) is laid out once. The
# HTML holds every word of the variant, so a changed program, JRC or fee table is a new entry.
_RENDERED: OrderedDict[str, Variant] = OrderedDict()
RENDERED_MAX = 256
_rendered_lock = threading.Lock()


class VariantRenderError(RuntimeError):
    """A variant could not be rendered in a pool worker (the worker died or raised); names the
    variant."""


@dataclass(frozen=True)
class VariantJob:
    """A variant to render: its HTML (personal boxes laid out, not drawn) and what to call it."""

    key: str  # SHA-256 of the QR prefix and the HTML: the cache key
    html: str
    prefix: str
    label: str  # for the glyph check's message: an account and the letter's kind
    name: str  # the variant in words, for errors


def variant_name(req: LetterRequest) -> str:
    _, kind, lang, klass, schedule, product_id, mail_date = variant_key(req)
    product = f"product {product_id}" if product_id else "default product"
    return f"{kind} ({lang}, {klass}, {schedule}, {product}, mail date {mail_date})"


def variant_job(req: LetterRequest, lookups: dict | None = None) -> VariantJob:
    """`lookups`: see context.variant_context (shared by the jobs of one file)."""
    context = variant_context(req, lookups)
    html = letter_html(req, variant=context, stamping=True)
    prefix = opt_out_prefix(context["program"])
    return VariantJob(
        key=hashlib.sha256(f"{prefix}\n{html}".encode()).hexdigest(),
        html=html,
        prefix=prefix,
        label=f"{req.account.account_number} (the {req.kind} letter's own text)",
        name=variant_name(req),
    )


class VariantPool:
    """Worker processes that lay out variants: a variant's render is WeasyPrint on its HTML and
    reads nothing else (no database), so the variants a file needs, or those a caller asks for
    ahead (`variants_render_ahead`), use every core. For one long-lived process with no Celery
    workers to spread a batch's files over (the demo); a batch over Celery workers spreads its
    files instead. Used from one thread."""

    def __init__(self, processes: int):
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: the caller holds a database connection and the executor a thread.
        self.executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=render_worker.worker_init,
        )
        self.pending: dict[str, tuple[Future, VariantJob]] = {}

    def submit(self, job: VariantJob) -> None:
        if job.key not in self.pending:
            future = self.executor.submit(
                render_worker.variant_render, job.html, job.prefix, job.label
            )
            self.pending[job.key] = (future, job)

    def take_back(self, key: str) -> bool:
        """Withdraw a job no worker has started (the caller renders it itself rather than wait
        behind the queue); False if it is running or done."""
        future, _ = self.pending[key]
        if future.cancel():
            del self.pending[key]
            return True
        return False

    def backlog(self) -> bool:
        return any(not f.done() and not f.running() for f, _ in self.pending.values())

    def result(self, key: str) -> Variant:
        future, job = self.pending.pop(key)
        try:
            return future.result()
        except UnprintableText:
            raise  # names the account and the letter's own text, as in this process
        except Exception as exc:
            raise VariantRenderError(
                f"variant {job.name}: not rendered in a worker process: {type(exc).__name__}: {exc}"
            ) from exc

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.pending.clear()


_POOL: VariantPool | None = None


@contextlib.contextmanager
def variant_pool(processes: int | None = None) -> Iterator[VariantPool | None]:
    """Inside, variants are rendered in `processes` worker processes (default: one per core);
    with fewer than two, or inside another pool, in the caller's process as outside. The bytes
    are the same either way (tests/mailers/test_variant_pool.py)."""
    global _POOL
    n = processes if processes is not None else (os.cpu_count() or 1)
    if n < 2 or _POOL is not None:
        yield _POOL
        return
    _POOL = VariantPool(n)
    try:
        yield _POOL
    finally:
        pool, _POOL = _POOL, None
        pool.close()


def variants_render_ahead(requests: Iterable[LetterRequest]) -> int:
    """Queue the variants of `requests` not yet rendered in the open variant pool, to be ready
    when a file needs them; returns how many were queued (none without a pool). A variant is
    found again by its HTML's hash, so one whose text has changed by the time it is needed is
    simply rendered then."""
    pool = _POOL
    if pool is None:
        return 0
    queued = 0
    lookups: dict = {}
    for req in requests:
        job = variant_job(req, lookups)
        with _rendered_lock:
            known = job.key in _RENDERED
        if not known and job.key not in pool.pending:
            pool.submit(job)
            queued += 1
    return queued


def variants_render(jobs: Iterable[VariantJob]) -> dict[str, Variant]:
    """The variants of `jobs` by key, rendering those not rendered yet: in the pool's workers
    when one is open and there is more than one (or they were queued ahead), else here."""
    found: dict[str, Variant] = {}
    todo: dict[str, VariantJob] = {}
    with _rendered_lock:
        for job in jobs:
            variant = _RENDERED.get(job.key)
            if variant is not None:
                _RENDERED.move_to_end(job.key)
                found[job.key] = variant
            elif job.key not in found:
                todo[job.key] = job
    pool = _POOL
    here: list[VariantJob] = []
    waiting: list[str] = []
    if pool is None:
        here = list(todo.values())
    else:
        new = []
        for key, job in todo.items():
            if key not in pool.pending:
                new.append(job)
            elif pool.take_back(key):
                here.append(job)  # queued ahead, not started: quicker here than behind the queue
            else:
                waiting.append(key)
        if len(new) > 1 and not pool.backlog():
            for job in new[1:]:
                pool.submit(job)
                waiting.append(job.key)
            here.append(new[0])  # this process renders one meanwhile
        else:
            here.extend(new)
    rendered = {job.key: variant_render_html(job.html, job.prefix, job.label) for job in here}
    if pool is not None:
        rendered.update({key: pool.result(key) for key in waiting})
    with _rendered_lock:
        for key, variant in rendered.items():
            _RENDERED[key] = variant
        while len(_RENDERED) > RENDERED_MAX:
            _RENDERED.popitem(last=False)
    found.update(rendered)
    return found


def variant_build(req: LetterRequest) -> Variant:
    job = variant_job(req)
    return variants_render([job])[job.key]


def variant_render_html(html: str, prefix: str, label: str) -> Variant:
    """Lay out a variant's HTML with WeasyPrint and read where its personal fields go. Reads
    nothing but its arguments, so a pool worker gives the same Variant as this process."""
    from weasyprint.formatting_structure.boxes import TextBox

    document = weasy_document(html)
    check_rendered(document, account=label)
    fields: dict[str, FieldBox] = {}
    qr = None
    heights = []
    for index, page in enumerate(document.pages):
        height_pt = page.height * PX
        heights.append(height_pt)
        for box in page._page_box.descendants(placeholders=True):
            box = getattr(box, "_box", box)
            element = getattr(box, "element", None)
            name = element.get("data-field") if element is not None else None
            if not name:
                continue
            if name == "qr" and qr is None and not isinstance(box, TextBox):
                qr = QrBox(
                    index,
                    box.content_box_x() * PX,
                    height_pt - box.content_box_y() * PX,
                    box.width * PX,
                )
            elif isinstance(box, TextBox) and name not in fields:
                style = box.style
                color = style["color"]
                weight = "bold" if style["font_weight"] >= 600 else "regular"
                fields[name] = FieldBox(
                    name,
                    index,
                    box.position_x * PX,
                    height_pt - (box.position_y + box.baseline) * PX,
                    style["font_size"] * PX,
                    weight,
                    tuple(color.to("srgb").coordinates[:3]),
                )
    pdf_bytes = document.write_pdf()
    variant = Variant(
        pdf_bytes,
        heights,
        list(fields.values()),
        qr,
        prefix,
        value_names=tuple(dict.fromkeys(name.removeprefix("reply_") for name in fields)),
    )
    for f in variant.fields:
        variant.by_page.setdefault(f.page, []).append(f)
    return variant


@dataclass
class _VariantInFile:
    """A variant's shared objects, once written into one output file."""

    pages: list[tuple[int, int, bytes]]  # (content num, resources num, mediabox)


# Object numbers a recorded copy uses in place of the file's: ten digits, far above any file's
# own numbers, so "N 0 R" references to them are found again exactly when the copy is replayed.
_LOCAL_BASE = 1_000_000_000
_FONT_BASE = 2_000_000_000
_LOCAL_REF = re.compile(rb"\b([12]\d{9}) 0 R")


class _PagesRecorder:
    """Stands in for PdfOut while a variant's pages are copied once: allocations get local
    numbers and writes are kept in order, to be replayed into each file."""

    def __init__(self) -> None:
        self.count = 0
        self.ops: list[tuple[int, bytes, bytes | None, bytes]] = []  # num, body|data, extra
        self.font_refs = {w: _FONT_BASE + i for i, w in enumerate(STAMP_FONT_KEY)}

    def alloc(self) -> int:
        self.count += 1
        return _LOCAL_BASE + self.count - 1

    def obj(self, num: int, body: bytes) -> None:
        self.ops.append((num, body, None, b""))

    def stream(self, num: int, data: bytes, extra: bytes = b"") -> None:
        self.ops.append((num, data, extra, b"stream"))


@dataclass
class _PagesTemplate:
    count: int
    ops: list[tuple[int, bytes, bytes | None, bytes]]
    pages: list[tuple[int, int, bytes]]

    def replay(self, pdf: PdfOut, fonts: dict[str, int]) -> list[tuple[int, int, bytes]]:
        base = len(pdf.offsets)
        for _ in range(self.count):
            pdf.alloc()
        by_font = {_FONT_BASE + i: fonts[w] for i, w in enumerate(STAMP_FONT_KEY)}

        def number(local: int) -> int:
            return by_font[local] if local >= _FONT_BASE else base + local - _LOCAL_BASE

        def refs(body: bytes) -> bytes:
            return _LOCAL_REF.sub(lambda m: b"%d 0 R" % number(int(m.group(1))), body)

        for num, payload, extra, kind in self.ops:
            if kind == b"stream":
                assert extra is not None
                pdf.stream(number(num), payload, refs(extra))  # stream data is never rewritten
            else:
                pdf.obj(number(num), refs(payload))
        return [(number(c), number(r), box) for c, r, box in self.pages]


class LetterRenderer:
    """Writes many letters into one PDF. Keeps rendered variants, so one renderer can write
    several files (e.g. one per notice kind of a mail batch) rendering each variant once."""

    def __init__(self) -> None:
        self.variants: dict[tuple, Variant] = {}
        self.variant_renders = 0
        self.letters_rendered = (
            0  # letters WeasyPrint rendered on their own (glyphs.py RENDER route)
        )

    def prepare(self, requests: Iterable[LetterRequest]) -> None:
        """Render the variants of `requests` this renderer does not have yet, all at once (so in
        the variant pool's workers when one is open)."""
        todo: dict[tuple, LetterRequest] = {}
        for req in requests:
            key = variant_key(req)
            if key not in self.variants and key not in todo:
                todo[key] = req
        if not todo:
            return
        lookups: dict = {}
        jobs = {key: variant_job(req, lookups) for key, req in todo.items()}
        found = variants_render(jobs.values())
        for key, job in jobs.items():
            self.variants[key] = found[job.key]
            self.variant_renders += 1

    def variant(self, req: LetterRequest) -> Variant:
        key = variant_key(req)
        if key not in self.variants:
            self.prepare([req])
        return self.variants[key]

    def write(self, requests: Iterable[LetterRequest], out: BinaryIO) -> int:
        """Write the letters, in the given order, as one PDF to `out`; returns the page count.
        Raises UnprintableText (before writing anything) if a letter has a character that must
        never be printed, or (mid-file) if no installed font has one of its characters."""
        # First pass: each letter's text and route, and the characters the file's font needs.
        plans: list[tuple[LetterRequest, Variant, dict[str, str] | None]] = []
        extra: set[str] = set()
        requests = list(requests)
        self.prepare(requests)
        for req in requests:
            variant = self.variant(req)
            values = personal_fields(req)
            route, chars = letter_route(
                values, variant.value_names, account=req.account.account_number
            )
            if route == STAMP:
                extra |= chars
                plans.append((req, variant, values))
            else:
                plans.append((req, variant, None))
        extra_key = stamp_rows(extra - _CHARSET_SET) - _CHARSET_SET
        fonts = {weight: stamp_font(weight, extra_key) for weight in ("regular", "bold")}

        pdf = PdfOut(out)
        font_refs = self._write_fonts(pdf, fonts)
        in_file: dict[int, _VariantInFile] = {}
        for req, variant, stamp_values in plans:
            if stamp_values is None:
                self._write_rendered_letter(pdf, req, variant, font_refs)
                continue
            shared = in_file.get(id(variant))
            if shared is None:
                shared = in_file[id(variant)] = _VariantInFile(
                    self._variant_pages(pdf, variant, font_refs)
                )
            self._write_letter(pdf, req, variant, shared, stamp_values, fonts)
        pdf.finish()
        return len(pdf.page_refs)

    def _write_fonts(self, pdf: PdfOut, fonts: dict[str, StampFont]) -> dict[str, int]:
        refs = {}
        for weight, font in fonts.items():
            file_num, desc_num, cid_num, tu_num, type0 = (pdf.alloc() for _ in range(5))
            pdf.stream(
                file_num,
                zlib.compress(font.file_bytes, 6),
                b"/Filter /FlateDecode /Length1 %d " % len(font.file_bytes),
            )
            name = b"/AAAAAA+" + font.name.encode()
            pdf.obj(
                desc_num,
                b"<< /Type /FontDescriptor /FontName %s /Flags 32 /FontBBox [%s] /ItalicAngle 0 "
                b"/Ascent %d /Descent %d /CapHeight %d /StemV 80 /FontFile2 %d 0 R >>"
                % (
                    name,
                    " ".join(map(str, font.bbox)).encode(),
                    font.ascent,
                    font.descent,
                    font.ascent,
                    file_num,
                ),
            )
            widths = b" ".join(b"%d [%d]" % (gid, w) for gid, w in sorted(font.widths.items()))
            pdf.obj(
                cid_num,
                b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont %s "
                b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                b"/FontDescriptor %d 0 R /CIDToGIDMap /Identity /W [%s] >>"
                % (name, desc_num, widths),
            )
            pdf.stream(tu_num, _to_unicode_cmap(font.to_unicode))
            pdf.obj(
                type0,
                b"<< /Type /Font /Subtype /Type0 /BaseFont %s /Encoding /Identity-H "
                b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (name, cid_num, tu_num),
            )
            refs[weight] = type0
        return refs

    def _variant_pages(
        self, pdf: PdfOut, variant: Variant, fonts: dict[str, int]
    ) -> list[tuple[int, int, bytes]]:
        """The variant's pages copied into `pdf`: parsed and serialised once per variant, then
        replayed with this file's object numbers (the same bytes as copying them afresh)."""
        if variant.pages_template is None:
            recorder = _PagesRecorder()
            pages = self._write_pages(recorder, variant.pdf_bytes, recorder.font_refs)
            variant.pages_template = _PagesTemplate(recorder.count, recorder.ops, pages)
        return variant.pages_template.replay(pdf, fonts)

    def _write_pages(
        self, pdf: PdfOut | _PagesRecorder, pdf_bytes: bytes, fonts: dict[str, int]
    ) -> list[tuple[int, int, bytes]]:
        """Copy a WeasyPrint PDF's pages' content and resources into `pdf` (stamp fonts added to
        the resources); returns (content num, resources num, mediabox) per page."""
        reader = PdfReader(io.BytesIO(pdf_bytes))
        copier = _Copier(pdf, reader)
        pages = []
        for page in reader.pages:
            contents = page.get_contents()
            # WeasyPrint's first operator flips the y axis outside any q/Q: wrap the page so the
            # stamp that follows starts from the default coordinate system.
            data = b"q\n" + (contents.get_data() if contents is not None else b"") + b"\nQ\n"
            content_num = pdf.alloc()
            pdf.stream(content_num, zlib.compress(data, 6), b"/Filter /FlateDecode ")
            resources = page["/Resources"].get_object()
            assert isinstance(resources, DictionaryObject)  # a page's resources are a dictionary
            font_dict = resources.get("/Font")
            font_items = b""
            if font_dict is not None:
                font_items = b" ".join(
                    copier.ser(NameObject(k)) + b" " + copier.ser(v)
                    for k, v in font_dict.get_object().items()
                )
            stamp_items = b" ".join(
                b"%s %d 0 R" % (STAMP_FONT_KEY[w].encode(), n) for w, n in fonts.items()
            )
            other = b" ".join(
                copier.ser(NameObject(k)) + b" " + copier.ser(v)
                for k, v in resources.items()
                if k != "/Font"
            )
            res_num = pdf.alloc()
            pdf.obj(res_num, b"<< %s /Font << %s %s >> >>" % (other, font_items, stamp_items))
            copier.flush()
            mediabox = b"[" + b" ".join(copier.ser(v) for v in page.mediabox) + b"]"
            pages.append((content_num, res_num, mediabox))
        return pages

    def _write_rendered_letter(
        self, pdf: PdfOut, req: LetterRequest, variant: Variant, fonts: dict[str, int]
    ):
        """A letter the stamp font cannot draw: WeasyPrint renders it whole (checked for missing
        glyphs by letter_pdf) and its pages take the letter's place in the file."""
        pages = self._write_pages(pdf, letter_pdf(req), fonts)
        if len(pages) != len(variant.page_heights):
            # The batch's data file counts pages per variant: a letter may not grow a page.
            raise UnprintableText(
                f"account {req.account.account_number}: rendered on its own the {req.kind} letter "
                f"has {len(pages)} pages, its variant {len(variant.page_heights)}"
            )
        self.letters_rendered += 1
        for content_num, res_num, mediabox in pages:
            page_num = pdf.alloc()
            pdf.obj(
                page_num,
                b"<< /Type /Page /Parent %d 0 R /MediaBox %s /Resources %d 0 R /Contents %d 0 R >>"
                % (pdf.pages_num, mediabox, res_num, content_num),
            )
            pdf.page_refs.append(page_num)

    def _write_letter(
        self,
        pdf: PdfOut,
        req: LetterRequest,
        variant: Variant,
        shared: _VariantInFile,
        values: dict[str, str],
        fonts: dict[str, StampFont],
    ):
        pages_num = pdf.pages_num
        for index, (content_num, res_num, mediabox) in enumerate(shared.pages):
            ops = []
            for f in variant.by_page.get(index, ()):
                text = values.get(f.name.removeprefix("reply_"), "")
                if not text:
                    continue
                try:
                    glyphs = fonts[f.weight].encode(text)
                except (
                    KeyError
                ) as exc:  # letter_route sends such letters to WeasyPrint: a bug if reached
                    raise UnprintableText(
                        f"account {req.account.account_number}: field {f.name!r} has "
                        f"{describe(exc.args[0])}, not in the stamp font"
                    ) from None
                r, g, b = f.color
                ops.append(
                    f"BT {r:.4g} {g:.4g} {b:.4g} rg {STAMP_FONT_KEY[f.weight]} {f.size:.4g} Tf "
                    f"1 0 0 1 {f.x:.3f} {f.y:.3f} Tm <{glyphs}> Tj ET"
                )
            if variant.qr and variant.qr.page == index:
                q = variant.qr
                symbol, size = qr_modules(variant.qr_prefix, req.account.opt_out_code)
                m = q.width / size
                # In module units with y downwards, so each run is four small integers.
                ops.append(f"q 0 0 0 rg {m:.5f} 0 0 {-m:.5f} {q.x:.3f} {q.top:.3f} cm")
                ops.append("".join([f"{c} {r} {n} 1 re\n" for r, c, n in qr_runs(symbol, size)]))
                ops.append("f Q")
            page_num = pdf.alloc()
            if ops:
                stamp_num = pdf.alloc()
                pdf.stream(
                    stamp_num,
                    zlib.compress("\n".join(ops).encode("ascii"), 1),
                    b"/Filter /FlateDecode ",
                )
                contents = b"[%d 0 R %d 0 R]" % (content_num, stamp_num)
            else:
                contents = b"%d 0 R" % content_num
            pdf.obj(
                page_num,
                b"<< /Type /Page /Parent %d 0 R /MediaBox %s /Resources %d 0 R /Contents %s >>"
                % (pages_num, mediabox, res_num, contents),
            )
            pdf.page_refs.append(page_num)


def letters_pdf(
    requests: Iterable[LetterRequest],
    *,
    out: BinaryIO | None = None,
    renderer: LetterRenderer | None = None,
) -> bytes | None:
    """The print-ready PDF of `requests` (in order). Returns the bytes unless `out` is given."""
    renderer = renderer or LetterRenderer()
    if out is not None:
        renderer.write(requests, out)
        return None
    buf = io.BytesIO()
    renderer.write(requests, buf)
    return buf.getvalue()
