"""Address lines as USPS Publication 28 writes them (R-ADDRESS), from real California addresses,
and the customer key built on them (R-NO-REENROLL)."""

import pytest
import usaddress
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import normalize as N
from accounts.services import addresses
from accounts.services.addresses import street_line, street_line_careful

# (as a utility's file may write it, as Publication 28 writes it)
CALIFORNIA = [
    ("123 W Front St Apt 4", "123 W FRONT ST APT 4"),
    ("123 North Front Street", "123 N FRONT ST"),
    ("500 E Lower Azusa Rd", "500 E LOWER AZUSA RD"),
    ("789 O'Farrell St", "789 OFARRELL ST"),
    ("123 East St", "123 EAST ST"),
    ("123 E Street", "123 E ST"),
    ("200 South St Unit 5", "200 SOUTH ST UNIT 5"),
    ("1 N St", "1 N ST"),
    ("1600 West Blvd", "1600 WEST BLVD"),
    ("1 Avenue of the Stars", "1 AVENUE OF THE STARS"),
    ("1900 Avenue of the Stars, Suite 500", "1900 AVENUE OF THE STARS STE 500"),
    ("10250 Constellation Blvd Fl 19", "10250 CONSTELLATION BLVD FL 19"),
    ("3000 El Camino Real #210", "3000 EL CAMINO REAL # 210"),
    ("1 El Camino Real Bldg 3", "1 EL CAMINO REAL BLDG 3"),
    ("2500 E El Camino Real", "2500 E EL CAMINO REAL"),
    ("45 Camino Del Mar", "45 CAMINO DEL MAR"),
    ("16 Camino Alto", "16 CAMINO ALTO"),
    ("1000 Calle Amanecer Ste C", "1000 CALLE AMANECER STE C"),
    ("123 Calle Real", "123 CALLE REAL"),
    ("12 Via Lido", "12 VIA LIDO"),
    ("2121 Via Del Sol Unit 7", "2121 VIA DEL SOL UNIT 7"),
    ("14 Via de la Valle", "14 VIA DE LA VALLE"),
    ("10 St James Pl", "10 ST JAMES PL"),
    ("300 The Alameda", "300 THE ALAMEDA"),
    ("123 1/2 Main St", "123 1/2 MAIN ST"),
    ("4567 1/2 W Sunset Blvd", "4567 1/2 W SUNSET BLVD"),
    ("12-14 Oak Ave", "12-14 OAK AVE"),
    ("1045-B Fair Oaks Ave", "1045-B FAIR OAKS AVE"),
    ("PO Box 123", "PO BOX 123"),
    ("P.O. Box 55", "PO BOX 55"),
    ("Post Office Box 9", "PO BOX 9"),
    ("P O BOX 4410", "PO BOX 4410"),
    ("RR 2 Box 15", "RR 2 BOX 15"),
    ("Rural Route 1 Box 240", "RR 1 BOX 240"),
    ("HC 1 Box 5", "HC 1 BOX 5"),
    ("15 W 3rd St", "15 W 3RD ST"),
    ("350 S Grand Ave Fl 40", "350 S GRAND AVE FL 40"),
    ("1111 S Figueroa St", "1111 S FIGUEROA ST"),
    ("600 N 1st St", "600 N 1ST ST"),
    ("2 Embarcadero Ctr", "2 EMBARCADERO CTR"),
    ("1 Dr Carlton B Goodlett Pl", "1 DR CARLTON B GOODLETT PL"),
    ("4 Harbor Dr Apt 12", "4 HARBOR DR APT 12"),
    ("500 Hotel Cir N", "500 HOTEL CIR N"),
    ("100 Park Ave S", "100 PARK AVE S"),
    ("1 Oak Avenue South", "1 OAK AVE S"),
    ("6801 Hollywood Blvd", "6801 HOLLYWOOD BLVD"),
    ("21 Pacific Coast Hwy", "21 PACIFIC COAST HWY"),
    ("22 N Pacific Coast Highway Apt 3", "22 N PACIFIC COAST HWY APT 3"),
    ("45 Sir Francis Drake Boulevard", "45 SIR FRANCIS DRAKE BLVD"),
    ("600 Corte Madera Ave", "600 CORTE MADERA AVE"),
    ("400 Paseo De Peralta", "400 PASEO DE PERALTA"),
    ("1 La Jolla Village Dr", "1 LA JOLLA VILLAGE DR"),
    ("999 Caminito Del Mar", "999 CAMINITO DEL MAR"),
    ("4500 Mission Blvd Spc 12", "4500 MISSION BLVD SPC 12"),
    ("7 Court St", "7 COURT ST"),
    ("42 Circle Dr", "42 CIRCLE DR"),
    ("55 Unit Rd", "55 UNIT RD"),
    ("88 Apartment Way", "88 APARTMENT WAY"),
    ("100 Universal City Plz", "100 UNIVERSAL CITY PLZ"),
    ("1600 Amphitheatre Pkwy", "1600 AMPHITHEATRE PKWY"),
    ("500 Broadway", "500 BROADWAY"),
    ("123 Main St Ste. 4B", "123 MAIN ST STE 4B"),
    ("123 MAIN ST #4", "123 MAIN ST # 4"),
    ("12 Elm Court #3", "12 ELM CT # 3"),
    ("500 W. 5th St., Suite 200", "500 W 5TH ST STE 200"),
    ("123 north Main Street, Apartment 4", "123 N MAIN ST APT 4"),
    ("100 N Main St Bldg 2 Fl 3", "100 N MAIN ST BLDG 2 FL 3"),
    ("2100 Santa Monica Blvd Floor 2", "2100 SANTA MONICA BLVD FL 2"),
    ("77 Park", "77 PARK"),
    ("  88   Main   St  ", "88 MAIN ST"),
    ("17 Old Highway 101 N", "17 OLD HIGHWAY 101 N"),
    ("2 Highway 1", "2 HIGHWAY 1"),
    ("1 Lower Ave", "1 LOWER AVE"),
    ("350 Mission St Rm 201", "350 MISSION ST RM 201"),
    ("1000 Laurel Canyon Blvd Trailer 14", "1000 LAUREL CANYON BLVD TRLR 14"),
]


