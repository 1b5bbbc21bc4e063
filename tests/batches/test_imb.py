import random

import pytest

from cca_notices.mailers import imb


def test_usps_published_example():
    # USPS-B-3200 Appendix: barcode ID 01, STID 234, MID 567094, serial 987654321,
    # ZIP 01234-5678-91.
    assert imb.encode("01234567094987654321", "01234567891") == (
        "AADTFFDFTDADTAADAATFDTDDAAADDTDTTDAFADADDDTFFFDDTTTADFAAADFTDAADA"
    )


def test_second_known_barcode():
    # Generated with the USPS encoder (PostalPro): 23 / 270 / 592831 / 482031240 / 96713024817.
    assert imb.encode("23270592831482031240", "96713024817") == (
        "DDADATADTAATDTTTDFDTTFTFFADTFTDFTATAAFTTFATDAATATDATATFADAADDTFDT"
    )


@pytest.mark.parametrize("routing", ["", "01234", "012345678", "01234567891"])
def test_every_routing_length_gives_65_bars(routing):
    bars = imb.encode("01234567094987654321", routing)
    assert len(bars) == 65 and set(bars) <= set("ADFT")


def test_serials_change_the_barcode():
    codes = {
        imb.encode(
            imb.tracking_code(barcode_id="00", service_type_id="270", mailer_id="801234", serial=s),
            "92590",
        )
        for s in range(200)
    }
    assert len(codes) == 200


def test_tracking_code_and_capacity():
    assert (
        imb.tracking_code(barcode_id="00", service_type_id="270", mailer_id="123456", serial=42)
        == "00270123456000000042"
    )
    assert (
        imb.tracking_code(barcode_id="00", service_type_id="270", mailer_id="912345678", serial=42)
        == "00270912345678000042"
    )
    assert imb.serial_capacity("123456") == 10**9
    assert imb.serial_capacity("912345678") == 10**6


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("92590-4807", "925904807"),
        ("92590", "92590"),
        ("9259", ""),
        ("92590-48", "92590"),
        ("", ""),
    ],
)
def test_routing_digits(raw, expected):
    assert imb.routing_digits(raw) == expected


@pytest.mark.parametrize(
    "tracking, routing",
    [("0123456709498765432", ""), ("05234567094987654321", ""), ("01234567094987654321", "1234")],
)
def test_bad_input_is_refused(tracking, routing):
    with pytest.raises(imb.ImbError):
        imb.encode(tracking, routing)


SPEC_EXAMPLES = {
    # USPS-B-3200 Appendix C: tracking 01234567094987654321 with each routing length.
    "": "ATTFATTDTTADTAATTDTDTATTDAFDDFADFDFTFFFFFTATFAAAATDFFTDAADFTFDTDT",
    "01234": "DTTAFADDTTFTDTFTFDTDDADADAFADFATDDFTAAAFDTTADFAAATDFDTDFADDDTDFFT",
    "012345678": "ADFTTAFDTTTTFATTADTAAATFTFTATDAAAFDDADATATDTDTTDFDTDATADADTDFFTFA",
    "01234567891": "AADTFFDFTDADTAADAATFDTDDAAADDTDTTDAFADADDDTFFFDDTTTADFAAADFTDAADA",
}


@pytest.mark.parametrize("routing", list(SPEC_EXAMPLES))
def test_usps_specification_examples(routing):
    assert imb.encode("01234567094987654321", routing) == SPEC_EXAMPLES[routing]


def test_the_specification_examples_are_reportlabs_too():
    # The four examples, one per routing length, checked against a second encoder, so a typo in
    # a copied bar string cannot pass as the specification.
    usps4s = pytest.importorskip("reportlab.graphics.barcode.usps4s")
    assert sorted(map(len, SPEC_EXAMPLES)) == [0, 5, 9, 11]
    for routing, bars in SPEC_EXAMPLES.items():
        assert len(bars) == 65
        assert usps4s.USPS_4State("01234567094987654321", routing).barcodes == bars, routing


def test_encoder_agrees_with_reportlab_on_random_inputs():
    usps4s = pytest.importorskip("reportlab.graphics.barcode.usps4s")
    rng = random.Random(3200)
    for _ in range(400):
        mid = (
            f"{rng.randrange(900_000_000, 10**9)}"
            if rng.random() < 0.5
            else f"{rng.randrange(0, 900_000):06d}"
        )
        tracking = imb.tracking_code(
            barcode_id=f"{rng.randrange(10)}{rng.randrange(5)}",
            service_type_id=f"{rng.randrange(1000):03d}",
            mailer_id=mid,
            serial=rng.randrange(imb.serial_capacity(mid)),
        )
        n = rng.choice([0, 5, 9, 11])
        routing = "".join(str(rng.randrange(10)) for _ in range(n))
        expected = usps4s.USPS_4State(tracking, routing).barcodes
        assert imb.encode(tracking, routing) == expected, (tracking, routing)
