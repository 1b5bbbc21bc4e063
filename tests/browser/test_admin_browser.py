"""A staff member finds a caller's account by phone in the admin and reads its status history."""

import pytest
from django.urls import reverse

from accounts.models import Channel, Status
from accounts.services.status import Actor, account_transition
from tests.factories import PhaseFactory, ProgramFactory, ServiceAccountFactory


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_finds_an_account_by_phone_and_sees_its_history(
    page, screenshot, live_server, django_user_model
):
    django_user_model.objects.create_superuser("ops", "ops@example.org", "a-long-test-password")
    program = ProgramFactory(slug="marin", name="Marin Clean Energy", short_name="MCE")
    phase = PhaseFactory(program=program, name="Phase 1")
    for n in range(12):
        ServiceAccountFactory(
            program=program,
            phase=phase,
            account_number=f"30044{n:05d}",
            customer_name=f"NEIGHBOUR {n}",
            phone=f"+1415555{n + 100:04d}",
        )
    garcia = ServiceAccountFactory(
        program=program,
        phase=phase,
        account_number="3004417250",
        customer_name="GARCIA, MARIA",
        service_address="1420 N SAN PEDRO RD",
        mailing_address="1420 N SAN PEDRO RD",
        phone="+14155550142",
        language="es",
        care=True,
        rate_schedule="TOU-D-4-9PM",
        read_cycle=7,
    )
    account_transition(
        account=garcia,
        to_status=Status.NOTIFIED,
        channel=Channel.MAIL_HOUSE,
        actor=Actor("mail-house report"),
        reason="pre-enrollment notice 1 mailed",
    )
    account_transition(
        account=garcia,
        to_status=Status.OPTED_OUT_PRE,
        channel=Channel.PHONE,
        actor=Actor("ops", None),
        reason="caller does not want CCA service",
    )

    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", "ops")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.goto(live_server.url + reverse("admin:accounts_serviceaccount_changelist"))
    screenshot(page, "admin-accounts-list")

    page.fill("#searchbar", "(415) 555-0142")
    page.press("#searchbar", "Enter")
    page.wait_for_selector("text=searched by phone +14155550142")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "GARCIA, MARIA" in rows.first.inner_text()
    screenshot(page, "admin-accounts-search-phone")

    rows.first.locator("th a").click()
    page.wait_for_selector("text=Status history (newest first)")
    history = page.locator(".status-history tbody tr.has_original")
    assert history.count() == 2
    assert "caller does not want CCA service" in history.nth(0).inner_text()
    assert "pre-enrollment notice 1 mailed" in history.nth(1).inner_text()
    # Status is shown, never offered as a field.
    assert page.locator("select[name=status], input[name=status]").count() == 0
    assert (
        "Opted out before enrollment" in page.locator(".fieldBox.field-status_display").inner_text()
    )
    screenshot(page, "admin-account-page")