@pytest.mark.parametrize("raw, expected", CALIFORNIA)
def test_street_line_as_publication_28_writes_it(raw, expected):
    assert street_line(raw) == expected
    assert street_line_careful(raw) == expected
    assert street_line(expected) == expected  # a standard line is its own normal form


def test_the_table_is_large_enough():
    assert len(CALIFORNIA) >= 60


@pytest.mark.parametrize(
    "a, b",
    [
        ("123 East St", "123 E Street"),  # EAST is the name of one, E of the other
        ("200 South St", "200 S Street"),
        ("1 North Ave", "1 N Avenue"),
        ("55 Unit Rd", "55 Rd Unit"),
        ("12 Main St Apt 4", "12 Main St Apt 5"),
        ("12 Main St Apt 4", "12 Main St Ste 4"),
        ("12 Main St", "12 1/2 Main St"),
        ("12 Main St", "12 Main Ave"),
        ("12 N Main St", "12 S Main St"),
        ("12 Main St N", "12 Main St"),
        ("12-14 Oak Ave", "1214 Oak Ave"),
    ],
)
def test_different_premises_get_different_lines_and_keys(a, b):
    assert street_line(a) != street_line(b)
    name = "MARIA LOPEZ"
    assert N.customer_key(name, street_line(a), "94901") != N.customer_key(
        name, street_line(b), "94901"
    )


@pytest.mark.parametrize(
    "a, b",
    [
        ("123 North Front Street", "123 N FRONT ST"),
        ("789 O'Farrell St", "789 OFARRELL ST"),
        ("12 Elm Court #3", "12 ELM CT # 3"),
        ("P.O. Box 55", "PO BOX 55"),
        ("500 W. 5th St., Suite 200", "500 W 5th Street Suite 200"),
    ],
)
def test_one_premises_written_two_ways_is_one_line(a, b):
    assert street_line(a) == street_line(b)


