"""Field validators and form fields shared by the models, the admin, the agent screen and the
program-file loader: each calls the one rule for its field (contacts: accounts.services.contact)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from accounts.services import contact
from accounts.services.values import InvalidValue


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


class PhoneNumberField(forms.CharField):
    """A telephone number as every route takes it (accounts.services.contact.phone_e164): the
    E.164 form, or '' when left blank."""

    def clean(self, value):
        value = super().clean(value)
        try:
            return contact.phone_e164(value or "")
        except InvalidValue as exc:
            raise ValidationError(
                f"{exc} (US numbers need the area code, e.g. (415) 555-0123).", code="phone"
            ) from None


class ContactEmailField(forms.EmailField):
    """An e-mail address as every route takes it (Django's EmailValidator, through
    accounts.services.contact.email_address)."""

    def clean(self, value):
        value = super().clean(value)
        try:
            return contact.email_address(value or "")
        except InvalidValue as exc:
            raise ValidationError(str(exc), code="invalid") from None
