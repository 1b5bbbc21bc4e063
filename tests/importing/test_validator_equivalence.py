"""The validator's fast path changes no answer: wherever it answers, its staging tuples, COPY
text and records are what the careful path gives (Validator.checked_row with the normalisers'
careful forms, the csv module, COPY text with every value escaped), for generated rows, the
hand-written odd ones and the demo generator's planted errors; the normalisers' fast forms give
what their careful forms give. A change to either path that the other does not share fails here."""

import csv
import datetime as dt
import io
import string
from collections import Counter

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts import normalize
from accounts.services.demo_data import demo_data_generate
from accounts.services.importing import copy_text, workers
from accounts.services.importing.validation import Validator
from accounts.services.personal_codes import CODE_ALPHABET
from cca_notices.management.commands.demo import demo_program_load
from tests.factories import ProgramFactory, UtilityFactory
from tests.importing.conftest import HEADER, row

TODAY = dt.date(2026, 11, 23)
FULL_HEADER = [*HEADER, "status", "enrollment_date", "product"]
HEADER_LINE = ",".join(HEADER)
# Characters that have tripped parsers, COPY or the normalisers: separators and escapes, whitespace
# that is not a space, punctuation _clean drops, letters that change length or vanish in upper()
# and NFKD, digits that are not ASCII.
ODD = "\\\t\n\r \u00a0\u2028\x0b\x1c,.#-/'\"&()+@_0129AaZzñÑéßŉªﬁ²٣ΣςİıØ\u0301"
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

odd_text = st.text(alphabet=ODD, max_size=10)
any_text = st.one_of(odd_text, st.text(max_size=12))


def padded(values):
    """One of `values`, sometimes with odd characters around or inside it."""
    plain = st.sampled_from(values)
    return st.one_of(
        plain,
        plain,
        st.builds(
            lambda v, a, b: a + v + b,
            plain,
            st.sampled_from(["", " ", "\t", "\n", " \u00a0"]),
            st.sampled_from(["", " ", "\t", "\r\n", "."]),
        ),
        st.builds(lambda v, i, s: v[:i] + s + v[i:], plain, st.integers(0, 12), odd_text),
        any_text,
    )


VALUES = {
    "account_number": ["3000000001", "AB-12", "x" * 33, "12 34", "３０００"],
    "customer_name": [
        "Maria Lopez",
        "JOSÉ GARCÍA-LÓPEZ",
        "O'BRIEN & SONS, INC.",
        "Zoë  Ng",
        "N" * 201,
        "MARIA\x00 LOPEZ",
        "M" * 1001,
        "A\\B",
        "ª",
        "",
    ],
    "service_address": [
        "101 North Main Street Apartment 4",
        "12 Elm Court #3",
        "500 W. 5th St., Suite 200",
        "P.O. Box 12",
        "7 Calle Cañada Norte",
        "88 Main St 44",
        "9 N 7",
        "123 456",
        "One Way",
        "123 East St",
        "123 E Street",
        "789 O'Farrell St",
        "1900 AVENUE OF THE STARS STE 500",
        "RR 2 BOX 15",
        "12 MAIN\x00 ST",
        "1 " + "MAIN " * 60,
    ],
    "service_city": ["San Rafael", "SAN RAFAEL", "St. Helena", "Cañada", ""],
    "service_zip": ["94901", "94901-1234", "949011234", "9490", "٩٤٩٠١"],
    "mailing_address": ["", "101 North Main Street Apartment 4", "PO BOX 7", "1 Oak Avenue South"],
    "mailing_city": ["", "San Rafael", "Reno"],
    "mailing_state": ["", "CA", "ca", "California", "N Mex", "New  York", "ZZ"],
    "mailing_zip": ["", "94901", "89501-0001"],
    "customer_class": ["residential", "small_commercial", "Residential", "industrial"],
    "rate_schedule": ["D", "d-care", "GS-1", "", "E-1"],
    "read_cycle": ["3", "07", "99", "0", "100", "²", "1.5"],
    "language": ["es", "", "EN", "Spanish"],
    "email": [
        "",
        "m@example.org",
        "M.Lopez@Example.ORG",
        "a b@example.org",
        "x@y",
        "a..b@example.org",
        "a@-example.org",
        "m@localhost",
        "m\x00@example.org",
        "a" * 250 + "@example.org",
    ],
    "phone": [
        "",
        "(415) 555-0101",
        "415-555-0101",
        "4155550101",
        "+1 415 555 0101",
        "14155550101",
        "1-415-555-0101",
        "+1 (415) 555-0101",
        "415.555.0101",
        "+44 20 7946 0958",
        "(015) 555-0101",
        "(911) 555-0101",
        "555-234-5678",
        "+1 800 555 1212",
        "(416) 555-0101",
        "(340) 555-0101",
        "415-155-0101",
        "+9 415 555 0101",
        "12345",
        "call after 5",
        "٤١٥٥٥٥٠١٠١",
    ],
    "care": ["Y", "N", "y", "n", "Yes", ""],
    "nem": ["N", "Y"],
    "medical_baseline": ["N", "y"],
    "direct_access": ["N", "1"],
    "phase": ["Phase 1", "1", "2", "", "Phase 9"],
    "status": ["", "enrolled", "participant", "eligible", "opted_out", "ENROLLED"],
    "enrollment_date": ["", "2026-01-15", "20260115", "2026-02-30", "03/15/2026"],
    "product": ["", "deep-green", "light-green", "green"],
}


