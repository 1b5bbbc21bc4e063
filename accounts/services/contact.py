"""Telephone numbers and e-mail addresses: one rule for every route (R-CONTACT in docs/rules.md).

The import (both its paths), the admin's contact correction, the agent screen, the API, the move
file and the letters all call these, so a number the admin refuses is refused everywhere. A
telephone number is valid when the `phonenumbers` library (Google's libphonenumber metadata) says
it can exist: `911 555 0123` and `555 234 5678` have no such area code. An e-mail address is valid
when Django's EmailValidator accepts it.
"""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from accounts.services.values import InvalidValue

PHONE_REGION = "US"


# A US geographic number, by libphonenumber's own patterns: one that matches them is valid (a
# fixed-line number is a valid type); any other goes to is_valid_number (tests/accounts/
# test_contact.py checks the shortcut never says valid where is_valid_number does not).
def _us_pattern(desc: str) -> re.Pattern[str]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("US")
    assert metadata is not None  # the library's own region
    pattern = getattr(metadata, desc).national_number_pattern
    assert isinstance(pattern, str)
    return re.compile(pattern)


_US_NUMBER = _us_pattern("general_desc")
_US_FIXED_LINE = _us_pattern("fixed_line")
# No allowlist: `x@localhost` (Django allows it by default) cannot reach a customer.
_email_validator = EmailValidator(allowlist=[])
# A subset of what EmailValidator accepts (plain ASCII dot-atoms at a plain domain): the import's
# fast path; anything else goes to the validator itself (tests/accounts/test_contact.py).
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}",
    re.IGNORECASE | re.ASCII,
)


def phone_e164(text: str, region: str = PHONE_REGION) -> str:
    """E.164, or '' for a blank value. The usual NANP spellings skip the parser's text handling
    but not its verdict: the number is checked against the same metadata."""
    digits = _nanp_digits(text.strip())
    if not digits:
        return phone_e164_careful(text, region)
    if _US_FIXED_LINE.fullmatch(digits) and _US_NUMBER.fullmatch(digits):
        return "+1" + digits
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(digits))
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue(f"'{text}' is not a valid telephone number")
    return "+1" + digits


def phone_e164_careful(text: str, region: str = PHONE_REGION) -> str:
    """phone_e164() through phonenumbers.parse for every value: the definition."""
    raw = text.strip()
    if not raw:
        return ""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(f"'{text}' is not a telephone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidValue(f"'{text}' is not a valid telephone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _nanp_digits(raw: str) -> str:
    """The ten digits of a number written the usual ways ('(951) 555-0123', '951-555-0123',
    '9515550123', '+1 951 555 0123'), or '' for anything else (phonenumbers.parse then decides)."""
    plain = raw.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
    if len(plain) == 12 and plain.startswith("+1"):
        plain = plain[2:]
    elif len(plain) == 11 and plain[0] == "1":
        plain = plain[1:]
    if (
        len(plain) == 10
        and plain.isdigit()
        and plain.isascii()
        and plain[0] not in "01"
        and plain[3] not in "01"
    ):
        return plain
    return ""


def phone_display(number: str) -> str:
    """+18005550100 → (800) 555-0100, as customers dial it (letters, e-mails, the agent screen);
    a value that is not a number is shown as stored."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, PHONE_REGION)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def email_address(text: str) -> str:
    """The address with its domain in lower case, or '' for a blank value."""
    raw = text.strip()
    if _PLAIN_EMAIL.fullmatch(raw) and len(raw) <= 254:
        local, _, domain = raw.rpartition("@")
        return f"{local}@{domain.lower()}"
    return email_address_careful(text)


def email_address_careful(text: str) -> str:
    """email_address() through Django's EmailValidator for every value: the definition."""
    raw = text.strip()
    if not raw:
        return ""
    if len(raw) > 254:  # RFC 5321's limit, and the model's column
        raise InvalidValue("is longer than 254 characters")
    try:
        _email_validator(raw)
    except ValidationError as exc:
        raise InvalidValue(f"'{text}' is not an e-mail address") from exc
    local, _, domain = raw.rpartition("@")
    return f"{local}@{domain.lower()}"
