"""Confirmation letters greet the customer as people write the name (R-NAMES) and print the
address block as stored, in USPS upper case (R-ADDRESS): never `Po Box` or `1St St`."""

import pytest

from optouts.models import Confirmation
from optouts.services.letters import letter_context


@pytest.mark.parametrize(
    "name, shown",
    [
        ("JOSÉ GARCÍA-LÓPEZ", "José García-López"),
        ("MARIA DE LA CRUZ", "Maria de la Cruz"),
        ("ACME SOLAR LLC", "Acme Solar LLC"),
    ],
)
def test_confirmation_letter_names_and_addresses(terminate, name, shown):
    terminate(
        customer_name=name,
        mailing_address="PO BOX 12",
        mailing_city="SAN RAFAEL",
        service_address="100 1ST ST APT 4",
    )
    ctx = letter_context(confirmation=Confirmation.objects.filter(kind="termination").get())
    assert ctx["name"] == shown
    assert ctx["address"][:2] == [name, "PO BOX 12"]
    assert ctx["address"][2].startswith("SAN RAFAEL CA ")
    assert ctx["service_address"].startswith("100 1ST ST APT 4, ")
