"""What each staff role may and may not do (docs/admin.md "Roles"), in the admin and the API,
and the program scope every role is held to (accounts.access)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Channel, FeeSchedule, Status
from accounts.services.status import Actor
from cca_notices.mailers.views import notice_preview_url
from cca_notices.models import MailBatch
from optouts.models import OptOutRequest
from optouts.services.intake import optout_submit

pytestmark = pytest.mark.django_db

AGENT_SCREEN = "/admin/optouts/optoutrequest/agent/"


def _batch(program, reference):
    return MailBatch.objects.create(
        program=program,
        kind="pre_enrollment_1",
        mail_date=dt.date(2027, 3, 15),
        reference=reference,
        created_by="test",
        meta={"files": [{"name": f"{reference}-data.csv", "type": "data"}]},
    )


def _account_change(account):
    return reverse("admin:accounts_serviceaccount_change", args=[account.pk])


def _contact_post(account, **changes):
    return {
        "mailing_address": account.mailing_address,
        "mailing_city": account.mailing_city,
        "mailing_state": account.mailing_state,
        "mailing_zip": account.mailing_zip,
        "email": account.email,
        "phone": "",
        "language": account.language,
        "status_changes-TOTAL_FORMS": str(account.status_changes.count()),
        "status_changes-INITIAL_FORMS": str(account.status_changes.count()),
        "status_changes-MIN_NUM_FORMS": "0",
        "status_changes-MAX_NUM_FORMS": "0",
        **changes,
    }


def test_call_centre_agent(client, role, make_account, other_account, today):
    agent = role("Call-centre agent")
    client.force_login(agent)
    mine = make_account(status=Status.NOTIFIED, account_number="3000000001")
    # May: find and open an account of their program, record an opt-out, open its certificate.
    listing = client.get(reverse("admin:accounts_serviceaccount_changelist")).content.decode()
    assert mine.account_number in listing and other_account.account_number not in listing
    assert client.get(AGENT_SCREEN, {"account": mine.pk}).status_code == 200
    client.post(f"{AGENT_SCREEN}?account={mine.pk}", {"channel": "phone"})
    assert OptOutRequest.objects.get().account == mine
    certificate = reverse("admin:cca_notices_notice_certificate", args=[mine.pk])
    assert client.get(certificate).status_code == 200
    # May not: another program's account, waivers, letter previews, batch files, edits.
    assert client.get(AGENT_SCREEN, {"account": other_account.pk}).status_code == 404
    assert client.get(_account_change(other_account)).status_code == 302  # "not found", to home
    found = client.get(AGENT_SCREEN, {"q": other_account.account_number}).content.decode()
    assert f"?account={other_account.pk}" not in found
    certificate_other = reverse("admin:cca_notices_notice_certificate", args=[other_account.pk])
    assert client.get(certificate_other).status_code == 404
    waive = reverse("admin:optouts_waive", args=[OptOutRequest.objects.get().pk])
    assert client.get(waive).status_code == 403
    assert client.get(notice_preview_url(mine.pk, "pre_enrollment_1")).status_code == 403
    batch = _batch(mine.program, "B-1")
    download = reverse("admin:cca_notices_mailbatch_download", args=[batch.pk, "B-1-data.csv"])
    assert client.get(download).status_code == 403
    response = client.post(_account_change(mine), _contact_post(mine, email="new@example.org"))
    assert response.status_code == 403


def test_supervisor(client, role, make_account, other_account, today):
    supervisor = role("Supervisor")
    client.force_login(supervisor)
    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    optout = optout_submit(account=account, channel=Channel.PHONE, actor=Actor("agent")).request
    # May: waive a fee, correct a contact, plan a fee change, re-queue requests.
    client.post(reverse("admin:optouts_waive", args=[optout.pk]), {"reason": "hardship"})
    optout.refresh_from_db()
    assert optout.fee_waived and optout.fee_waived_by == supervisor
    response = client.post(_account_change(account), _contact_post(account, email="n@example.org"))
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.email == "n@example.org"
    program = account.program
    page = reverse("admin:accounts_program_change", args=[program.pk])
    assert client.get(page).status_code == 200
    planned = {
        "name": "Changed by a supervisor",
        "cutoff_days": "1",
        **_program_inlines(program),
        "fee_schedules-2-TOTAL_FORMS": "1",
        "fee_schedules-2-0-customer_class": "residential",
        "fee_schedules-2-0-effective_from": "2027-06-01",
        "fee_schedules-2-0-admin_fee": "7.00",
        "fee_schedules-2-0-cost_recovery_charge": "0.00",
        "fee_schedules-2-0-program": str(program.pk),
    }
    response = client.post(page, planned)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert FeeSchedule.objects.filter(program=program, admin_fee=Decimal("7.00")).exists()
    program.refresh_from_db()
    assert program.name != "Changed by a supervisor" and program.cutoff_days != 1  # read-only
    assert (
        "resend" in client.get(reverse("admin:optouts_servicerequest_changelist")).content.decode()
    )
    # May not: another program's opt-outs.
    other = optout_submit(account=other_account, channel=Channel.PHONE, actor=Actor("x")).request
    assert client.get(reverse("admin:optouts_waive", args=[other.pk])).status_code == 404
    listing = client.get(reverse("admin:optouts_optoutrequest_changelist")).content.decode()
    assert optout.confirmation_code in listing and other.confirmation_code not in listing


def _program_inlines(program):
    """The management forms of the program page's inlines, as the browser sends them."""
    data = {}
    for prefix, initial in (
        ("phases", program.phases.count()),
        ("products", program.products.count()),
        ("fee_schedules", FeeSchedule.objects.filter(program=program).count()),
        ("fee_schedules-2", 0),
        ("closures", 0),
    ):
        data[f"{prefix}-TOTAL_FORMS"] = "0"
        data[f"{prefix}-INITIAL_FORMS"] = "0"
        data[f"{prefix}-MIN_NUM_FORMS"] = "0"
        data[f"{prefix}-MAX_NUM_FORMS"] = "1000"
        del initial
    return data


