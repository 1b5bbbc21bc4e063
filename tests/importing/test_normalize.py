"""Publication 28 address lines, ZIPs, states and E.164 phones."""

import pytest

from accounts import normalize as N


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("123 north Main Street, Apartment 4", "123 N MAIN ST APT 4"),
        ("45 Sir Francis Drake Boulevard", "45 SIR FRANCIS DRAKE BLVD"),
        ("9 Avenue Road", "9 AVENUE RD"),  # only the last word is a suffix
        ("77 Park", "77 PARK"),  # a two-word line has no suffix to abbreviate
        ("1 Oak Avenue South", "1 OAK AVE S"),  # post-directional
        ("500 W. 5th St., Suite 200", "500 W 5TH ST STE 200"),
        ("12 Elm Court #3", "12 ELM CT # 3"),
        ("P.O. Box 1234", "PO BOX 1234"),
        ("Post Office Box 9", "PO BOX 9"),
        ("  88   Main   St  ", "88 MAIN ST"),
    ],
)
def test_street_line(raw, expected):
    assert N.street_line(raw) == expected


def test_blank_street_line_is_an_error():
    with pytest.raises(N.InvalidValue, match="is blank"):
        N.street_line(" , ")


@pytest.mark.parametrize(
    "raw, expected", [("94901", "94901"), ("94901-1234", "94901-1234"), ("949011234", "94901-1234")]
)
def test_zip(raw, expected):
    assert N.zip_code(raw) == expected


@pytest.mark.parametrize("raw", ["9490", "94901-12", "ABCDE", ""])
def test_bad_zip(raw):
    with pytest.raises(N.InvalidValue, match="is not a ZIP code"):
        N.zip_code(raw)


def test_state_by_code_or_name():
    assert N.state("ca") == "CA" and N.state("California") == "CA" and N.state("Nev.") == "NV"
    with pytest.raises(N.InvalidValue, match="not a US state"):
        N.state("Cascadia")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("(415) 555-0123", "+14155550123"),
        ("415.555.0123", "+14155550123"),
        ("1-415-555-0123", "+14155550123"),
        ("+1 415 555 0123", "+14155550123"),
        ("+44 20 7946 0018", "+442079460018"),
        ("", ""),
    ],
)
def test_phone(raw, expected):
    assert N.phone_e164(raw) == expected


@pytest.mark.parametrize("raw", ["555", "(115) 555-0123", "call me"])
def test_bad_phone(raw):
    with pytest.raises(N.InvalidValue):
        N.phone_e164(raw)


def test_customer_key_ignores_spacing_and_punctuation_of_the_name():
    a = N.customer_key("María  López", "1 MAIN ST", "94901-1234")
    assert a == N.customer_key("MARÍA LÓPEZ", "1 MAIN ST", "94901")
    assert a == N.customer_key("Maria Lopez", "1 MAIN ST", "94901")
    assert a != N.customer_key("María López", "2 MAIN ST", "94901")
