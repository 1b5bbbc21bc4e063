"""The personal code printed on each mailer: typed on the web form or read to the IVR, it alone
opts a customer out, so it is drawn from `secrets` (never `random` or a database's random()).

Ten characters of Crockford's base-32 alphabet (50 random bits); the opt-out form reads up to 12
characters and upper-cases them. Uniqueness is the database's unique constraint: a caller that
meets a clash draws again.
"""

from __future__ import annotations

import secrets

# Crockford's base-32 alphabet: no I, L, O or U, so a code read over the phone is unambiguous.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
# A random byte's low five bits pick a character: 256 is a multiple of 32, so all are equally
# likely, and bytes.translate makes a million codes in a fraction of a second.
_BYTE_TO_CODE = bytes(CODE_ALPHABET.encode()[b % 32] for b in range(256))


def personal_codes_new(n: int) -> list[str]:
    """`n` fresh personal codes (not checked against the database)."""
    text = secrets.token_bytes(CODE_LENGTH * n).translate(_BYTE_TO_CODE).decode()
    return [text[i : i + CODE_LENGTH] for i in range(0, len(text), CODE_LENGTH)]


def personal_code_new() -> str:
    """One fresh personal code (not checked against the database)."""
    return personal_codes_new(1)[0]
