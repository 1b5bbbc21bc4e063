"""Which characters of a letter's personal text each renderer can print, and the guard that no
letter goes out with a character of a customer's name or address replaced by "?" or a box.

Three routes per character:

* **stamp** — DejaVu Sans and DejaVu Sans Bold both have the glyph, and drawing it needs no
  shaping (not a combining mark, not right-to-left, not a format control): the fast renderer
  (stamp.py) draws it glyph by glyph, in a font subset widened per file to the characters used;
* **render** — printable, but only WeasyPrint can lay it out: CJK and other scripts DejaVu Sans
  lacks (Pango falls back to another installed font through fontconfig, e.g. Noto Sans CJK), and
  text that needs shaping or bidi. The letter is rendered on its own and then checked for glyphs
  Pango could not find in any font (`missing_glyphs`);
* **never** — control characters, surrogates, private-use and unassigned code points: not a
  character of anyone's name; the letter is refused.

Every refusal raises `UnprintableText` naming the account, the field and the code point:
a batch stops rather than mails a garbled name.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

FONT_FILES = {
    "regular": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "bold": "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
}
STAMP, RENDER = "stamp", "render"
# Bidi classes that need the Unicode bidi algorithm or shaping: stamping draws left to right only.
_LAYOUT_BIDI = frozenset(
    {"R", "AL", "AN", "NSM", "BN", "LRE", "LRO", "RLE", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}
)
_NEVER_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})


class UnprintableText(ValueError):
    """A letter's personal text has a character that would not print as itself."""


@lru_cache(maxsize=1)
def stamp_coverage() -> frozenset[int]:
    """Code points both stamp fonts (regular and bold) have a glyph for."""
    from fontTools.ttLib import TTFont

    covered = []
    for path in FONT_FILES.values():
        with TTFont(path, lazy=True) as font:
            covered.append(set(font.getBestCmap()))
    return frozenset.intersection(*map(frozenset, covered))


_routes: dict[str, str | None] = {}


def char_route(ch: str) -> str | None:
    """STAMP, RENDER, or None for a character no letter may carry."""
    route = _routes.get(ch, "")
    if route != "":
        return route
    category = unicodedata.category(ch)
    if category in _NEVER_CATEGORIES:
        route = None
    elif (
        ord(ch) in stamp_coverage()
        and category[0] != "M"
        and category != "Cf"
        and unicodedata.bidirectional(ch) not in _LAYOUT_BIDI
    ):
        route = STAMP
    else:
        route = RENDER
    _routes[ch] = route
    return route


@lru_cache(maxsize=64)
def _stamp_row(row: int) -> frozenset[str]:
    return frozenset(
        ch for ch in map(chr, range(row << 8, (row + 1) << 8)) if char_route(ch) == STAMP
    )


def stamp_rows(chars) -> frozenset[str]:
    """Every stampable character of the 256-code-point rows `chars` fall in. Subsetting the font
    takes a quarter second; by whole rows, the files of a batch (all with some Vietnamese name,
    say) share one subset instead of each making its own."""
    return frozenset().union(*(_stamp_row(row) for row in {ord(ch) >> 8 for ch in chars}))


def describe(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}"


def letter_route(
    values: dict[str, str], names: tuple[str, ...], *, account: str
) -> tuple[str, set[str]]:
    """How to print one letter whose fields `names` take their text from `values`:
    (STAMP, characters used) or (RENDER, characters used). Raises UnprintableText for a
    character that must never be printed."""
    text = "".join([values.get(n, "") for n in names])
    if text.isascii() and text.isprintable():
        return STAMP, set()  # the common case, decided in C: ASCII printable is in every subset
    chars = set(text)
    route = STAMP
    for ch in chars:
        r = char_route(ch)
        if r is None:
            field = next(n for n in names if ch in values.get(n, ""))
            raise UnprintableText(
                f"account {account}: field {field!r} has {describe(ch)}, which is not a printable "
                f"character; fix the account's data (nothing was printed in its place)"
            )
        if r == RENDER:
            route = RENDER
    return route, chars


def missing_glyphs(document, *, fields_only: bool = False) -> list[tuple[str, str]]:
    """(field, character) for every glyph WeasyPrint's layout has no font for: Pango marks those
    with PANGO_GLYPH_UNKNOWN_FLAG and WeasyPrint would draw a .notdef box. `field` is the box's
    data-field, or "template" for the letter's own text (skipped with `fields_only`)."""
    from weasyprint.formatting_structure.boxes import TextBox
    from weasyprint.text.ffi import ffi, pango

    unknown = pango.PANGO_GLYPH_UNKNOWN_FLAG
    found = []
    for page in document.pages:
        for box in page._page_box.descendants(placeholders=True):
            box = getattr(box, "_box", box)
            if not isinstance(box, TextBox) or not box.text:
                continue
            element = getattr(box, "element", None)
            field = (element.get("data-field") if element is not None else None) or "template"
            if fields_only and field == "template":
                continue
            # After layout WeasyPrint keeps only the text; the drawing code lays the line out
            # again exactly like this, so these are the glyphs that would be drawn.
            box.pango_layout.reactivate(box.style)
            try:
                line, _ = box.pango_layout.get_first_line()
                run = line.runs
                while run != ffi.NULL:
                    glyphs = run.data.glyphs
                    for i in range(glyphs.num_glyphs):
                        glyph = glyphs.glyphs[i].glyph
                        if glyph & unknown and glyph != pango.PANGO_GLYPH_EMPTY:
                            found.append((field, chr(glyph - unknown)))
                    run = run.next
            finally:
                box.pango_layout.deactivate()
    return found


def check_rendered(document, *, account: str, fields_only: bool = False):
    """Raise UnprintableText if the laid-out letter would print any character as a box."""
    missing = missing_glyphs(document, fields_only=fields_only)
    if missing:
        shown = ", ".join(f"{field!r}: {describe(ch)}" for field, ch in dict.fromkeys(missing))
        raise UnprintableText(
            f"account {account}: no installed font has a glyph for {shown}; install a font "
            f"that covers it (Debian: fonts-noto-cjk for Chinese, Japanese, Korean) — "
            f"nothing was printed in its place"
        )