def test_mail_operations(client, role, make_account, other_account, today):
    ops = role("Mail operations")
    client.force_login(ops)
    account = make_account()
    mine, theirs = _batch(account.program, "B-MINE"), _batch(other_account.program, "B-THEIRS")
    # May: the batches of their program (files missing on disk → 404, not 403), letter previews.
    listing = client.get(reverse("admin:cca_notices_mailbatch_changelist")).content.decode()
    assert "B-MINE" in listing and "B-THEIRS" not in listing
    download = reverse("admin:cca_notices_mailbatch_download", args=[mine.pk, "B-MINE-data.csv"])
    assert client.get(download).status_code == 404
    preview = client.get(notice_preview_url(account.pk, "pre_enrollment_1"))
    assert preview.status_code == 200 and preview["Content-Type"] == "application/pdf"
    # May not: another program's batch or letter, opt-outs, account edits.
    theirs_url = reverse(
        "admin:cca_notices_mailbatch_download", args=[theirs.pk, "B-THEIRS-data.csv"]
    )
    assert client.get(theirs_url).status_code == 404
    assert client.get(notice_preview_url(other_account.pk, "pre_enrollment_1")).status_code == 404
    assert client.get(AGENT_SCREEN).status_code == 403
    response = client.post(_account_change(account), _contact_post(account, email="x@example.org"))
    assert response.status_code == 403


def test_compliance_auditor_reads_everything_and_changes_nothing(client, role, make_account, today):
    auditor = role("Compliance auditor")
    client.force_login(auditor)
    account = make_account(status=Status.NOTIFIED)
    optout = optout_submit(account=account, channel=Channel.WEB, actor=Actor("web")).request
    for name in (
        "accounts_serviceaccount_changelist",
        "accounts_statuschange_changelist",
        "accounts_program_changelist",
        "accounts_importrun_changelist",
        "optouts_optoutrequest_changelist",
        "optouts_feeentry_changelist",
        "optouts_servicerequest_changelist",
        "optouts_confirmation_changelist",
        "cca_notices_notice_changelist",
        "cca_notices_mailbatch_changelist",
    ):
        assert client.get(reverse(f"admin:{name}")).status_code == 200, name
    assert client.get(_account_change(account)).status_code == 200
    # Nothing that writes: no agent screen, no edits, no actions, no waivers, no downloads.
    assert client.get(AGENT_SCREEN).status_code == 403
    response = client.post(_account_change(account), _contact_post(account, email="y@example.org"))
    assert response.status_code == 403
    listing = client.get(reverse("admin:optouts_optoutrequest_changelist")).content.decode()
    assert "record_rejoin" not in listing
    action = client.post(
        reverse("admin:optouts_optoutrequest_changelist"),
        {"action": "record_rejoin", "_selected_action": [optout.pk]},
    )
    assert action.status_code in (200, 302, 403)
    assert not account.rejoin_requests.exists()
    assert client.get(reverse("admin:optouts_waive", args=[optout.pk])).status_code == 403
    assert client.get(notice_preview_url(account.pk, "pre_enrollment_1")).status_code == 403
    assert not auditor.get_all_permissions() - {
        p for p in auditor.get_all_permissions() if p.split(".")[1].startswith("view_")
    }


