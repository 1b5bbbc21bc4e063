"""The call-centre agent screen in headless Chromium at 1280×800 and 390×844: an account that has
already opted out reads as a sentence with the opt-out on file, every table column stays inside
its panel, and axe-core finds nothing at WCAG 2.2 AA. Screenshots: var/screenshots/agent_*.png."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from accounts.models import Status
from tests.browser.axe import axe_summary, axe_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.needs("chromium"),
    pytest.mark.django_db(transaction=True),
]

SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}

# Every cell of the screen's tables whose right edge lies past its panel's (the bug: the
# "Effective" column of the opt-out table was cut off by the panel).
CLIPPED = """() => [...document.querySelectorAll('.oo-box td, .oo-box th')].filter(c => {
  const box = c.closest('.oo-box').getBoundingClientRect(), r = c.getBoundingClientRect();
  const head = c.closest('thead');  // kept for screen readers, visually hidden when stacked
  if (head && head.getBoundingClientRect().width <= 1) return false;
  return r.width > 0 && r.right > box.right + 1;
}).map(c => c.innerText.trim() || c.outerHTML.slice(0, 60))"""


@pytest.mark.parametrize("size", sorted(SIZES))
def test_agent_screen_for_an_account_already_opted_out(
    size, browser, live_server, screenshot, staff, terminate, make_account
):
    optout = terminate()
    enrolled = make_account(
        status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 6, 2), account_number="3055509999"
    )
    client = Client()
    client.force_login(staff["supervisor"])  # sees the waiver column too: the widest table
    context = browser.new_context(**SIZES[size])
    context.set_default_timeout(10_000)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    width = SIZES[size]["viewport"]["width"]
    url = f"{live_server.url}/admin/optouts/optoutrequest/agent/"
    try:
        page.goto(f"{url}?account={optout.account_id}")
        page.wait_for_selector("text=Opt-out requests")
        screenshot(page, f"agent_already_opted_out_{size}")
        text = page.inner_text("#content")
        assert "already_opted_out" not in text
        assert "This account has already opted out" in text
        refusal = page.inner_text(".oo-refused")
        assert refusal.startswith("Already opted out.")
        # The opt-out on file: its code, when and through which channel it came.
        facts = page.inner_text(".oo-box:has(.oo-refused)")
        assert optout.confirmation_code in facts
        assert f"{optout.received_at:%Y-%m-%d}" in facts and "by web form" in facts
        # No record form for an account that cannot opt out.
        assert page.locator("input[value='Record opt-out']").count() == 0

        assert page.evaluate(CLIPPED) == []
        effective = page.locator(".oo-stack td[data-label=Effective]").first
        assert effective.is_visible()
        assert f"{optout.effective_date:%Y-%m-%d}" in effective.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        violations = axe_violations(page)
        assert not violations, axe_summary(violations)

        # An account that can opt out: the quote in words, the record form, the same checks.
        page.goto(f"{url}?account={enrolled.pk}")
        page.wait_for_selector("text=Record the opt-out")
        screenshot(page, f"agent_record_{size}")
        text = page.inner_text("#content")
        assert "After the free window (termination fee)" in text
        assert "after_free_window" not in text and "advance_notice" not in text
        assert "Six-month advance notice, then standard bundled rates" in text
        assert page.evaluate(CLIPPED) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        violations = axe_violations(page)
        assert not violations, axe_summary(violations)

        # A hand-edited link is said on the page, not a server error.
        response = page.goto(f"{url}?account=abc")
        assert response.status == 200 and "No account with id 'abc'" in page.inner_text("body")
    finally:
        context.close()
