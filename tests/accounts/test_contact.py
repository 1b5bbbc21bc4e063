"""One rule per contact field (R-CONTACT): phonenumbers for telephones, Django's EmailValidator
for e-mail, the same answer on every route and on the import's fast path."""

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from hypothesis import example, given, settings
from hypothesis import strategies as st

from accounts.services import contact
from accounts.services.values import InvalidValue
from accounts.validators import ContactEmailField, PhoneNumberField

TRICKY_PHONES = [
    "(415) 555-0123",
    "415.555.0123",
    "1-415-555-0123",
    "+1 415 555 0123",
    "+14155550123",
    "(911) 555-0123",  # no area code 911
    "911-555-0123",
    "555-234-5678",  # no area code 555
    "(415) 155-0123",  # an exchange never starts with 1
    "(415) 055-0123",
    "015-555-0123",
    "+1 800 555 1212",
    "(900) 555-0123",
    "+44 20 7946 0018",
    "+52 55 1234 5678",
    "555-0123",
    "4155550123x12",
    "415 555 0123 ext 4",
    "((415)) 555-0123",
    "+11 415 555 0123",
    "1 (415) 555-0123",
    "call me",
    "",
    " ",
    "٤١٥٥٥٥٠١٢٣",
]
TRICKY_EMAILS = [
    "maria@example.org",
    "Maria.Lopez@Example.ORG",
    "m+notices@example.co.uk",
    "maria@@example.org",
    "maria..lopez@example.org",
    ".maria@example.org",
    "maria.@example.org",
    "maria@-example.org",
    "maria@example-.org",
    "maria@example",
    "maria@localhost",
    "maria@[192.168.0.1]",
    "maría@example.org",
    "maria@exämple.org",
    "maria lopez@example.org",
    '"maria lopez"@example.org',
    "maria@example.c0m",
    "maria@123.45.67.89",
    "a" * 250 + "@example.org",
    "",
    " maria@example.org ",
]


def outcome(fn, value):
    try:
        return "ok", fn(value)
    except InvalidValue as exc:
        return "error", str(exc)


@pytest.mark.parametrize("value", TRICKY_PHONES)
def test_phone_fast_path_is_the_careful_path(value):
    assert outcome(contact.phone_e164, value) == outcome(contact.phone_e164_careful, value)


@pytest.mark.parametrize("value", TRICKY_EMAILS)
def test_email_fast_path_is_the_careful_path(value):
    assert outcome(contact.email_address, value) == outcome(contact.email_address_careful, value)


@pytest.mark.parametrize("value", [e for e in TRICKY_EMAILS if e.strip()])
def test_email_is_what_djangos_validator_says(value):
    """Django's EmailValidator, without its `localhost` allowance (no customer's mailbox)."""
    try:
        EmailValidator(allowlist=[])(value.strip())
        django_ok = len(value.strip()) <= 254
    except ValidationError:
        django_ok = False
    assert (outcome(contact.email_address, value)[0] == "ok") == django_ok


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(st.sampled_from(list("0123456789+-() .x")), max_size=18))
@example("2015550123")
def test_phone_paths_agree_on_generated_values(value):
    assert outcome(contact.phone_e164, value) == outcome(contact.phone_e164_careful, value)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(st.sampled_from(list("abZ09._+-@éx'\" [].")), max_size=24))
@example("a@b.co")
def test_email_paths_agree_on_generated_values(value):
    assert outcome(contact.email_address, value) == outcome(contact.email_address_careful, value)


@pytest.mark.parametrize(
    "value, expected",
    [("(415) 555-0123", "+14155550123"), ("", ""), ("+44 20 7946 0018", "+442079460018")],
)
def test_form_field_stores_e164(value, expected):
    assert PhoneNumberField(required=False).clean(value) == expected


@pytest.mark.parametrize("value", ["(911) 555-0123", "555-234-5678", "hello"])
def test_form_field_refuses_what_the_import_refuses(value):
    with pytest.raises(ValidationError):
        PhoneNumberField(required=False).clean(value)
    with pytest.raises(InvalidValue):
        contact.phone_e164(value)


def test_email_field_lowers_the_domain_only():
    assert ContactEmailField(required=False).clean("Maria@Example.ORG") == "Maria@example.org"
    with pytest.raises(ValidationError):
        ContactEmailField(required=False).clean("maria@@example.org")


def test_phone_display_is_how_customers_dial_it():
    assert contact.phone_display("+18005550100") == "(800) 555-0100"
    assert contact.phone_display("") == ""
    assert contact.phone_display("not a number") == "not a number"


def test_the_us_shortcut_never_accepts_what_phonenumbers_refuses():
    """phone_e164 accepts a US geographic number by libphonenumber's own patterns without asking
    is_valid_number; over every area code and a spread of exchanges the two agree."""
    import random

    import phonenumbers

    rng = random.Random(14)
    for npa in range(200, 1000):
        for _ in range(12):
            digits = f"{npa}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            number = phonenumbers.PhoneNumber(country_code=1, national_number=int(digits))
            assert outcome(contact.phone_e164, digits)[0] == (
                "ok" if phonenumbers.is_valid_number(number) else "error"
            ), digits


def test_a_dotless_domain_is_refused():
    for value in ("maria@localhost", "x@intranet"):
        assert outcome(contact.email_address, value)[0] == "error"
