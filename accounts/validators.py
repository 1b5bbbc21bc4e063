"""Field validators shared by the model (so the admin refuses) and the program-file loader."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def mailer_id_validate(value: str) -> None:
    """A USPS Mailer ID (USPS-B-3200): 6 digits not starting with 9, or 9 digits starting with 9.
    The leading digit is how a reader tells the two apart, so a 6-digit ID beginning with 9
    would be read as the start of a 9-digit one. Blank means "not set"."""
    mid = value or ""
    if not mid:
        return
    if not mid.isdigit() or len(mid) not in (6, 9):
        raise ValidationError(
            f"{mid!r} is not a USPS Mailer ID: it has 6 or 9 digits", code="mailer_id"
        )
    if len(mid) == 6 and mid[0] == "9":
        raise ValidationError(
            f"{mid!r}: a 6-digit USPS Mailer ID never starts with 9 (000000–899999)",
            code="mailer_id",
        )
    if len(mid) == 9 and mid[0] != "9":
        raise ValidationError(
            f"{mid!r}: a 9-digit USPS Mailer ID always starts with 9 (900000000–999999999)",
            code="mailer_id",
        )