@pytest.mark.parametrize("raw", ["", " , ", "#", "- / -", "''"])
def test_a_line_with_no_words_is_an_error(raw):
    with pytest.raises(N.InvalidValue, match="is blank"):
        street_line(raw)


names = st.sampled_from(
    [
        "MARIA LOPEZ",
        "MARIA LOPEZ JR",
        "JOSE GARCIA",
        "JOSE GARCIA LOPEZ",
        "ACME LLC",
        "ACME INC",
        # Names in other scripts are different customers too (none may reduce to an empty key).
        "王小明",
        "李华",
        "김민수",
        "이서연",
        "Nguyễn Văn An",
        "Trần Thị Bình",
        "Արամ Պետրոսյան",
        "Łukasz Żółć",
    ]
)
lines = st.sampled_from([line for _, line in CALIFORNIA])
zips = st.sampled_from(["94901", "94903", "90067"])


@settings(max_examples=300, deadline=None, database=None)
@given(names, lines, zips, names, lines, zips)
def test_the_customer_key_never_merges_two_premises_or_two_customers(n1, l1, z1, n2, l2, z2):
    """Two accounts share a key only when they are the same name at the same line and ZIP."""
    same = (n1, l1, z1) == (n2, l2, z2)
    assert (N.customer_key(n1, l1, z1) == N.customer_key(n2, l2, z2)) == same


def test_the_customer_key_ignores_accents_case_and_punctuation_only():
    line = "123 MAIN ST"
    assert N.customer_key("José García-López", line, "94901") == N.customer_key(
        "JOSE GARCIA LOPEZ", line, "94901"
    )
    assert N.customer_key("Nguyễn Văn An", line, "94901") == N.customer_key(
        "NGUYEN VAN AN", line, "94901"
    )
    assert N.customer_key("王小明", line, "94901") != N.customer_key("李华", line, "94901")


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.text(st.sampled_from(list("0123456789")), min_size=1, max_size=6),
    st.sampled_from([raw for raw, _ in CALIFORNIA]),
    st.text(st.sampled_from(list("0123456789")), min_size=1, max_size=5),
)
def test_numbers_do_not_change_how_a_street_is_read(house, line, unit):
    """The cache by street shape is only a speed: street_line is street_line_careful whatever the
    house and unit numbers."""
    words = line.split()
    if words and words[0][:1].isdigit():
        words[0] = house
    for text in (" ".join(words), " ".join(words) + " # " + unit, " ".join(words) + " " + unit):
        assert street_line(text) == street_line_careful(text)


def _labelled_as_written(text):
    """street_line with the model reading the numbers as written (no street shape)."""
    words = addresses._tokens(text)
    pieces = addresses._pieces(tuple(words))
    return " ".join(w if p is None else p for w, p in zip(words, pieces, strict=True) if p != "")


@pytest.mark.parametrize("raw, expected", CALIFORNIA)
def test_reading_numbers_as_9_changes_no_line(raw, expected):
    """The street shape is a sound simplification: the model, given the real numbers, writes the
    same lines."""
    assert _labelled_as_written(raw) == expected


ODD = "\\\t\n\r \u00a0,.#-/'’\"&()+@_0129AaZzSTNEñÑéßªﬁ²٣İı\u0301"


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(st.text(alphabet=ODD, max_size=24), st.text(alphabet="ABNS019 ", max_size=24)))
def test_words_are_what_usaddress_reads_and_fast_words_are_careful_words(text):
    """The parser is handed exactly the words the line is rebuilt from, and the split() of a
    plain capital line is the general tokenizer's answer."""
    words = addresses._tokens_careful(text)
    assert usaddress.tokenize(" ".join(words)) == words
    assert addresses._tokens(text) == words
    try:
        expected = street_line_careful(text)
    except N.InvalidValue as exc:
        with pytest.raises(N.InvalidValue, match=str(exc)):
            street_line(text)
    else:
        assert street_line(text) == expected
