"""The staff home and the dashboard as a person sees them: headless Chromium at a laptop's and a
phone's size, screenshots in var/screenshots/, axe-core at WCAG 2.2 AA, and keyboard-only use."""

import pytest
from django.urls import reverse

from tests.browser.axe import axe_summary, axe_violations, tab_stops
from tests.dashboard.scenario import build_scenario

SIZES = {"laptop": (1280, 800), "phone": (390, 844)}
PASSWORD = "a-long-test-password"

pytestmark = [pytest.mark.browser, pytest.mark.needs("chromium")]


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("ops", "ops@example.org", PASSWORD)


def _page(browser, live_server, size):
    width, height = SIZES[size]
    phone = size == "phone"
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone
    )
    page = context.new_page()
    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("text=Where each program stands")
    return context, page


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", list(SIZES))
def test_staff_home_reads_and_passes_axe(browser, live_server, screenshot, staff, size):
    scenario = build_scenario()
    context, page = _page(browser, live_server, size)
    try:
        screenshot(page, f"staff-home-{size}")
        section = page.locator("section.standing").first
        assert "Marin Clean Energy" in section.inner_text()
        assert "needs action" in section.inner_text().lower()
        # Nothing wider than the screen: the page does not scroll sideways.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= SIZES[size][0]
        violations = axe_violations(page)
        assert not violations, axe_summary(violations)

        # Keyboard only: every figure's link and the dashboard links are reached by Tab, each
        # with a visible focus indicator, and Enter on "late" opens the filtered list.
        stops = tab_stops(page)
        hrefs = [s["href"] for s in stops]
        for link in section.locator("a").all():
            assert link.get_attribute("href") in hrefs
        assert all(s["outline"] for s in stops if s["tag"] == "a"), [
            s for s in stops if not s["outline"]
        ]
        late = section.locator("a[href*='due=late']")
        late.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("#result_list")
        assert page.locator("#result_list tbody tr").count() == scenario.expected["late"]
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", list(SIZES))
def test_dashboard_draws_every_chart_and_passes_axe(browser, live_server, screenshot, staff, size):
    build_scenario()
    context, page = _page(browser, live_server, size)
    try:
        page.goto(live_server.url + reverse("staff-dashboard", args=["marin"]))
        page.wait_for_function("() => window.Chart && document.querySelectorAll('canvas').length")
        drawn = page.evaluate(
            "() => [...document.querySelectorAll('canvas[data-chart]')]"
            ".map(c => [c.dataset.chart, !!Chart.getChart(c), c.getAttribute('aria-label')])"
        )
        assert len(drawn) == 7
        for key, ok, label in drawn:
            assert ok, key
            assert label.startswith("Chart: ")
        # Each chart's axes carry their titles with units (read from the drawn chart).
        titles = page.evaluate(
            "() => Object.fromEntries([...document.querySelectorAll('canvas[data-chart]')].map("
            "c => [c.dataset.chart, Object.values(Chart.getChart(c).options.scales)"
            ".map(s => s.title.text)]))"
        )
        assert titles["optouts_per_day"] == [
            "Business day (date)",
            "Opt-outs (per day)",
            "Notices mailed (per day)",
        ]
        assert all(all(t for t in v) for v in titles.values()), titles
        screenshot(page, f"dashboard-{size}")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= SIZES[size][0]
        violations = axe_violations(page)
        assert not violations, axe_summary(violations)

        # The text alternative opens by keyboard, and every CSV download is reachable.
        stops = tab_stops(page)
        hrefs = [s["href"] for s in stops]
        for link in page.locator("a.csv, .chart-download a, .standing-links a").all():
            assert link.get_attribute("href") in hrefs
        assert sum(1 for s in stops if s["tag"] == "summary") == 7
        page.locator("details.chart-data summary").first.focus()
        page.keyboard.press("Enter")
        assert page.locator("details.chart-data").first.get_attribute("open") is not None
        violations = axe_violations(page)  # with a table open, too
        assert not violations, axe_summary(violations)

        # Printed: the tables show, the navigation does not.
        page.emulate_media(media="print")
        assert page.locator("#header").is_hidden()
        if size == "laptop":
            page.pdf(path="var/screenshots/dashboard-print.pdf")
    finally:
        context.close()
