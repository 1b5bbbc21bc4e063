"""The utility desk in a browser: the rejected work queue with the utility's reason, the
"Correct and send again" confirmation, and an enrollment reconciliation's report."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Channel, Status
from accounts.services.status import Actor
from optouts.models import EnrollmentReconciliation
from optouts.models import ServiceRequest as SR
from optouts.services.edi_export import ccasr_export
from optouts.services.intake import optout_submit
from tests.ccasr.utility import requests_in, response_set, write
from tests.factories import PhaseFactory


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_utility_desk(
    page,
    screenshot,
    live_server,
    django_user_model,
    make_account,
    program,
    cca_sends,
    tmp_path,
    today,
):
    django_user_model.objects.create_superuser("ops", "ops@example.org", "a-long-test-password")
    phase = PhaseFactory(
        program=program,
        name="Phase 1",
        enrollment_start=dt.date(2027, 4, 1),
        enrollment_end=dt.date(2027, 4, 30),
    )
    a = make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2), phase=phase)
    b = make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2), phase=phase)
    result = ccasr_export(program=program, out_dir=tmp_path, actor_name="t")
    _, (ra, rb) = requests_in(result.path)
    answers = [
        response_set(cca_sends, ra, accept=False, code="A13", text="Service account not found"),
        response_set(cca_sends, rb),
    ]
    call_command("import_ccasr_responses", str(write(tmp_path, "r.x12", cca_sends, "GE", answers)))
    opted = make_account(status=Status.NOTIFIED, phase=phase)
    optout_submit(account=opted, channel=Channel.WEB, actor=Actor("web"))
    missing = make_account(status=Status.NOTIFIED, phase=phase)
    enrolled = tmp_path / "enrolled.csv"
    enrolled.write_text(
        "account_number,enrollment_date\n"
        f"{opted.account_number},2027-04-02\n{b.account_number},2027-04-02\n3999999999,2027-04-02\n"
    )
    call_command("reconcile_enrollment", str(enrolled), "--program", program.slug)

    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", "ops")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.goto(
        live_server.url + reverse("admin:optouts_servicerequest_changelist") + "?queue=rejected"
    )
    expect(page.get_by_text("A13 Service account not found")).to_be_visible()
    screenshot(page, "edi-work-queue-rejected")
    page.check(f"input[name=_selected_action][value='{SR.objects.get(account=a).pk}']")
    page.select_option("select[name=action]", "resend")
    page.click("button[name=index]")
    expect(page.get_by_role("button", name="Send again")).to_be_visible()
    screenshot(page, "edi-resend-confirm")
    page.click("input[name=apply]")
    expect(page.get_by_text("1 request(s) queued for the next interchange")).to_be_visible()
    rec = EnrollmentReconciliation.objects.get()
    page.goto(
        live_server.url + reverse("admin:optouts_enrollmentreconciliation_change", args=[rec.pk])
    )
    expect(page.get_by_text("customer opted out in time", exact=False).first).to_be_visible()
    expect(page.get_by_text(missing.account_number, exact=True)).to_be_visible()
    screenshot(page, "edi-reconciliation")
