"""One letter at a time with WeasyPrint: the reference render, used for previews and as the
baseline the fast renderer (stamp.py) must match."""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string

from cca_notices.mailers.context import (
    LetterRequest,
    opt_out_prefix,
    personal_fields,
    variant_context,
)
from cca_notices.mailers.glyphs import check_rendered, letter_route
from cca_notices.mailers.qr import qr_svg

CSS_PATH = Path(settings.BASE_DIR) / "static" / "mailers" / "letter.css"


@lru_cache(maxsize=1)
def font_config():
    """One per process: building one reads the system's font list, half the time of a one-page
    letter. The stylesheets use system fonts only (no @font-face), so nothing accumulates in it;
    the PDF bytes are the same as with a fresh one."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@lru_cache(maxsize=1)
def _stylesheet():
    from weasyprint import CSS

    return CSS(filename=str(CSS_PATH))


def letter_template(kind: str, lang: str) -> str:
    return f"mailers/{lang}/{kind}.html"


def letter_html(req: LetterRequest, *, variant: dict | None = None, stamping: bool = False) -> str:
    """The letter as HTML. With `stamping`, personal boxes keep their place but are not drawn."""
    v = variant or variant_context(req)
    if stamping:
        p = dict.fromkeys(personal_fields(req), "X")  # any one-line text: only its box is used
        qr = ""
    else:
        p = personal_fields(req)
        svg = qr_svg(opt_out_prefix(v["program"]), req.account.opt_out_code)
        qr = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return render_to_string(
        letter_template(v["kind"], v["lang"]), {"v": v, "p": p, "qr_svg": qr, "stamping": stamping}
    )


def weasy_document(html: str):
    from weasyprint import HTML

    return HTML(string=html, base_url=str(CSS_PATH.parent)).render(
        stylesheets=[_stylesheet()], font_config=font_config()
    )


def letter_pdf(req: LetterRequest) -> bytes:
    """One letter, rendered on its own (about 5 a second: use stamp.letters_pdf for batches).
    Raises glyphs.UnprintableText rather than print any character of it as a box."""
    values = personal_fields(req)
    letter_route(
        values, tuple(values), account=req.account.account_number
    )  # refuses control characters
    document = weasy_document(letter_html(req))
    check_rendered(document, account=req.account.account_number, fields_only=True)
    return document.write_pdf()
