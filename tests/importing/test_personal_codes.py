"""The one generator of personal codes (accounts/services/personal_codes.py)."""

from collections import Counter

from django.db import models

from accounts.models import ServiceAccount
from accounts.services.personal_codes import (
    CODE_ALPHABET,
    CODE_LENGTH,
    personal_code_new,
    personal_codes_new,
)
from optouts.forms import LookupForm


def test_codes_are_uniform_crockford_characters_of_the_printed_length():
    codes = personal_codes_new(4096)
    assert len(codes) == 4096 and len(set(codes)) == 4096
    assert all(len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET) for code in codes)
    counts = Counter("".join(codes))
    assert len(counts) == 32 and all(abs(n - 1280) < 200 for n in counts.values())  # σ ≈ 35
    assert not set(CODE_ALPHABET) & set("ILOU")  # unambiguous when read over the phone
    one = personal_code_new()
    assert len(one) == CODE_LENGTH and set(one) <= set(CODE_ALPHABET)


def test_a_code_fits_the_account_field_and_the_opt_out_form():
    field = ServiceAccount._meta.get_field("opt_out_code")
    assert isinstance(field, models.CharField) and field.max_length >= CODE_LENGTH
    assert LookupForm.base_fields["code"].max_length >= CODE_LENGTH
