"""USPS Intelligent Mail barcode (IMb, USPS-B-3200): the 65-bar string a mail house prints.

The tracking code is 20 digits — barcode ID (2, second digit 0–4), service type ID (3), mailer ID
(6 or 9) and serial (9 or 6) — and the routing code is the ZIP (0, 5, 9 or 11 digits). The bars
come out as letters: F full, A ascender, D descender, T tracker (the USPS font's input).

No maintained PyPI package does this, so the spec's steps are here: the number is built from the
digits, an 11-bit CRC (frame check sequence) is taken over it, it is split into ten codewords,
each codeword becomes a 13-bit character (5-of-13 or 2-of-13 tables), and the characters' bits are
spread over the 65 bars by the spec's bar table (Table IV). A batch of a million pieces encodes a
million barcodes, so the last two steps go through small precomputed tables (a few µs a piece).
tests/batches/test_imb.py checks the USPS published example.
"""

from __future__ import annotations

from functools import lru_cache

# USPS-B-3200 Table IV: for bar i, the character and bit of its descender and of its ascender.
_DESC_CHAR = (
    7,
    1,
    9,
    5,
    8,
    0,
    2,
    4,
    6,
    3,
    5,
    8,
    9,
    7,
    3,
    0,
    6,
    1,
    7,
    4,
    6,
    8,
    9,
    2,
    5,
    1,
    7,
    5,
    4,
    3,
    8,
    7,
    6,
    0,
    2,
    5,
    4,
    9,
    3,
    0,
    1,
    6,
    8,
    2,
    0,
    4,
    5,
    9,
    6,
    7,
    5,
    2,
    6,
    3,
    8,
    5,
    1,
    9,
    8,
    7,
    4,
    0,
    2,
    6,
    3,
)
_DESC_BIT = (
    2,
    10,
    12,
    5,
    9,
    1,
    5,
    4,
    3,
    9,
    11,
    5,
    10,
    1,
    6,
    3,
    4,
    1,
    10,
    0,
    2,
    11,
    8,
    6,
    1,
    12,
    3,
    8,
    6,
    4,
    4,
    11,
    0,
    6,
    1,
    9,
    11,
    5,
    3,
    7,
    3,
    10,
    7,
    11,
    8,
    2,
    10,
    3,
    5,
    8,
    0,
    3,
    12,
    11,
    8,
    4,
    5,
    1,
    3,
    0,
    7,
    12,
    9,
    8,
    10,
)
_ASC_CHAR = (
    4,
    0,
    2,
    6,
    3,
    5,
    1,
    9,
    8,
    7,
    1,
    2,
    0,
    6,
    4,
    8,
    2,
    9,
    5,
    3,
    0,
    1,
    3,
    7,
    4,
    6,
    8,
    9,
    2,
    0,
    5,
    1,
    9,
    4,
    3,
    8,
    6,
    7,
    1,
    2,
    4,
    3,
    9,
    5,
    7,
    8,
    3,
    0,
    2,
    1,
    4,
    0,
    9,
    1,
    7,
    0,
    2,
    4,
    6,
    3,
    7,
    1,
    9,
    5,
    8,
)
_ASC_BIT = (
    3,
    0,
    8,
    11,
    1,
    12,
    8,
    11,
    10,
    6,
    4,
    12,
    2,
    7,
    9,
    6,
    7,
    9,
    2,
    8,
    4,
    0,
    12,
    7,
    10,
    9,
    0,
    7,
    10,
    5,
    7,
    9,
    6,
    8,
    2,
    12,
    1,
    4,
    2,
    0,
    1,
    5,
    4,
    6,
    12,
    1,
    0,
    9,
    4,
    7,
    5,
    10,
    2,
    6,
    9,
    11,
    2,
    12,
    6,
    7,
    5,
    11,
    0,
    3,
    2,
)
_BAR = "TDAF"  # index: ascender * 2 + descender
_POLY = 0x0F35


class ImbError(ValueError):
    pass


def _reverse13(v: int) -> int:
    return int(f"{v:013b}"[::-1], 2)


def _n_of_13(n: int, length: int) -> list[int]:
    """The spec's N-of-13 character table: pairs of mirror images from the bottom, palindromes
    from the top."""
    table = [0] * length
    lower, upper = 0, length - 1
    for count in range(8192):
        if count.bit_count() != n:
            continue
        rev = _reverse13(count)
        if rev < count:
            continue
        if rev == count:
            table[upper] = count
            upper -= 1
        else:
            table[lower] = count
            table[lower + 1] = rev
            lower += 2
    return table