def outcome(fn, *args):
    """What a call gave, comparable across implementations (a str subclass is not a str)."""
    try:
        result = fn(*args)
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    if isinstance(result, list):
        return ("errors", [(e.line, e.column, e.reason) for e in result])
    if isinstance(result, tuple):
        return ("row", [(type(v), v) for v in result])
    return ("value", type(result), result)


def same_codes(validator, n=1):
    """The validator hands out the same personal codes again, so two answers can be compared."""
    validator._random = [f"C{i:09d}" for i in range(n)]


def as_csv(header, records) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(records)
    return out.getvalue().encode()


def assert_same_blocks(program, header, data: bytes, tmp_path, monkeypatch):
    """validate_block gives what its careful path gives, in the COPY format and as tuples."""
    path = tmp_path / "eligible.csv"
    path.write_bytes(data)
    validator = Validator(program, header)
    monkeypatch.setattr(workers, "_worker_validator", validator)
    for encode in (copy_text.copy_text, None):
        monkeypatch.setattr(workers, "_worker_encode", encode)
        for piece in workers.blocks(path):
            same_codes(validator, n=data.count(b"\n") + 1)
            got = outcome(workers.validate_block, piece)
            same_codes(validator, n=data.count(b"\n") + 1)
            assert got == outcome(lambda p: workers.validate_block(p, careful=True), piece)


def good_row(n=3, **over):
    return {**row(n), "status": "", "enrollment_date": "", "product": "", **over}


changes = st.sampled_from(sorted(VALUES)).flatmap(
    lambda col: st.tuples(st.just(col), padded(VALUES[col]))
)


@pytest.mark.django_db
@SETTINGS
@given(st.lists(changes, max_size=4), st.sampled_from([HEADER, FULL_HEADER, FULL_HEADER[::-1]]))
def test_any_row_gives_the_careful_outcome(program, over, header):
    validator = Validator(program, header)
    rec = good_row(**dict(over))
    fields = [rec[col] for col in header]
    assert_same_row(validator, header, fields)


def assert_same_row(validator, header, fields):
    """Where the fast path answers, it gives the careful path's outcome, and row() always does;
    a staged row's COPY line is the fully escaped one. Returns (outcome, took the fast path)."""
    same_codes(validator)
    fast = outcome(validator.clean_row, fields, 7)
    same_codes(validator)
    careful = outcome(validator.checked_row, fields, 7)
    same_codes(validator)
    got = outcome(validator.row, fields, 7)
    assert fast[0] == "raised" or fast == careful, fields
    assert got == careful, fields
    if got[0] == "row":
        same_codes(validator)
        staged = validator.row(fields, 7)
        escaped = copy_text.copy_text([staged], None)
        source = as_csv(header, [fields]).decode()
        assert copy_text.copy_text([staged], source) == escaped, fields
    return got, fast[0] != "raised"


