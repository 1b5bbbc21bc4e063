"""Variants laid out in the pool's worker processes are the variants laid out here, byte for byte;
a variant a worker cannot render stops with an error naming it; a variant's pages copied into a
file from its recorded copy are the bytes of copying them afresh."""

import dataclasses
import datetime as dt
import io

import pytest

from cca_notices.mailers import stamp
from cca_notices.mailers.context import LetterRequest
from cca_notices.mailers.stamp import (
    LetterRenderer,
    PdfOut,
    VariantRenderError,
    variant_job,
    variant_pool,
    variants_render,
    variants_render_ahead,
)

MAIL_DATE = dt.date(2027, 1, 4)


@pytest.fixture(autouse=True)
def _no_rendered_variants(monkeypatch):
    # Each test starts with no variant rendered in this process.
    monkeypatch.setattr(stamp, "_RENDERED", type(stamp._RENDERED)())


@pytest.fixture
def requests_three(make_account):
    """Three letters of three variants (language, class, kind)."""
    accounts = [
        make_account(language="en", customer_name="ALPHA ONE", opt_out_code="AAAAAAAAA1"),
        make_account(language="es", customer_name="JOSÉ MUÑOZ", opt_out_code="BBBBBBBBB2"),
        make_account(
            customer_name="CHARLIE THREE",
            opt_out_code="CCCCCCCCC3",
            customer_class="small_commercial",
            rate_schedule="TOU-GS-1",
        ),
    ]
    kinds = ["pre_enrollment_1", "pre_enrollment_1", "post_enrollment_1"]
    return [
        LetterRequest(a, k, MAIL_DATE, f"P{i:08d}")
        for i, (a, k) in enumerate(zip(accounts, kinds, strict=True))
    ]


def _file(requests) -> tuple[bytes, list[bytes]]:
    renderer = LetterRenderer()
    buf = io.BytesIO()
    renderer.write(requests, buf)
    return buf.getvalue(), [renderer.variant(r).pdf_bytes for r in requests]


def _count_here(monkeypatch) -> list[str]:
    """The variants rendered in this process (a worker's renders are not seen here)."""
    here: list[str] = []
    real = stamp.variant_render_html

    def counted(html, prefix, label):
        here.append(label)
        return real(html, prefix, label)

    monkeypatch.setattr(stamp, "variant_render_html", counted)
    return here


@pytest.mark.needs("harfbuzz-subset")  # byte-identical output
def test_pool_renders_the_same_bytes_as_this_process(requests_three, monkeypatch):
    serial_file, serial_variants = _file(requests_three)

    monkeypatch.setattr(stamp, "_RENDERED", type(stamp._RENDERED)())
    here = _count_here(monkeypatch)
    with variant_pool(2) as pool:
        assert pool is not None
        pooled_file, pooled_variants = _file(requests_three)
    # One variant laid out here while the workers laid out the other two.
    assert len(here) == 1
    assert pooled_variants == serial_variants
    assert pooled_file == serial_file


@pytest.mark.needs("harfbuzz-subset")  # byte-identical output
def test_variants_rendered_ahead_are_used_by_the_file(requests_three, monkeypatch):
    serial_file, _ = _file(requests_three)

    monkeypatch.setattr(stamp, "_RENDERED", type(stamp._RENDERED)())
    with variant_pool(2) as pool:
        assert variants_render_ahead(requests_three) == 3
        assert variants_render_ahead(requests_three) == 0  # queued once
        assert set(pool.pending) == {variant_job(r).key for r in requests_three}
        pooled_file, _ = _file(requests_three)
        assert not pool.pending
    assert pooled_file == serial_file


def test_without_a_pool_nothing_is_rendered_ahead(requests_three, monkeypatch):
    here = _count_here(monkeypatch)
    with variant_pool(1) as pool:
        assert pool is None
        assert variants_render_ahead(requests_three) == 0
        _file(requests_three)
    assert len(here) == 3  # each rendered here, when the file needed it


def test_a_variant_a_worker_cannot_render_names_the_variant(requests_three):
    good = variant_job(requests_three[0])
    broken = dataclasses.replace(
        variant_job(requests_three[2]), html=None
    )  # WeasyPrint refuses a document with no input
    with variant_pool(2), pytest.raises(VariantRenderError) as raised:
        variants_render([good, broken])
    message = str(raised.value)
    assert message.startswith(f"variant {broken.name}: not rendered in a worker process")
    assert "post_enrollment_1 (en, small_commercial, TOU-GS-1" in message
    assert broken.key not in stamp._RENDERED  # nothing half-kept


def test_recorded_pages_replay_to_the_bytes_of_a_fresh_copy(requests_three):
    renderer = LetterRenderer()
    variant = renderer.variant(requests_three[0])

    def one_file(copy) -> bytes:
        buf = io.BytesIO()
        pdf = PdfOut(buf)
        pdf.alloc()  # the file's own objects come first, so the copy starts at another number
        fonts = {"regular": 1, "bold": 2}
        copy(pdf, fonts)
        copy(pdf, fonts)  # and again further on: replayed with the numbers of that place
        pdf.finish()
        return buf.getvalue()

    fresh = one_file(lambda pdf, fonts: renderer._write_pages(pdf, variant.pdf_bytes, fonts))
    replayed = one_file(lambda pdf, fonts: renderer._variant_pages(pdf, variant, fonts))
    assert variant.pages_template is not None
    assert replayed == fresh
