"""Publication 28 address lines, ZIPs, states and E.164 phones."""

import pytest

from accounts import normalize as N


def test_street_line_is_the_publication_28_line():
    """The cases are in tests/accounts/test_addresses.py; normalize re-exports the function."""
    assert N.street_line("123 North Front Street, Apartment 4") == "123 N FRONT ST APT 4"


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
