"""Field normalisation for utility files and staff corrections, one function per field.

Address lines (USPS Publication 28) are accounts.services.addresses', telephone numbers and
e-mail addresses accounts.services.contact's; they are re-exported here so the import, moves and
the admin name one module.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from hashlib import sha1

from scourgify.address_constants import STATE_ABBREVIATIONS

from accounts.services.addresses import street_line, street_line_careful
from accounts.services.contact import phone_e164, phone_e164_careful
from accounts.services.values import InvalidValue

__all__ = [
    "InvalidValue",
    "city",
    "customer_key",
    "person_name",
    "phone_e164",
    "phone_e164_careful",
    "state",
    "state_careful",
    "street_line",
    "street_line_careful",
    "zip_code",
]

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
_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
_KEY_JUNK = re.compile(r"[^A-Z0-9]+")


def _clean(text: str) -> str:
    text = text.upper().replace(".", " ").replace(",", " ")
    return _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip()


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
    """'José García-López' → 'JOSEGARCIALOPEZ', '王小明' stays '王小明': accents and punctuation go,
    letters of every script stay (dropping non-ASCII would give every Chinese or Korean name the
    same empty key). Names repeat across a file (hence the cache)."""
    plain = name.upper()
    if plain.isascii():
        return _KEY_JUNK.sub("", plain)
    # NFKD splits an accented letter into the letter and its combining mark, which is not alnum.
    return "".join(ch for ch in unicodedata.normalize("NFKD", plain) if ch.isalnum())
