"""Customers' names print as themselves: Vietnamese stamped from a widened font subset, Chinese and
Korean rendered whole by WeasyPrint's font fallback, and a guard that refuses instead of printing
"?" or a box (cca_notices/mailers/glyphs.py)."""

import datetime as dt
import io
import shutil
import subprocess
import unicodedata

import pytest
from PIL import ImageChops
from pypdf import PdfReader

from cca_notices.mailers import glyphs
from cca_notices.mailers.context import LetterRequest
from cca_notices.mailers.glyphs import UnprintableText
from cca_notices.mailers.render import letter_pdf
from cca_notices.mailers.stamp import LetterRenderer, letters_pdf, stamp_font
from cca_notices.mailers.views import notice_preview_url
from tests.factories import letter_previewer
from tests.mailers.test_stamp import pdftotext, raster, split_pages

MAIL_DATE = dt.date(2027, 1, 4)
VIETNAMESE = "NGUYỄN THỊ HƯỜNG"
CHINESE = "王小明"
KOREAN = "김민준"


needs_cjk_font = pytest.mark.needs("cjk-font")
needs_poppler = pytest.mark.needs("poppler")


def plain_text(pdf: bytes, tmp_path, name: str) -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


@needs_poppler
def test_vietnamese_name_is_stamped_exactly_and_looks_like_the_one_by_one_render(
    make_account, tmp_path
):
    a = make_account(
        language="vi",
        customer_name=unicodedata.normalize("NFD", VIETNAMESE),  # as keyed, decomposed
        mailing_address="1234 ĐƯỜNG TRẦN HƯNG ĐẠO",
        opt_out_code="V1E2T3N4A5",
    )
    b = make_account(customer_name="PLAIN ASCII NEIGHBOUR")
    renderer = LetterRenderer()
    req = LetterRequest(a, "post_enrollment_1", MAIL_DATE, "P00000001")
    batch = letters_pdf(
        [req, LetterRequest(b, "post_enrollment_1", MAIL_DATE, "P00000002")], renderer=renderer
    )
    assert renderer.letters_rendered == 0  # stamped: DejaVu Sans has every glyph

    text = plain_text(split_pages(batch, 0, 3), tmp_path, "vi")
    assert VIETNAMESE in text  # composed (NFC), on the window and the reply form
    assert text.count(VIETNAMESE) >= 2
    assert "1234 ĐƯỜNG TRẦN HƯNG ĐẠO" in text
    assert "Dear Nguyễn Thị Hường," in text
    neighbour = plain_text(split_pages(batch, 3, 3), tmp_path, "ascii")
    assert "PLAIN ASCII NEIGHBOUR" in neighbour
    assert text.count("?") == neighbour.count("?")  # only the template's own ("Questions?")

    naive = letter_pdf(req)
    for page, (x, y) in enumerate(
        zip(
            raster(naive, tmp_path, "naive"),
            raster(split_pages(batch, 0, 3), tmp_path, "fast"),
            strict=True,
        )
    ):
        changed = sum(
            ImageChops.difference(x, y).point(lambda v: 255 if v > 64 else 0).histogram()[255:]
        )
        assert changed / (x.size[0] * x.size[1]) < 0.002, f"page {page + 1} differs"
    assert (
        pdftotext(naive, tmp_path, "n").split()
        == pdftotext(split_pages(batch, 0, 3), tmp_path, "f").split()
    )


def test_font_subset_widens_only_for_files_that_need_it():
    base = stamp_font("regular")
    assert "ễ" not in base.gid_hex
    wide = stamp_font("regular", glyphs.stamp_rows({"ễ"}))
    assert {"ễ", "Ạ", "ỹ"} <= set(wide.gid_hex)  # the whole Latin Extended Additional row
    assert set(base.gid_hex) <= set(wide.gid_hex)
    assert all(
        wide.gid_hex[ch] == gid for ch, gid in base.gid_hex.items()
    )  # glyph ids are the full font's


