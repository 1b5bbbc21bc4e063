"""Field normalisation for utility files: USPS Publication 28 addresses, E.164 phones.

The abbreviation tables are usaddress-scourgify's (taken from Publication 28); the address is
tokenised here rather than parsed by scourgify's CRF model because a million-row file must load
in seconds, and a utility's service addresses are already split into line, city and ZIP.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from hashlib import sha1

import phonenumbers
from scourgify.address_constants import (
    DIRECTIONAL_REPLACEMENTS,
    OCCUPANCY_TYPE_ABBREVIATIONS,
    STATE_ABBREVIATIONS,
    STREET_TYPE_ABBREVIATIONS,
)

DIRECTIONALS = {**DIRECTIONAL_REPLACEMENTS, **{v: v for v in DIRECTIONAL_REPLACEMENTS.values()}}
SUFFIXES = {k: v for k, v in STREET_TYPE_ABBREVIATIONS.items() if " " not in k}
# Pub 28 §213: secondary unit designators; the short forms map to themselves.
UNITS = {
    **OCCUPANCY_TYPE_ABBREVIATIONS,
    **{v: v for v in OCCUPANCY_TYPE_ABBREVIATIONS.values()},
    "APT.": "APT",
    "STE.": "STE",
    "NO": "#",
    "NO.": "#",
}
STATES = frozenset(STATE_ABBREVIATIONS.values()) | {
    "DC",
    "PR",
    "GU",
    "VI",
    "AS",
    "MP",
    "AA",
    "AE",
    "AP",
}
STATE_NAMES = {**STATE_ABBREVIATIONS, **{s: s for s in STATES}}

_PUNCT = re.compile(r"[^\w#/\- ]+")
_SPACES = re.compile(r"\s+")
_PO_BOX = re.compile(r"^(?:P\s*O|POST\s+OFFICE)\s*(?:BOX|BX)\b|^BOX\b")
_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
_NANP = re.compile(r"^(?:\+?1)?([2-9]\d{2}[2-9]\d{6})$")
_PHONE_JUNK = re.compile(r"[\s().\-]+")
_KEY_JUNK = re.compile(r"[^A-Z0-9]+")


class InvalidValue(ValueError):
    """A value that cannot be normalised; the message says why, for a reject report."""


def _clean(text: str) -> str:
    text = text.upper().replace(".", " ").replace(",", " ")
    return _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip()


def street_line(text: str) -> str:
    """'123 north Main Street, Apartment 4' → '123 N MAIN ST APT 4' (Pub 28 style)."""
    # Streets repeat; house and apartment numbers vary. _clean keeps ASCII digits and the space
    # beside them as they are, no table holds a token of digits, and no rule moves the first or the
    # last token, so a line normalises as it does with those numbers set to 0, the numbers then
    # put back: one cached result serves every house and apartment on the street.
    house, _, rest = text.partition(" ")
    if rest and house.isdigit() and house.isascii():
        return house + _with_last_number("0 " + rest)[1:]
    return _with_last_number(text)


def street_line_careful(text: str) -> str:
    """street_line() without the house-number shortcut: the definition it is tested against."""
    return _pub28_street_line(text)


def _with_last_number(text: str) -> str:
    street, _, number = text.rpartition(" ")
    if street and number.isdigit() and number.isascii():
        return _pub28_street_line(street + " 0")[:-1] + number
    return _pub28_street_line(text)


@lru_cache(maxsize=65536)
def _pub28_street_line(text: str) -> str:
    line = _clean(text)
    if not line:
        raise InvalidValue("is blank")
    if _PO_BOX.match(line):
        return _PO_BOX.sub("PO BOX", line, count=1)
    tokens = line.split(" ")
    unit: list[str] = []
    for i, tok in enumerate(tokens):
        # A unit designator after the street part starts the secondary address ("APT 4", "# 4").
        if i >= 2 and tok in UNITS:
            unit = [UNITS[tok], *tokens[i + 1 :]]
            tokens = tokens[:i]
            break
        if i >= 2 and tok.startswith("#") and len(tok) > 1:
            unit = ["#", tok[1:], *tokens[i + 1 :]]
            tokens = tokens[:i]
            break
    end = len(tokens)
    if end >= 3 and tokens[-1] in DIRECTIONALS:  # post-directional
        tokens[-1] = DIRECTIONALS[tokens[-1]]
        end -= 1
    if end >= 3 and tokens[end - 1] in SUFFIXES:  # street suffix, never the street name itself
        tokens[end - 1] = SUFFIXES[tokens[end - 1]]
    if len(tokens) >= 3 and tokens[1] in DIRECTIONALS:  # pre-directional after the house number
        tokens[1] = DIRECTIONALS[tokens[1]]
    return " ".join(tokens + unit)


@lru_cache(maxsize=8192)
def city(text: str) -> str:
    value = _clean(text)
    if not value:
        raise InvalidValue("is blank")
    return value


def state(text: str) -> str:
    if text in STATES:  # already a USPS code: _clean would give it back unchanged
        return text
    return state_careful(text)


def state_careful(text: str) -> str:
    """state() without the shortcut for a USPS code: the definition it is tested against."""
    value = STATE_NAMES.get(_clean(text))
    if value is None:
        raise InvalidValue(f"'{text}' is not a US state or territory")
    return value


@lru_cache(maxsize=16384)
def zip_code(text: str) -> str:
    m = _ZIP.match(text.strip())
    if not m:
        raise InvalidValue(f"'{text}' is not a ZIP code (12345 or 12345-6789)")
    return f"{m[1]}-{m[2]}" if m[2] else m[1]


def phone_e164(text: str, region: str = "US") -> str:
    """E.164, or '' for a blank value. NANP numbers take a fast path; anything else goes
    through the phonenumbers library, which also rejects numbers that cannot exist."""
    digits = _nanp_digits(text.strip())
    if digits:
        return "+1" + digits
    return phone_e164_careful(text, region)


def phone_e164_careful(text: str, region: str = "US") -> str:
    """phone_e164() without the shortcut for the usual NANP spellings: the definition it is
    tested against."""
    raw = text.strip()
    if not raw:
        return ""
    m = _NANP.match(_PHONE_JUNK.sub("", raw))
    if m:
        return "+1" + m[1]
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(f"'{text}' is not a telephone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidValue(f"'{text}' is not a valid telephone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _nanp_digits(raw: str) -> str:
    """The ten digits of a number written the usual ways ('(951) 555-0123', '951-555-0123',
    '9515550123', '+1 951 555 0123'), or '' for anything else (the regex then decides).
    Only characters _PHONE_JUNK would drop are removed, so a hit is what _NANP would match."""
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


def person_name(text: str) -> str:
    value = text.strip()
    if "  " in value or "\t" in value or "\n" in value:
        value = _SPACES.sub(" ", value)
    if not value:
        raise InvalidValue("is blank")
    return value


def customer_key(name: str, service_address: str, service_zip: str) -> str:
    """Identity of a customer at a premises, independent of the account number: the same
    person at the same normalised address whatever accents, punctuation or spacing the file used."""
    basis = f"{_name_in_key(name)}|{service_address}|{service_zip[:5]}"
    return sha1(basis.encode()).hexdigest()


@lru_cache(maxsize=65536)
def _name_in_key(name: str) -> str:
    """'José García-López' → 'JOSEGARCIALOPEZ'; names repeat across a file (hence the cache)."""
    plain = name.upper()
    if not plain.isascii():
        plain = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode()
    return _KEY_JUNK.sub("", plain)
