"""The dashboard's numbers, its page and each chart's CSV."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from optouts.services.dashboard import dashboard_build
from tests.dashboard.scenario import build_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario():
    return build_scenario()


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("ops", "ops@example.org", "pw-long-enough")
    client.force_login(user)
    return client


def _rows(table):
    return {r[0]: r[1:] for r in table.rows}


def test_rates_by_phase_class_city_and_channel(scenario):
    board = dashboard_build(program=scenario.program, today=scenario.today)
    exp = scenario.expected
    assert board.accounts == 300
    assert board.opted_out == exp["optouts"]
    phase = _rows(board.tables["rate_by_phase"])
    assert phase["Phase 1"] == (200, 50, Decimal("25.0"))
    assert phase["Phase 2"] == (100, 0, Decimal("0.0"))
    klass = _rows(board.tables["rate_by_class"])
    assert sum(v[0] for v in klass.values()) == 300
    assert next(iter(klass)) == "Residential"  # the classes in their own order
    city = _rows(board.tables["rate_by_city"])
    assert city["MUIR BEACH"][0] == 6
    assert sum(v[1] for v in city.values()) == 50
    channel = _rows(board.tables["rate_by_channel"])
    assert set(channel) == {"Web form", "Telephone (IVR)", "Call-centre agent", "Reply card", "API"}
    assert sum(v[0] for v in channel.values()) == 50
    assert channel["Web form"] == (10, Decimal("3.3"))


def test_notice_compliance_per_phase(scenario):
    board = dashboard_build(program=scenario.program, today=scenario.today)
    exp = scenario.expected
    t = board.tables["notice_compliance"]
    cols = [c.key for c in t.columns]
    p1 = dict(zip(cols[1:], _rows(t)["Phase 1"], strict=True))
    p2 = dict(zip(cols[1:], _rows(t)["Phase 2"], strict=True))
    # Pre-1 and pre-2 for 200 accounts: 400 mailed or returned, of which 10 late, 8 returned.
    assert p1["returned"] == exp["returned"] == 8
    assert p1["mailed_late"] == exp["late_mailed"] == 8
    assert p1["on_time"] + p1["mailed_late"] + p1["returned"] == 400
    # Post-1: 100 in the batch two days old (overdue), 10 late in no batch, 90 tomorrow.
    assert p1["overdue"] == 100 + exp["late"]
    assert p1["scheduled"] == exp["due"] + 200  # tomorrow's + every post-enrollment 2
    assert p2 == {"scheduled": 100, "on_time": 0, "mailed_late": 0, "overdue": 0, "returned": 0}


def test_optouts_per_day_marks_the_drops_and_fees_add_up(scenario):
    board = dashboard_build(program=scenario.program, today=scenario.today)
    days = board.tables["optouts_per_day"]
    assert sum(days.column("optouts")) == 50
    drops = {r[0]: r[2] for r in days.rows if r[2]}
    assert len(drops) == 4  # the four mail batches of notices
    gaps = [(b[0] - a[0]).days for a, b in zip(days.rows, days.rows[1:], strict=False)]
    assert set(gaps) == {1}  # every day, so the time axis is true
    fees = board.tables["fees_by_week"]
    assessed = sum(fees.column("assessed"))
    assert assessed == Decimal("25.00")
    parts = sum(sum(fees.column(k)) for k in ("to_export", "exported", "billed", "waived"))
    assert parts == assessed
    assert sum(fees.column("waived")) == Decimal("10.00")  # fees 2 and 5 of 5


def test_dashboard_page_has_every_chart_with_title_table_and_csv(scenario, staff_client):
    response = staff_client.get(reverse("staff-dashboard", args=["marin"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert "cdn" not in html.lower()
    for key in (
        "optouts_per_day",
        "rate_by_phase",
        "rate_by_class",
        "rate_by_city",
        "rate_by_channel",
        "notice_compliance",
        "fees_by_week",
    ):
        assert f'data-chart="{key}"' in html
        assert reverse("staff-dashboard-csv", args=["marin", key]) in html
        spec = response.context["chart_data"][key]
        assert spec["title"] and spec["x_title"] and spec["y_title"]
        assert "(" in spec["y_title"]  # the axis says its unit


def test_each_chart_downloads_its_numbers_as_csv(scenario, staff_client):
    response = staff_client.get(reverse("staff-dashboard-csv", args=["marin", "rate_by_phase"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "marin-rate_by_phase.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Phase", "Accounts (customers)", "Opted out (customers)", "Opt-out rate (%)"]
    assert rows[1] == ["Phase 1", "200", "50", "25.0"]
    # Every chart's CSV holds the same rows as the chart on the page.
    board = dashboard_build(program=scenario.program, today=scenario.today)
    for key, table in board.tables.items():
        got = staff_client.get(reverse("staff-dashboard-csv", args=["marin", key]))
        assert len(got.content.decode().splitlines()) == 1 + len(table.rows), key
    missing = staff_client.get(reverse("staff-dashboard-csv", args=["marin", "nope"]))
    assert missing.status_code == 404