@needs_poppler
@needs_cjk_font
def test_chinese_and_korean_names_are_rendered_whole_among_stamped_letters(make_account, tmp_path):
    zh = make_account(language="zh", customer_name=CHINESE, opt_out_code="Z1H2O3N4G5")
    ko = make_account(language="ko", customer_name=KOREAN, opt_out_code="K1O2R3E4A5")
    en = make_account(customer_name="MARIA L GONZALEZ", opt_out_code="E1N2G3L4I5")
    renderer = LetterRenderer()
    requests = [
        LetterRequest(x, "pre_enrollment_1", MAIL_DATE, f"P{i:08d}")
        for i, x in enumerate((en, zh, ko))
    ]
    batch = letters_pdf(requests, renderer=renderer)
    assert renderer.letters_rendered == 2 and renderer.variant_renders == 1
    assert (
        len(PdfReader(io.BytesIO(batch)).pages) == 9
    )  # each letter as many pages as its variant, in order

    texts = [plain_text(split_pages(batch, i * 3, 3), tmp_path, f"l{i}") for i in range(3)]
    assert "MARIA L GONZALEZ" in texts[0] and CHINESE not in texts[0]
    assert CHINESE in texts[1] and "Z1H2O3N4G5" in texts[1] and zh.account_number in texts[1]
    assert f"Dear {CHINESE}," in texts[1]
    assert KOREAN in texts[2] and "K1O2R3E4A5" in texts[2]
    assert (
        texts[1].count("?") == texts[2].count("?") == texts[0].count("?")
    )  # only the template's own

    path = tmp_path / "batch.pdf"
    path.write_bytes(batch)
    fonts = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "CJK" in fonts  # drawn in a real CJK font, not as .notdef boxes


@needs_cjk_font
@pytest.mark.needs("harfbuzz-subset")
def test_mixed_file_is_byte_identical_when_built_again(make_account, monkeypatch):
    accounts = [make_account(customer_name=name) for name in (VIETNAMESE, CHINESE, "JOHN SMITH")]
    requests = [
        LetterRequest(a, "pre_enrollment_2", MAIL_DATE, str(i)) for i, a in enumerate(accounts)
    ]
    first = letters_pdf(requests)
    stamp_font.cache_clear()
    monkeypatch.setattr("fontTools.ttLib.tables._h_e_a_d.timestampNow", lambda: 4_000_000_000)
    again = letters_pdf(requests)
    stamp_font.cache_clear()
    assert again == first


def test_control_character_is_refused_before_anything_is_written(make_account):
    bad = make_account(customer_name="JOHN\x07SMITH")
    good = make_account(customer_name="JANE SMITH")
    out = io.BytesIO()
    with pytest.raises(
        UnprintableText, match=rf"account {bad.account_number}: field 'name' has U\+0007"
    ):
        LetterRenderer().write(
            [
                LetterRequest(good, "pre_enrollment_1", MAIL_DATE),
                LetterRequest(bad, "pre_enrollment_1", MAIL_DATE),
            ],
            out,
        )
    assert out.getvalue() == b""
    with pytest.raises(UnprintableText):
        letter_pdf(LetterRequest(bad, "pre_enrollment_1", MAIL_DATE))


def test_stamper_raises_instead_of_substituting(make_account, monkeypatch):
    """Were a letter ever routed to the stamp font with a glyph it lacks, it fails, not prints
    "?"."""
    a = make_account(customer_name=CHINESE)
    monkeypatch.setattr(
        "cca_notices.mailers.stamp.letter_route",
        lambda values, names, *, account: (glyphs.STAMP, set()),
    )
    with pytest.raises(
        UnprintableText, match=rf"account {a.account_number}: field 'name' has U\+738B"
    ):
        letters_pdf([LetterRequest(a, "pre_enrollment_1", MAIL_DATE)])


def test_character_no_installed_font_has_is_refused(make_account, client):
    """Egyptian hieroglyphs: no font here has them, so WeasyPrint would draw a box."""
    if (
        shutil.which("fc-list")
        and subprocess.run(
            ["fc-list", ":charset=13000"], capture_output=True, text=True, check=False
        ).stdout.strip()
    ):
        pytest.skip("a font with Egyptian hieroglyphs is installed")
    a = make_account(customer_name="ANKH \U00013000 NEFER")
    with pytest.raises(
        UnprintableText,
        match=rf"account {a.account_number}: no installed font has a glyph for 'name': U\+13000",
    ):
        letters_pdf([LetterRequest(a, "pre_enrollment_1", MAIL_DATE)])

    client.force_login(letter_previewer())
    response = client.get(notice_preview_url(a.pk, "pre_enrollment_1") + "?mail_date=2027-01-04")
    assert response.status_code == 422 and b"U+13000" in response.content


def test_routes():
    assert (
        glyphs.char_route("a") == glyphs.char_route("ễ") == glyphs.char_route("Ж") == glyphs.STAMP
    )
    # CJK (DejaVu Sans lacks it), Arabic (needs shaping and bidi), a lone combining mark:
    # WeasyPrint.
    assert (
        glyphs.char_route("王")
        == glyphs.char_route("ع")
        == glyphs.char_route("\u0301")
        == glyphs.RENDER
    )
    assert glyphs.char_route("\x07") is None and glyphs.char_route("\ue000") is None
