"""Delivery address lines as USPS Publication 28 writes them (R-ADDRESS in docs/rules.md).

usaddress (a CRF model trained on US addresses) labels each word of the line: house number,
directional, street name, street type, unit designator, PO box, rural route. Only a word the model
labels as a directional (Pub 28 §233), a street suffix (Appendix C1), a secondary unit designator
(Appendix C2) or a box (§241, §281) is abbreviated; every street-name word is kept as written, in
the order written, so `123 East St` stays `123 EAST ST` while `123 E Street` becomes `123 E ST`,
and `Front`, `Lower`, `Avenue of the Stars` and `El Camino Real` are never shortened.

A street is read the same whatever its house and unit numbers: the words are labelled with each
number written as `9` (the street's shape, `9 MAIN ST APT 9`), and the numbers are then put back
as written, never abbreviated. So `street_line` parses each distinct street once and serves every
house and unit on it from a cache; `street_line_careful` parses every line, without the cache,
and is the definition the cache is tested against. The model reads the numbers themselves only
by their length and trailing zeros, and tests/accounts/test_addresses.py checks that reading them
as `9` changes no line of the table.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import usaddress
from scourgify.address_constants import (
    DIRECTIONAL_REPLACEMENTS,
    OCCUPANCY_TYPE_ABBREVIATIONS,
    STREET_TYPE_ABBREVIATIONS,
)

from accounts.services.values import InvalidValue

# Pub 28 §233: directionals, one or two words.
DIRECTIONALS = {
    **DIRECTIONAL_REPLACEMENTS,
    **{v: v for v in DIRECTIONAL_REPLACEMENTS.values()},
    "NORTH EAST": "NE",
    "NORTH WEST": "NW",
    "SOUTH EAST": "SE",
    "SOUTH WEST": "SW",
}
# Pub 28 Appendix C1: street suffixes (every common and standard form → the standard one).
STREET_TYPES = dict(STREET_TYPE_ABBREVIATIONS)
# Pub 28 Appendix C2: secondary unit designators; scourgify's table with Pub 28's spellings.
UNIT_TYPES = {
    **OCCUPANCY_TYPE_ABBREVIATIONS,
    **{v: v for v in OCCUPANCY_TYPE_ABBREVIATIONS.values()},
    "HANGAR": "HNGR",
    "UPPER": "UPPR",
    "UPPR": "UPPR",
    "APT": "APT",
    "STE": "STE",
    "SPC": "SPC",
    "RM": "RM",
    "FL": "FL",
    "BLDG": "BLDG",
}
# Pub 28 §281 (PO boxes), §241 (rural routes), §251 (highway contract routes).
BOX_TYPES = {"BOX": "BOX", "BX": "BOX"}
BOX_GROUP_TYPES = {
    "RR": "RR",
    "RURAL ROUTE": "RR",
    "RURAL RTE": "RR",
    "RURAL RT": "RR",
    "RT": "RR",
    "RTE": "RR",
    "ROUTE": "RR",
    "HC": "HC",
    "HCR": "HC",
    "HIGHWAY CONTRACT": "HC",
    "HIGHWAY CONTRACT ROUTE": "HC",
    "STAR ROUTE": "HC",
}
_PO_BOX = re.compile(r"^(?:P\s*O|POST\s+OFFICE|POST)\s*(?:BOX|BX)\b|^(?:BOX|BX)\b(?=\s*\w)")
# Pub 28 §212: no punctuation but the hyphen and slash of a house number and the # of a unit.
# Apostrophes go without a space (O'FARRELL → OFARRELL); any other mark is a word break.
_APOSTROPHES = str.maketrans("", "", "'’‘`´")
_BREAKS = re.compile(r"[^\w#/\-&]+")
_SPACES = re.compile(r"\s+")
_EDGE = re.compile(r"^[\-/]+|[\-/]+$")
_LABELS_KEPT = frozenset({"AddressNumber", "AddressNumberSuffix", "StreetName"})
# A line as utilities write it (capitals, digits, spaces): its words are its split(), the words
# _tokens_careful would find.
_PLAIN = re.compile(r"[A-Z0-9 ]*", re.ASCII)
_NUMBER = re.compile(r"(?<!\S)[0-9]+(?!\S)", re.ASCII)  # a word of digits, in a plain line


def _tokens(text: str) -> list[str]:
    if _PLAIN.fullmatch(text):
        return text.split()
    return _tokens_careful(text)


def _tokens_careful(text: str) -> list[str]:
    """The words of the line, upper case and without punctuation, split so that usaddress's
    tokenizer gives them back unchanged (# and & are words of their own)."""
    line = text.upper().translate(_APOSTROPHES)
    if not line.isascii():
        line = unicodedata.normalize("NFC", line)
    line = _BREAKS.sub(" ", line.replace(".", " ").replace("#", " # ").replace("&", " & "))
    words = []
    for word in line.split():
        word = _EDGE.sub("", word)
        if word and (word in ("#", "&") or any(ch.isalnum() for ch in word)):
            words.append(word)
    return words


def _shape(word: str) -> str:
    """A word of ASCII digits as `9`; any other word as it is."""
    return "9" if word.isdigit() and word.isascii() else word


def street_line(text: str) -> str:
    """'123 north Front Street, Apartment 4' → '123 N FRONT ST APT 4' (Pub 28)."""
    if _PLAIN.fullmatch(text):
        # Nearly every line of a utility's file: its street's line with the numbers left out,
        # cached, and the numbers put back in their places.
        return _plain_template(_NUMBER.sub("9", text)).format(*_NUMBER.findall(text))
    words = _tokens(text)
    pieces = _pieces_for_shape(tuple(map(_shape, words)))
    return " ".join(w if p is None else p for w, p in zip(words, pieces, strict=True) if p != "")


def street_line_careful(text: str) -> str:
    """street_line() parsing the line itself, without the cache by street shape: the definition
    street_line() is tested against."""
    words = _tokens_careful(text)
    pieces = _pieces(tuple(_shape(w) for w in words))
    return " ".join(w if p is None else p for w, p in zip(words, pieces, strict=True) if p != "")


@lru_cache(maxsize=1 << 16)
def _plain_template(shape: str) -> str:
    """The line of a plain street shape with a {} where each of its numbers goes."""
    words = shape.split()
    pieces = _pieces_for_shape(tuple(words))
    return " ".join(
        ("{}" if w == "9" else w) if p is None else p
        for w, p in zip(words, pieces, strict=True)
        if p != ""
    )


@lru_cache(maxsize=1 << 17)
def _pieces_for_shape(shape: tuple[str, ...]) -> tuple[str | None, ...]:
    return _pieces(shape)


def _pieces(words: tuple[str, ...]) -> tuple[str | None, ...]:
    """What each word becomes: a string (the empty string drops it) or None (kept as written;
    always so for a word of digits, which is what lets a street shape stand for the street)."""
    if not any(w not in ("#", "&") for w in words):
        raise InvalidValue("is blank")
    po = _PO_BOX.match(" ".join(words))
    if po:
        # "P O BOX 12", "POST OFFICE BOX 12", "BOX 12" → "PO BOX 12" (Pub 28 §281).
        n = len(po.group(0).split())
        return ("PO BOX", *[""] * (n - 1), *[None] * (len(words) - n))
    labels = [label for _, label in usaddress.parse(" ".join(words))]
    if len(labels) != len(words):  # cannot happen with _tokens' words; never guess if it does
        raise InvalidValue("cannot be read as an address line")
    if "StreetName" not in labels:
        # Pub 28 §233: a directional with no other street name is the name ("200 SOUTH ST").
        directional = [i for i, label in enumerate(labels) if "Directional" in label]
        if directional:
            labels[directional[-1]] = "StreetName"
    out: list[str | None] = [None] * len(words)
    i = 0
    while i < len(words):
        j = i + 1
        while j < len(words) and labels[j] == labels[i]:
            j += 1
        _abbreviate(words, labels[i], i, j, out)
        i = j
    return tuple(out)


def _abbreviate(words: tuple[str, ...], label: str, i: int, j: int, out: list[str | None]) -> None:
    """Abbreviate words[i:j], one run of a label, where Pub 28 has a standard form for it."""
    if label in _LABELS_KEPT:
        return
    table = {
        "StreetNamePreDirectional": DIRECTIONALS,
        "StreetNamePostDirectional": DIRECTIONALS,
        "StreetNamePostType": STREET_TYPES,
        "OccupancyType": UNIT_TYPES,
        "SubaddressType": UNIT_TYPES,
        "USPSBoxType": BOX_TYPES,
        "USPSBoxGroupType": BOX_GROUP_TYPES,
    }.get(label)
    if table is None:
        return
    run = " ".join(words[i:j])
    standard = table.get(run) or table.get(run.replace(" ", ""))
    if standard is not None:
        out[i] = standard
        for k in range(i + 1, j):
            out[k] = ""
        return
    # The run may hold more than the one word the label is about ("ST APT" read as one type).
    for k in range(i, j):
        if not words[k].isdigit():
            out[k] = table.get(words[k])
