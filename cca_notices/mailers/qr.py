"""QR codes for the opt-out link, fast enough to make one per letter at thousands a second.

segno encodes the code of record. Every QR of a program has the same shape: byte mode, the same
URL prefix, a personal code of the same length, one fixed version, error level M and mask 0 (mask
choice only tunes contrast; any mask is valid). The symbol is then an affine function of the code's
bytes over GF(2): Reed-Solomon is linear, masking is an XOR. So we let segno encode a base URL
once and the effect of each single code bit once, and a letter's QR is the base XOR the effects of
the bits in which its code differs from the base's — a dozen big-int XORs instead of ~1 ms of segno.
tests/mailers/test_qr.py checks that the two agree.
"""

from __future__ import annotations

from functools import lru_cache

import segno

ERROR = "m"
MASK = 0


def qr_segno(url: str, version: int | None = None) -> segno.QRCode:
    return segno.make_qr(
        url, error=ERROR, mask=MASK, mode="byte", boost_error=False, version=version
    )


def _to_int(qr: segno.QRCode) -> tuple[int, int]:
    size = len(qr.matrix)
    value = 0
    for r, row in enumerate(qr.matrix):
        for c, dark in enumerate(row):
            if dark:
                value |= 1 << (r * size + c)
    return value, size


class _Family:
    """All QR codes `prefix + code` with codes of one length."""

    def __init__(self, prefix: str, length: int):
        base_code = "0" * length
        base = qr_segno(prefix + base_code)
        # make_qr makes a QR code, whose version is a number (only Micro QR's are "M1"…"M4").
        assert isinstance(base.version, int)
        self.version: int = base.version
        self.base, self.size = _to_int(base)
        self.prefix = prefix.encode()
        self.base_code = base_code.encode()
        # effect[i][v]: what XOR-ing byte i of the code with v changes in the symbol.
        self.effect: list[list[int]] = []
        for i in range(length):
            bits = []
            for b in range(8):
                code = bytearray(self.base_code)
                code[i] ^= 1 << b
                other, _ = _to_int(qr_segno(prefix + code.decode("latin-1"), version=self.version))
                bits.append(other ^ self.base)
            table = [0] * 256
            for v in range(1, 256):
                low = v & -v
                table[v] = table[v ^ low] ^ bits[low.bit_length() - 1]
            self.effect.append(table)

    def symbol(self, code: str) -> int:
        value = self.base
        for i, byte in enumerate(code.encode()):
            diff = byte ^ self.base_code[i]
            if diff:
                value ^= self.effect[i][diff]
        return value


@lru_cache(maxsize=64)
def _family(prefix: str, length: int) -> _Family:
    return _Family(prefix, length)


def qr_modules(prefix: str, code: str) -> tuple[int, int]:
    """(symbol as an int, bit r*size+c set for a dark module; size) of the QR for prefix+code."""
    if not code.isascii():
        qr = qr_segno(prefix + code)
        return _to_int(qr)
    family = _family(prefix, len(code))
    return family.symbol(code), family.size


def qr_runs(symbol: int, size: int) -> list[tuple[int, int, int]]:
    """Horizontal runs of dark modules as (row, first column, length): fewer rectangles to draw."""
    runs = []
    mask = (1 << size) - 1
    for r in range(size):
        bits = (symbol >> (r * size)) & mask
        while bits:
            low = bits & -bits
            start = low.bit_length() - 1
            filled = bits + low  # carries through the run: clears it and sets the bit after
            end = (filled & -filled).bit_length() - 1
            runs.append((r, start, end - start))
            bits &= filled
    return runs


def qr_svg(prefix: str, code: str, *, quiet_zone: int = 0) -> str:
    """The same symbol as an SVG (one path), for the one-by-one render and previews."""
    symbol, size = qr_modules(prefix, code)
    q = quiet_zone
    path = "".join(f"M{c + q} {r + q}h{n}v1h-{n}z" for r, c, n in qr_runs(symbol, size))
    total = size + 2 * q
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total} {total}" '
        f'shape-rendering="crispEdges"><path d="{path}" fill="#000"/></svg>'
    )
