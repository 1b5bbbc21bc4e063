"""The board report and the 15/15 rule: no customer data, every small cell suppressed."""

import csv
import datetime as dt
import io
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Program
from optouts.services.board_report import (
    board_report_build,
    board_report_csv,
    board_report_pdf,
)
from optouts.services.suppression import (
    COMPLEMENTARY,
    FEWER_THAN_15,
    OVER_15_PERCENT,
    Threshold,
    amount_cell,
    count_cell,
    rate_cell,
    suppress_complementary,
    threshold_for,
)
from tests.conftest import SCREENSHOTS
from tests.dashboard.scenario import build_scenario
from tests.factories import ProgramFactory, ServiceAccountFactory

STRICTER = Threshold(min_customers=25, max_share_pct=Decimal("10"))


def test_a_count_below_15_is_suppressed_zero_included():
    assert count_cell(15).value == 15
    for n in (14, 1, 0):
        cell = count_cell(n)
        assert cell.value is None and cell.reason == FEWER_THAN_15
        assert cell.shown == "<15"


def test_an_amount_is_suppressed_below_15_customers_or_over_15_percent_one_customer():
    assert amount_cell(amount=Decimal("150"), customers=15, largest=Decimal("10")).value == 150
    few = amount_cell(amount=Decimal("1000"), customers=14, largest=Decimal("10"))
    assert few.reason == FEWER_THAN_15
    # 16 customers, but one of them is 25 of 100 dollars: more than 15 %.
    big = amount_cell(amount=Decimal("100"), customers=16, largest=Decimal("25"))
    assert big.value is None and big.reason == OVER_15_PERCENT and big.shown == ">15 %"
    edge = amount_cell(amount=Decimal("100"), customers=16, largest=Decimal("15"))
    assert edge.value == Decimal("100")  # exactly 15 % is allowed


def test_a_rate_is_hidden_when_a_part_is():
    shown, hidden = count_cell(40), count_cell(3)
    assert rate_cell(part=shown, whole=count_cell(400), value=Decimal("10")).value == 10
    assert rate_cell(part=hidden, whole=count_cell(400), value=Decimal("1")).value is None


def test_complementary_suppression_hides_the_smallest_other_cell():
    cells = suppress_complementary([count_cell(n) for n in (200, 40, 3, 90)])
    assert [c.value for c in cells] == [200, None, None, 90]
    assert cells[1].reason == COMPLEMENTARY
    # Two small cells that together cover fewer than 15 customers: one more goes.
    cells = suppress_complementary([count_cell(n) for n in (200, 4, 3, 90, 30)])
    assert [c.value for c in cells] == [200, None, None, 90, None]
    # Nothing suppressed: nothing changes.
    assert [c.value for c in suppress_complementary([count_cell(20), count_cell(30)])] == [20, 30]


def test_a_stricter_threshold_suppresses_what_15_15_releases():
    assert count_cell(20).value == 20
    cell = count_cell(20, rule=STRICTER)
    assert cell.value is None and cell.reason == "fewer than 25 customers" and cell.shown == "<25"
    assert count_cell(25, rule=STRICTER).value == 25
    # One customer is 12 of 100 dollars: within 15 %, over 10 %.
    twelve = {"amount": Decimal("100"), "customers": 30, "largest": Decimal("12")}
    assert amount_cell(**twelve).value == Decimal("100")
    over = amount_cell(**twelve, rule=STRICTER)
    assert over.reason == "one customer is more than 10 % of it" and over.shown == ">10 %"
    # Complementary suppression stops only once the hidden cells cover 25 customers.
    cells = [count_cell(n, rule=STRICTER) for n in (200, 10, 12, 90)]
    assert [c.value for c in suppress_complementary(cells)] == [200, None, None, 90]
    assert [c.value for c in suppress_complementary(cells, rule=STRICTER)] == [
        200,
        None,
        None,
        None,
    ]


def test_a_report_over_several_programs_applies_the_strictest_threshold():
    def program(n, pct):
        return Program(suppression_min_customers=n, suppression_max_share_pct=Decimal(pct))

    assert threshold_for([program(15, "15"), program(25, "12.5"), program(20, "10")]) == (
        Threshold(min_customers=25, max_share_pct=Decimal("10"))
    )
    assert threshold_for([program(15, "15")]).is_cpuc


