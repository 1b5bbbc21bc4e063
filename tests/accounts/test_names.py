"""Names as people write them (R-NAMES): utilities send capitals, letters greet people."""

import pytest

from accounts.services.names import name_display


@pytest.mark.parametrize(
    "stored, shown",
    [
        # Spanish compound surnames, accents, particles
        ("JOSÉ GARCÍA-LÓPEZ", "José García-López"),
        ("MARÍA GARCÍA Y LÓPEZ", "María García y López"),
        ("MARIA DE LA CRUZ", "Maria de la Cruz"),
        ("DE LA CRUZ", "De la Cruz"),
        ("ANA DE LOS ÁNGELES", "Ana de los Ángeles"),
        ("JUAN DEL RÍO", "Juan del Río"),
        ("MARIA LUISA GARCÍA DE LOS SANTOS", "Maria Luisa García de los Santos"),
        ("MARIA LA ROSA", "Maria La Rosa"),  # LA alone begins the surname
        ("JOSÉ NÚÑEZ", "José Núñez"),
        # Mc / Mac, O' / D'
        ("JOHN MCDONALD", "John McDonald"),
        ("ANGUS MACDONALD", "Angus MacDonald"),
        ("DOUGLAS MACARTHUR", "Douglas MacArthur"),
        ("LUIS MACHADO", "Luis Machado"),
        ("JAMES MACIAS", "James Macias"),
        ("ELIZABETH MACKEY", "Elizabeth Mackey"),
        ("SEAN O'BRIEN", "Sean O'Brien"),
        ("JEAN-PIERRE D'ARCY", "Jean-Pierre D'Arcy"),
        # Dutch and German particles
        ("PIETER VAN DER BERG", "Pieter van der Berg"),
        ("LUDWIG VON MISES", "Ludwig von Mises"),
        # generations, initials
        ("JOHN SMITH JR", "John Smith Jr"),
        ("JOHN SMITH JR.", "John Smith Jr."),
        ("ROBERT SMITH III", "Robert Smith III"),
        ("J. R. SMITH", "J. R. Smith"),
        ("J.R. EWING", "J.R. Ewing"),
        ("ST. JOHN SMITH", "St. John Smith"),  # Saint, not initials
        ("DR. JANE DOE", "Dr. Jane Doe"),
        ("A&B ELECTRIC CO", "A&B Electric Co"),  # an initialism joined by &
        ("AT&T CORP", "AT&T Corp"),
        ("B & B LLC", "B & B LLC"),
        # businesses
        ("ACME SOLAR LLC", "Acme Solar LLC"),
        ("SMITH & SONS, INC.", "Smith & Sons, Inc."),
        ("LA ROSA BAKERY LP", "La Rosa Bakery LP"),
        ("JOHN SMITH DBA SMITH PLUMBING", "John Smith DBA Smith Plumbing"),
        ("BANK OF AMERICA, N.A.", "Bank of America, N.A."),
        ("JOHN'S AUTO BODY INC", "John's Auto Body Inc"),
        ("PACIFIC FARMS CORP.", "Pacific Farms Corp."),
        # other Californians
        ("NGUYEN THI MINH", "Nguyen Thi Minh"),
        ("ZOË NG", "Zoë Ng"),
        ("maria lopez", "Maria Lopez"),  # all lower case is recased too
        # a name already in mixed case is the customer's own spelling
        ("Maria deLuca", "Maria deLuca"),
        ("DeShawn McKinney", "DeShawn McKinney"),
        ("Acme Solar, Inc.", "Acme Solar, Inc."),
        ("  JOSÉ   GARCÍA  ", "José García"),
        ("", ""),
    ],
)
def test_name_display(stored, shown):
    assert name_display(stored) == shown
