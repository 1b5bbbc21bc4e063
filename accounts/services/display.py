"""Dates, money and phone numbers as a customer reads them, in the active language.

One place for letters, pages, e-mail, SMS and the IVR. Words (month names) and separators come
from Django's locale formats (cca_notices/formats/<lang>/formats.py over Django's own), so a new
language needs its translation and, at most, a formats file — no table here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import formats, translation

# Telephone numbers have one display rule, beside their validation.
from accounts.services.contact import phone_display  # noqa: F401  (re-exported)


def long_date(day: dt.date | None, lang: str | None = None) -> str:
    """'January 5, 2027' / '5 de enero de 2027' (the active language unless `lang` is given)."""
    if day is None:
        return ""
    with translation.override(lang or translation.get_language()):
        return formats.date_format(day, "DATE_FORMAT", use_l10n=True)


def money(value: Decimal | None, lang: str | None = None) -> str:
    """'$1,234.50', with a true minus for credits ('−$6.25')."""
    if value is None:
        return ""
    with translation.override(lang or translation.get_language()):
        number = formats.number_format(abs(Decimal(value)), 2, use_l10n=True, force_grouping=True)
    return f"{'−' if value < 0 else ''}${number}"
