"""A compliance reviewer opens an account's History from its page and reads the whole trail."""

import datetime as dt

import pytest
from django.urls import reverse

from accounts.audit_context import audit_context
from accounts.models import Channel, Status
from accounts.services.status import Actor
from optouts.services.intake import optout_submit


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_account_history_page_reads_as_a_trail(
    page, screenshot, live_server, django_user_model, customer, today
):
    django_user_model.objects.create_superuser("auditor", "a@example.org", "a-long-test-password")
    account = customer(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    with audit_context(channel="phone", actor_name="agent-7", request_id="req-demo-0001"):
        optout_submit(
            account=account,
            channel=Channel.PHONE,
            actor=Actor("agent-7"),
            return_path="transitional",
        )

    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", "auditor")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.goto(live_server.url + reverse("admin:accounts_serviceaccount_change", args=[account.pk]))
    page.click("a.historylink")
    page.wait_for_selector("#audit-history")
    rows = page.locator("#audit-history tbody tr")
    assert rows.count() >= 4
    text = page.locator("#audit-history").inner_text()
    assert "agent-7" in text and "phone" in text and "req-demo-0001" in text
    assert "Participant → Terminated after the free window" in text  # labels, not codes
    assert page.locator("text=Records of this service account as they stand").count() == 1
    screenshot(page, "admin-account-audit-history")
