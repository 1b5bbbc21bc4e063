"""The stamped letters look and read the same as the one-by-one WeasyPrint render."""

import datetime as dt
import io
import subprocess

import pytest
from PIL import Image, ImageChops
from pypdf import PdfReader

from cca_notices.mailers.context import LetterRequest
from cca_notices.mailers.render import letter_pdf
from cca_notices.mailers.stamp import LetterRenderer, letters_pdf

pytestmark = pytest.mark.needs("poppler")
DPI = 50


def raster(pdf: bytes, tmp_path, name: str) -> list[Image.Image]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-gray", "-r", str(DPI), str(path), str(tmp_path / name)], check=True
    )
    return [Image.open(p).convert("L") for p in sorted(tmp_path.glob(f"{name}-*.pgm"))]


def pdftotext(pdf: bytes, tmp_path, name: str) -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def split_pages(pdf: bytes, start: int, count: int) -> bytes:
    from pypdf import PdfWriter

    reader, writer = PdfReader(io.BytesIO(pdf)), PdfWriter()
    for i in range(start, start + count):
        writer.add_page(reader.pages[i])
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_stamped_letters_match_one_by_one(make_account, tmp_path):
    accounts = [
        make_account(language="en", customer_name="MARIA L GONZALEZ", opt_out_code="K7QX2M9PLA"),
        make_account(
            language="es",
            customer_name="JOSÉ ÁNGEL MUÑOZ PEÑA",
            mailing_address="77 CALLE DEL SOL",
            opt_out_code="Z2B4C6D8E0",
        ),
        make_account(
            language="en",
            customer_name="WIDE WALLACE WOMACK WMW",
            opt_out_code="WWWWWWWWWW",
            customer_class="small_commercial",
            rate_schedule="TOU-GS-1",
        ),
    ]
    kinds = ["pre_enrollment_1", "post_enrollment_2", "post_enrollment_1"]
    requests = [
        LetterRequest(a, k, dt.date(2027, 1, 4), f"P{i:08d}")
        for i, (a, k) in enumerate(zip(accounts, kinds, strict=True))
    ]
    renderer = LetterRenderer()
    batch = letters_pdf(requests, renderer=renderer)
    assert renderer.variant_renders == 3
    reader = PdfReader(io.BytesIO(batch))
    assert len(reader.pages) == 9

    for i, req in enumerate(requests):
        naive = letter_pdf(req)
        fast = split_pages(batch, i * 3, 3)
        a, b = raster(naive, tmp_path, f"naive{i}"), raster(fast, tmp_path, f"fast{i}")
        assert len(a) == len(b) == 3
        for page, (x, y) in enumerate(zip(a, b, strict=True)):
            assert x.size == y.size
            diff = ImageChops.difference(x, y)
            # Anti-aliasing may differ at glyph edges; count pixels that differ by more than that.
            changed = sum(diff.point(lambda v: 255 if v > 64 else 0).histogram()[255:])
            share = changed / (x.size[0] * x.size[1])
            assert share < 0.002, f"letter {i} page {page + 1}: {share:.4%} of pixels differ"
        assert (
            pdftotext(naive, tmp_path, f"n{i}").split()
            == pdftotext(fast, tmp_path, f"f{i}").split()
        )


def test_stamp_draws_each_recipient(make_account):
    """A shared variant: both letters carry their own name, code and account, not each other's."""
    a = make_account(customer_name="ALPHA ONE", opt_out_code="AAAAAAAAA1")
    b = make_account(customer_name="BRAVO TWO", opt_out_code="BBBBBBBBB2")
    renderer = LetterRenderer()
    pdf = letters_pdf(
        [
            LetterRequest(x, "pre_enrollment_2", dt.date(2027, 1, 4), str(n))
            for n, x in enumerate((a, b))
        ],
        renderer=renderer,
    )
    assert renderer.variant_renders == 1
    pages = PdfReader(io.BytesIO(pdf)).pages
    first = pages[0].extract_text() + pages[2].extract_text()
    second = pages[3].extract_text() + pages[5].extract_text()
    assert "ALPHA ONE" in first and "AAAAAAAAA1" in first and a.account_number in first
    assert "BRAVO TWO" in second and "BBBBBBBBB2" in second and "ALPHA" not in second