def test_api_feed(role, make_account, other_account, today):
    feed = role("API feed", is_staff=False)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=feed)[1]}")
    account = make_account(status=Status.NOTIFIED)
    # May: record and list opt-outs of its program, read its program.
    body = {"program": account.program.slug, "account_number": account.account_number}
    assert api.post("/api/v1/opt-outs/", body, format="json").status_code == 201
    assert [p["slug"] for p in api.get("/api/v1/programs/").json()] == [account.program.slug]
    # May not: another program's accounts (as missing as an unknown one), the admin.
    other = {"program": "other", "account_number": other_account.account_number}
    assert api.post("/api/v1/opt-outs/", other, format="json").status_code == 404
    status_url = f"/api/v1/accounts/{other_account.account_number}/opt-out-status/?program=other"
    assert api.get(status_url).status_code == 404
    optout_submit(account=other_account, channel=Channel.WEB, actor=Actor("web"))
    listed = api.get("/api/v1/opt-outs/").json()["results"]
    assert [r["program"] for r in listed] == [account.program.slug]
    assert APIClient().get("/admin/").status_code == 302


def test_program_access_is_granted_on_the_users_page_and_none_means_nothing(
    client, admin_client, groups, make_account
):
    from django.contrib.auth.models import User

    from accounts.models import ProgramAccess
    from tests.factories import staff_user

    account = make_account()
    agent = staff_user("new-agent", "Call-centre agent", programs=[])
    client.force_login(agent)
    listing = reverse("admin:accounts_serviceaccount_changelist")
    assert account.account_number not in client.get(listing).content.decode()
    page = admin_client.get(reverse("admin:auth_user_change", args=[agent.pk])).content.decode()
    assert "programs this user may see" in page.lower()
    ProgramAccess.objects.create(user=agent, program=account.program)
    client.force_login(User.objects.get(pk=agent.pk))
    assert account.account_number in client.get(listing).content.decode()


def test_the_audit_log_shows_an_auditor_only_the_programs_granted(
    client, role, make_account, other_account, today
):
    """Another program's account entries hold its customers' names and addresses."""
    from accounts.audit_log import AuditEntry

    auditor = role("Compliance auditor")
    mine = make_account(status=Status.NOTIFIED, account_number="3000000001")
    optout_submit(account=mine, channel=Channel.WEB, actor=Actor("web"))
    optout_submit(account=other_account, channel=Channel.WEB, actor=Actor("web"))
    other_program = other_account.program
    other_program.phone = "+14155550111"
    other_program.save()
    theirs = AuditEntry.objects.filter(account_id=other_account.pk)
    assert theirs.exists()
    their_settings = AuditEntry.objects.get_for_object(other_program).latest("timestamp")
    my_entry = AuditEntry.objects.filter(account_id=mine.pk).first()
    client.force_login(auditor)
    listing = client.get(reverse("admin:accounts_auditentry_changelist"))
    assert listing.status_code == 200
    shown = set(listing.context["cl"].result_list.values_list("pk", flat=True))
    assert my_entry.pk in shown
    assert not shown & set(theirs.values_list("pk", flat=True))
    assert their_settings.pk not in shown
    for entry in (theirs.first(), their_settings):
        url = reverse("admin:accounts_auditentry_change", args=[entry.pk])
        assert client.get(url).status_code in (302, 404)
    mine_url = reverse("admin:accounts_auditentry_change", args=[my_entry.pk])
    assert client.get(mine_url).status_code == 200