ODD_ROWS = [
    {},
    {"customer_name": 'Garcia, "Lupe"\nc/o Maria'},
    {"customer_name": "Tab\there"},
    {"customer_name": "Back\\slash"},
    {"customer_name": "Carriage\rReturn"},
    {"customer_name": "\\N"},
    {"customer_name": "Zoë Ñúñez-Ørsted"},
    {"customer_name": "  "},
    {"rate_schedule": "d\\x"},
    {"service_address": "12 Main St\t# 4"},
    {"service_address": "\\"},
    {
        "mailing_address": "PO Box 9",
        "mailing_city": "Reno",
        "mailing_state": "Nevada",
        "mailing_zip": "89501",
    },
    {"mailing_address": "", "mailing_city": "", "mailing_state": "CA", "mailing_zip": ""},
    {"mailing_state": "XX"},
    {"phase": ""},
    {"phase": "", "customer_class": "small_commercial", "rate_schedule": "GS-1"},
    {"status": "enrolled", "enrollment_date": "2026-03-01", "product": "deep-green"},
    {"status": "enrolled", "enrollment_date": ""},
    {"status": "participant", "enrollment_date": "2026-02-30"},
    {"status": "nope", "product": "nope"},
    # Without rate schedules to check against, a tariff code keeps what the file had.
    {"rate_schedule": "D\nX"},
    {"rate_schedule": "D\\X"},
    {"rate_schedule": "D\tX"},
    {"rate_schedule": "D\rX"},
    {"read_cycle": "٣"},  # a digit int() reads: the old code took it
    {"read_cycle": "²"},  # isdigit() but not int(): the old code raised, so must the new
    *(
        {col: value}
        for col, values in VALUES.items()
        for value in [*values, "bad value", f" {values[0]} "]
    ),
    dict.fromkeys(VALUES, "bad value"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("header", [FULL_HEADER, FULL_HEADER[::-1]], ids=["file order", "reversed"])
@pytest.mark.parametrize("rate_schedules", [True, False], ids=["rate schedules", "none"])
def test_odd_rows_give_the_careful_outcome(program, header, rate_schedules, tmp_path, monkeypatch):
    if not rate_schedules:  # nor phases: rows need a blank one
        program = ProgramFactory(slug="bare", utility=UtilityFactory(code="BARE"))
    staged = []
    validator = Validator(program, header)
    records = []
    fast_rows = 0
    for over in ODD_ROWS:
        rec = good_row(**over) if rate_schedules else good_row(**{"phase": "", **over})
        fields = [rec[col] for col in header]
        got, fast = assert_same_row(validator, header, fields)
        fast_rows += fast
        if got[0] == "row":
            staged.append(fields)
        if got[0] != "raised":
            records.append(fields)
    # The comparison means something only if the fast path answers for many of these rows.
    assert fast_rows > len(ODD_ROWS) // 4
    # Values COPY must escape reach it: the tariff codes only go unchecked without rate schedules.
    assert any("D\tX" in fields for fields in staged) is not rate_schedules
    # The same rows as a file: line numbers, blocks and COPY text.
    assert_same_blocks(program, header, as_csv(header, records), tmp_path, monkeypatch)


@pytest.fixture
def demo_program(db):
    return demo_program_load(today=TODAY).program


@pytest.mark.parametrize("enrolled_share", [0.0, 0.3])
def test_demo_file_with_planted_errors_gives_the_careful_outcome(
    demo_program, enrolled_share, tmp_path, monkeypatch
):
    path = tmp_path / "demo.csv"
    demo = demo_data_generate(
        path=path,
        accounts=3000,
        seed=11,
        with_errors=True,
        enrolled_share=enrolled_share,
        today=TODAY,
    )
    data = path.read_bytes()
    header = data.split(b"\n", 1)[0].decode().split(",")
    monkeypatch.setattr(workers, "BLOCK", 64 * 1024)  # several blocks
    assert_same_blocks(demo_program, header, data, tmp_path, monkeypatch)

    # ...and only the rows with a problem leave the fast path.
    validator = Validator(demo_program, header)
    careful = []
    checked_row = validator.checked_row
    validator.checked_row = lambda rec, line: careful.append(line) or checked_row(rec, line)
    monkeypatch.setattr(workers, "_worker_validator", validator)
    monkeypatch.setattr(workers, "_worker_encode", None)
    bad = [line for piece in workers.blocks(path) for line, _ in workers.validate_block(piece)[1]]
    assert careful == bad
    # (a duplicate account number is found later, in SQL)
    assert len(bad) == len([p for p in demo.planted if p.kind != "duplicate_account"]) > 0


@SETTINGS
@given(
    st.one_of(st.integers(0, 99999).map(str), st.sampled_from(["", "0", "007", "١٢"])),
    st.one_of(
        st.sampled_from(VALUES["service_address"]),
        any_text,
        st.lists(
            st.sampled_from(
                [
                    "N",
                    "MAIN",
                    "St.",
                    "APT",
                    "#",
                    "#4",
                    "Ste",
                    "South",
                    "PO",
                    "BOX",
                    "",
                    "Avenue",
                    "Apartment",
                    "NO",
                    "No.",
                    ",",
                    "4",
                    "12",
                    "½",
                ]
            ),
            max_size=6,
        ).map(" ".join),
    ),
    st.sampled_from(["", " 4", " 44", " 0012", " #4", " ٤", " 4 ", " N"]),
)
@example("12", "Main St", " 44")
@example("12", "", " 44")
@example("", "PO Box", " 12")
def test_street_line_gives_the_careful_answer(house, street, unit):
    for text in (f"{house} {street}{unit}", f"{house}  {street}{unit}", f"{house}{street}{unit}"):
        assert outcome(normalize.street_line, text) == outcome(normalize.street_line_careful, text)


@SETTINGS
@given(
    st.one_of(
        st.builds(
            lambda fmt, a, b, c: fmt.format(a, b, c),
            st.sampled_from(
                [
                    "({}) {}-{}",
                    "{}-{}-{}",
                    "{}{}{}",
                    "+1 {} {} {}",
                    "1{}{}{}",
                    "+1{}{}{}",
                    "1 ({}) {}-{}",
                    "+{}{}{}",
                    "{}.{}.{}",
                    " {} {} {} ",
                    "+11{}{}{}",
                    "{}-{}-{}x",
                    "(({}))-{}-{}",
                ]
            ),
            st.text("0123456789", min_size=2, max_size=4),
            st.text("0123456789", min_size=2, max_size=4),
            st.text("0123456789", min_size=3, max_size=5),
        ),
        any_text,
    )
)
@example("415-155-0101")
@example("+1 015 555 0101")
@example("1 415 055 0101")
def test_phone_gives_the_careful_answer(text):
    assert outcome(normalize.phone_e164, text) == outcome(normalize.phone_e164_careful, text)


@SETTINGS
@given(
    st.one_of(
        st.sampled_from(sorted(normalize.STATE_NAMES)),
        st.sampled_from(sorted(normalize.STATES)).map(str.lower),
        any_text,
        st.text(string.ascii_uppercase, max_size=3),
    )
)
def test_state_gives_the_careful_answer(text):
    assert outcome(normalize.state, text) == outcome(normalize.state_careful, text)


def test_every_state_code_is_its_own_normal_form():
    for code in normalize.STATES:
        assert normalize.state_careful(code) == normalize.state(code) == code


def not_blank(records):
    """The records _validate_block reads ([] and [""] are both a blank line to it)."""
    return [(line, rec) for line, rec in records if rec and (len(rec) > 1 or rec[0].strip())]


@SETTINGS
@given(
    st.text(alphabet=',,,\n\n"\r \t\\\x00aé\u2028', max_size=60), st.sampled_from([None, 4, 131072])
)
@example("a,b\n\n \nc,d", None)
@example("a,b\n,\n", None)
@example("", None)
@example("aaaaa,b\n", 4)
def test_records_are_read_as_the_csv_module_reads_them(text, field_limit):
    old_limit = csv.field_size_limit()
    if field_limit:
        csv.field_size_limit(field_limit)
    try:
        got = outcome(lambda: tuple(not_blank(workers.numbered_records(text, 5))))
        assert got == outcome(lambda: tuple(not_blank(workers.parsed_records(text, 5))))
    finally:
        csv.field_size_limit(old_limit)


@pytest.mark.django_db
@SETTINGS
@given(
    st.lists(
        st.one_of(
            st.just("good"),
            st.just(""),
            st.text(alphabet=',"\r\n \\\tYNé', max_size=8),
            st.lists(changes, max_size=2),
        ),
        max_size=8,
    ),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_raw_blocks_give_the_careful_outcome(
    program, tmp_path_factory, monkeypatch, lines, newline, last_newline
):
    """Text as a utility might send it, not as csv.writer would write it."""
    text = []
    for n, line in enumerate(lines):
        if isinstance(line, str) and line != "good":
            text.append(line)
        else:
            rec = row(n) if line == "good" else row(n, **dict(line))
            text.append(",".join(rec.values()))
    data = (HEADER_LINE + newline + newline.join(text) + (newline if last_newline else "")).encode()
    assert_same_blocks(program, HEADER, data, tmp_path_factory.mktemp("raw"), monkeypatch)


@pytest.mark.django_db
def test_personal_codes_are_ten_uniform_crockford_characters(program):
    """The one value the two paths do not compute: random, drawn by accounts.personal_codes."""
    validator = Validator(program, HEADER)
    codes = [validator._code() for _ in range(4096)]
    assert all(len(code) == 10 and set(code) <= set(CODE_ALPHABET) for code in codes)
    counts = Counter("".join(codes))
    assert len(counts) == 32 and all(abs(n - 1280) < 200 for n in counts.values())  # σ ≈ 35
    assert len(set(codes)) == len(codes)
