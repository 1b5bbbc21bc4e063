"""The opt-out form in headless Chromium, end to end, on a phone and on a desktop."""

import datetime as dt

import pytest

from accounts.models import Status
from optouts.models import OptOutRequest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def enrolled(make_account, program, today):
    return make_account(
        status=Status.PARTICIPANT,
        enrollment_date=dt.date(2026, 6, 2),
        account_number="3055501234",
        product=program.products.get(code="deep-green"),
    )


def test_english_on_a_phone(live_server, phone_page, screenshot, enrolled):
    page = phone_page
    page.goto(f"{live_server.url}/opt-out/")
    screenshot(page, "optout_en_1_form_phone")
    # Keyboard only: tab into the fields and submit with Enter.
    page.get_by_label("Account number").fill("3055501234")
    page.get_by_label("Service ZIP code").fill("90210")
    page.keyboard.press("Enter")
    page.wait_for_selector("[role=alert]")
    assert "could not find an account" in page.inner_text("[role=alert]")
    screenshot(page, "optout_en_2_not_found_phone")
    page.get_by_label("Service ZIP code").fill(enrolled.service_zip)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("h1:has-text('Review your opt-out')")
    assert "$6.25" in page.content()
    # Nothing overflows the 390px screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "optout_en_3_review_phone")
    page.get_by_label("Return now on transitional bundled service").check()
    page.get_by_role("button", name="Confirm my opt-out").click()
    page.wait_for_selector("h1:has-text('Your opt-out is confirmed')")
    screenshot(page, "optout_en_4_done_phone")
    r = OptOutRequest.objects.get()
    assert r.confirmation_code in page.inner_text(".oo-code")
    assert r.return_path == "transitional"


def test_spanish_on_a_desktop(live_server, page, screenshot, enrolled):
    page.goto(f"{live_server.url}/es/opt-out/")
    assert page.get_attribute("html", "lang") == "es"
    page.get_by_role("button", name="Continuar").click()
    # Both field errors are announced and tied to their inputs.
    assert page.get_attribute("#id_account_number", "aria-invalid") == "true"
    assert "id_account_number_error" in page.get_attribute("#id_account_number", "aria-describedby")
    screenshot(page, "optout_es_1_errors")
    page.get_by_label("Número de cuenta").fill("3055501234")
    page.get_by_label("Código postal del servicio").fill(enrolled.service_zip)
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_selector("h1:has-text('Revise su solicitud de baja')")
    screenshot(page, "optout_es_2_review")
    page.get_by_role("button", name="Confirmar mi baja").click()
    page.wait_for_selector("h1:has-text('Su baja está confirmada')")
    screenshot(page, "optout_es_3_done")
    assert OptOutRequest.objects.get().language == "es"


def test_agent_screen(live_server, page, screenshot, enrolled, groups):
    from django.contrib.auth.models import Group, User

    from accounts.models import ProgramAccess

    agent = User.objects.create_user("agent", password="agent-pass-123", is_staff=True)
    agent.groups.add(Group.objects.get(name="Call-centre agent"))
    ProgramAccess.objects.create(user=agent, program=enrolled.program)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/optouts/optoutrequest/agent/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", "agent-pass-123")
    page.click("input[type=submit]")
    page.fill("#id_q", enrolled.account_number)
    page.keyboard.press("Enter")
    page.click(f"text={enrolled.account_number}")
    page.wait_for_selector("text=If the customer opts out today")
    assert "$6.25" in page.content()
    page.select_option("#id_channel", "utility_transfer")
    page.click("input[value='Record opt-out']")
    page.wait_for_selector(".messagelist")
    screenshot(page, "optout_admin_agent")
    assert OptOutRequest.objects.get().channel == "utility_transfer"