@lru_cache(maxsize=1)
def _tables() -> tuple[list[int], list[list[int]], list[list[int]], list[str], list[int]]:
    chars = _n_of_13(5, 1287) + _n_of_13(2, 78)
    # Per character position j, where its 13 bits land among the 130 bar bits (bar i: descender
    # at bit 2i, ascender at 2i+1), split into a low 7-bit and a high 6-bit lookup.
    spread: list[list[int]] = [[0] * 13 for _ in range(10)]
    for i in range(65):
        spread[_DESC_CHAR[i]][_DESC_BIT[i]] |= 1 << (2 * i)
        spread[_ASC_CHAR[i]][_ASC_BIT[i]] |= 1 << (2 * i + 1)
    low: list[list[int]] = []
    high: list[list[int]] = []
    for j in range(10):
        low.append([_or_bits(spread[j], v, 0) for v in range(128)])
        high.append([_or_bits(spread[j], v, 7) for v in range(64)])
    # Five bars (10 bits) at a time to letters.
    five = ["".join(_BAR[(v >> (2 * k)) & 3] for k in range(5)) for v in range(1024)]
    crc = []
    for b in range(256):
        reg = b << 3
        for _ in range(8):
            reg = ((reg << 1) ^ _POLY) if reg & 0x400 else (reg << 1)
            reg &= 0x7FF
        crc.append(reg)
    return chars, low, high, five, crc


def _or_bits(masks: list[int], value: int, shift: int) -> int:
    out = 0
    for k in range(13 - shift if shift else 7):
        if value >> k & 1:
            out |= masks[k + shift]
    return out


def imb_serial_width(mailer_id: str) -> int:
    """Digits of the serial: the mailer ID and the serial share 15 (a 6-digit ID leaves 9)."""
    return 15 - len(mailer_id)


def tracking_code(*, barcode_id: str, service_type_id: str, mailer_id: str, serial: int) -> str:
    """The 20 tracking digits. The serial takes the digits the mailer ID leaves (9 or 6)."""
    return f"{barcode_id}{service_type_id}{mailer_id}{serial:0{imb_serial_width(mailer_id)}d}"


def serial_capacity(mailer_id: str) -> int:
    return 10 ** imb_serial_width(mailer_id)


def routing_digits(zip_code: str) -> str:
    """ZIP, ZIP+4 or ZIP+4+delivery point from an address's ZIP field ('' if it has none)."""
    digits = "".join(ch for ch in zip_code or "" if ch.isdigit())
    if len(digits) in (5, 9, 11):
        return digits
    return digits[:5] if len(digits) >= 5 else ""


def _fcs(value: int) -> int:
    crc_table = _tables()[4]
    data = value.to_bytes(13, "big")
    reg = 0x7FF
    first = data[0] << 5  # only the 6 low bits of the first byte carry data (102 bits in all)
    for _ in range(6):
        reg = ((reg << 1) ^ _POLY) if (reg ^ first) & 0x400 else (reg << 1)
        reg &= 0x7FF
        first <<= 1
    for byte in data[1:]:
        reg = ((reg << 8) & 0x7FF) ^ crc_table[((reg >> 3) ^ byte) & 0xFF]
    return reg


def validate(tracking: str, routing: str) -> None:
    if len(tracking) != 20 or not tracking.isdigit():
        raise ImbError(f"tracking code must be 20 digits, got {tracking!r}")
    if tracking[1] not in "01234":
        raise ImbError(f"the second digit of the barcode ID must be 0–4, got {tracking[:2]!r}")
    if routing and (len(routing) not in (5, 9, 11) or not routing.isdigit()):
        raise ImbError(f"routing code must be 5, 9 or 11 digits, got {routing!r}")


def encode(tracking: str, routing: str = "") -> str:
    """The 65 bar letters (A, D, F, T) for a 20-digit tracking code and a routing ZIP."""
    validate(tracking, routing)
    chars, low, high, five, _ = _tables()
    n = len(routing)
    value = 0 if n == 0 else int(routing) + (1 if n == 5 else 100001 if n == 9 else 1000100001)
    value = (value * 10 + int(tracking[0])) * 5 + int(tracking[1])
    value = value * 10**18 + int(tracking[2:])
    fcs = _fcs(value)
    value, j = divmod(value, 636)
    cw = [0] * 10
    cw[9] = j * 2
    for k in range(8, 0, -1):
        value, cw[k] = divmod(value, 1365)
    cw[0] = value + (659 if fcs & 0x400 else 0)
    bars = 0
    for k in range(10):
        c = chars[cw[k]]
        if fcs >> k & 1:
            c ^= 0x1FFF
        bars |= low[k][c & 0x7F] | high[k][c >> 7]
    return "".join([five[(bars >> s) & 0x3FF] for s in range(0, 130, 10)])
