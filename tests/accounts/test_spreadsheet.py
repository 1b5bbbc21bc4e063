"""The spreadsheet guard: which cells get a leading quote, and that the writer applies it to
every cell."""

import csv
import io

import pytest

from accounts.services.spreadsheet import spreadsheet_safe, spreadsheet_writer


@pytest.mark.parametrize(
    "value",
    ["=SUM(A1)", "+1 Main St", "-Smith Family Trust", "@Home Apts", "\tx", "\r=1+2"],
)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(value):
    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["Maria Lopez", "101 N MAIN ST", "", " =1", "'=1", "a=b"])
def test_other_text_is_unchanged(value):
    assert spreadsheet_safe(value) == value


@pytest.mark.parametrize("value", [-3, 7, None, 1.5])
def test_values_that_are_not_text_are_unchanged(value):
    assert spreadsheet_safe(value) is value


def test_the_writer_guards_every_cell_of_every_row():
    out = io.StringIO()
    w = spreadsheet_writer(out, lineterminator="\n")
    w.writerow(['=HYPERLINK("http://x")', "ok", 3])
    w.writerows([["@a", "+b"], ["c", "-d"]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ['\'=HYPERLINK("http://x")', "ok", "3"],
        ["'@a", "'+b"],
        ["c", "'-d"],
    ]
