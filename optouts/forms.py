from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Channel
from accounts.validators import ContactEmailField, PhoneNumberField
from optouts.models import ReturnPath
from optouts.services.lookup import normalise_account_number, normalise_zip


class LookupForm(forms.Form):
    account_number = forms.CharField(
        label=_("Account number"),
        max_length=40,
        required=False,
        help_text=_(
            "The service account number (SA ID) printed on your notice or your utility bill."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )
    zip_code = forms.CharField(
        label=_("Service ZIP code"),
        max_length=10,
        required=False,
        help_text=_("The ZIP code where you receive electric service (5 digits)."),
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "inputmode": "numeric"}),
    )
    code = forms.CharField(
        label=_("Personal code from your notice"),
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("code"):
            return data
        number = normalise_account_number(data.get("account_number", ""))
        zip5 = normalise_zip(data.get("zip_code", ""))
        if not number:
            self.add_error("account_number", _("Enter your account number."))
        elif not (6 <= len(number) <= 32):
            self.add_error(
                "account_number", _("An account number has 6 to 32 digits. Check your bill.")
            )
        if not zip5:
            self.add_error("zip_code", _("Enter the ZIP code of your service address."))
        elif len(zip5) != 5:
            self.add_error("zip_code", _("Enter a 5-digit ZIP code."))
        return data


class ConfirmForm(forms.Form):
    t = forms.CharField(widget=forms.HiddenInput)
    return_path = forms.ChoiceField(
        choices=ReturnPath.choices, required=False, widget=forms.RadioSelect
    )
    contact_email = ContactEmailField(
        label=_("E-mail for your confirmation (optional)"),
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


AGENT_CHANNELS = [
    (Channel.PHONE, Channel.PHONE.label),
    (Channel.REPLY_CARD, Channel.REPLY_CARD.label),
    (Channel.UTILITY_TRANSFER, Channel.UTILITY_TRANSFER.label),
    (Channel.EMAIL, Channel.EMAIL.label),
]


class AgentSearchForm(forms.Form):
    q = forms.CharField(label="Account number, name, phone or address", max_length=200)


class AgentRecordForm(forms.Form):
    channel = forms.ChoiceField(choices=AGENT_CHANNELS, initial=Channel.PHONE)
    return_path = forms.ChoiceField(
        choices=[("", "—"), *ReturnPath.choices],
        required=False,
        help_text="Only after the free window: the customer's way back to the utility.",
    )
    moving_out = forms.BooleanField(
        required=False, label="Customer is moving out of the territory (no fee)"
    )
    contact_email = ContactEmailField(required=False)
    contact_phone = PhoneNumberField(required=False, max_length=32)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ReplyCardBatchForm(forms.Form):
    lines = forms.CharField(
        label="Account numbers from returned reply cards, one per line",
        widget=forms.Textarea(attrs={"rows": 12, "cols": 40, "autofocus": True}),
        help_text="Scan or type one account number per line; the piece ID printed on the card "
        "works too.",
    )