@pytest.mark.django_db
def test_the_board_report_applies_the_programs_stricter_threshold():
    program = ProgramFactory(suppression_min_customers=25)
    for city, n in (("NOVATO", 20), ("SAN RAFAEL", 40)):
        ServiceAccountFactory.create_batch(n, program=program, service_city=city)

    def novato(report):
        by_city = next(t for t in report.tables if t.key == "rate_by_city")
        return next(r for r in by_city.rows if r.label == "NOVATO").cells[0]

    report = board_report_build(program=program, today=dt.date(2027, 3, 1))
    assert report.threshold.min_customers == 25
    cell = novato(report)
    assert cell.value is None and cell.customers == 20 and cell.reason == "fewer than 25 customers"
    assert "fewer than 25 customers" in board_report_csv(report=report).decode()
    page = render_to_string("reports/board_report.html", {"report": report})
    assert "at least 25 customers" in page and "“&lt;25”" in page
    for t in report.tables:
        for r in t.rows:
            for c in r.cells:
                if c.value is not None and t.columns[1].unit != "%":
                    assert c.customers >= 25, (t.key, r.label)

    Program.objects.filter(pk=program.pk).update(suppression_min_customers=15)
    program.refresh_from_db()
    assert novato(board_report_build(program=program, today=dt.date(2027, 3, 1))).value == 20


@pytest.mark.django_db
def test_report_suppresses_small_cells_and_holds_no_customer_data(client, django_user_model):
    scenario = build_scenario()
    report = board_report_build(program=scenario.program, today=scenario.today)
    tables = {t.key: t for t in report.tables}

    city = {r.label: r for r in tables["rate_by_city"].rows}
    # MUIR BEACH has 6 accounts: its cells go, and so its rate.
    assert city["MUIR BEACH"].cells[0].reason == FEWER_THAN_15
    assert city["MUIR BEACH"].cells[2].value is None
    # Every city's opt-outs are under 15 (50 over 8 cities), the total is released.
    assert all(r.cells[1].value is None for r in city.values() if r.label != "Total")
    assert city["Total"].cells[1].value == 50

    phase = {r.label: r for r in tables["rate_by_phase"].rows}
    assert phase["Phase 1"].cells[0].value == 200 and phase["Phase 2"].cells[0].value == 100
    # Phase 2's 0 opt-outs are suppressed (zero is fewer than 15), and Phase 1's 50 would give
    # it away from the total: the complementary rule hides it too, and both rates.
    assert phase["Phase 2"].cells[1].reason == FEWER_THAN_15
    assert phase["Phase 1"].cells[1].reason == COMPLEMENTARY
    assert phase["Phase 1"].cells[2].value is None
    assert phase["Total"].cells[1].value == 50 and phase["Total"].cells[2].value == Decimal("16.7")

    # Fees: 5 fees in all, every cell covers fewer than 15 customers.
    fees = tables["fees_by_class"]
    assert all(c.value is None for r in fees.rows for c in r.cells)

    # No cell is released with fewer than 15 customers behind it.
    for t in report.tables:
        for r in t.rows:
            for c in r.cells:
                if c.value is not None and t.columns[1].unit != "%":
                    assert c.customers >= 15, (t.key, r.label)

    data = board_report_csv(report=report).decode()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert set(rows[0]) == {"table", "row", "column", "unit", "value", "suppressed"}
    assert any(r["suppressed"] == FEWER_THAN_15 and r["value"] == "" for r in rows)
    assert all(r["value"] == "" for r in rows if r["suppressed"])
    for a in scenario.accounts:
        assert a.account_number not in data and a.customer_name not in data

    user = django_user_model.objects.create_superuser("ops", "ops@example.org", "pw-long-enough")
    client.force_login(user)
    response = client.get(reverse("staff-board-report-csv", args=["marin"]))
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert response.content.decode().splitlines()[0] == "table,row,column,unit,value,suppressed"


@pytest.mark.django_db
@pytest.mark.needs("poppler")
def test_report_pdf_renders_with_suppression_marks_and_no_customer_data():
    scenario = build_scenario()
    report = board_report_build(program=scenario.program, today=scenario.today)
    pdf = board_report_pdf(report=report)
    assert pdf.startswith(b"%PDF")
    path = Path(SCREENSHOTS) / "board-report.pdf"  # for a person to look at (pdftoppm)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "15/15 rule" in text
    assert "<15" in text
    assert "Opt-out rate by service city" in text
    for a in scenario.accounts:
        assert a.account_number not in text
