"""The service-account admin: list, search, filters, the account page, and what it refuses."""

import datetime as dt

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from accounts.models import Channel, ServiceAccount, Status, StatusChange
from accounts.services.calendar import today
from accounts.services.status import Actor, account_transition
from cca_notices.mailers.views import notice_preview_url
from tests.factories import PhaseFactory, ProgramFactory, ReadDateFactory, ServiceAccountFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:accounts_serviceaccount_changelist")


def change_url(account):
    return reverse("admin:accounts_serviceaccount_change", args=[account.pk])


@pytest.fixture
def program():
    return ProgramFactory(slug="marin", short_name="MCE")


@pytest.fixture
def garcia(program, admin_user):
    account = ServiceAccountFactory(
        program=program,
        account_number="3004417250",
        customer_name="GARCIA, MARIA",
        service_address="1420 N SAN PEDRO RD",
        phone="+14155550142",
        language="es",
        care=True,
    )
    actor = Actor.of(admin_user)
    account_transition(
        account=account,
        to_status=Status.NOTIFIED,
        channel=Channel.MAIL_HOUSE,
        actor=Actor("mail-house report"),
        reason="pre-enrollment notice 1 mailed",
    )
    account_transition(
        account=account,
        to_status=Status.OPTED_OUT_PRE,
        channel=Channel.PHONE,
        actor=actor,
        reason="caller does not want CCA service",
    )
    return account


@pytest.fixture
def chen(program):
    return ServiceAccountFactory(
        program=program,
        account_number="3004417999",
        customer_name="CHEN WEI",
        service_address="88 MAIN ST",
        phone="+17075550188",
    )


def listed(response):
    return sorted(a.account_number for a in response.context["cl"].result_list)


def test_changelist_renders_with_filters_and_search_box(admin_client, program, garcia, chen):
    PhaseFactory(program=program, name="Phase 1")
    ServiceAccountFactory(program=ProgramFactory(slug="sonoma"), account_number="9")
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert listed(response) == ["3004417250", "3004417999", "9"]
    html = " ".join(response.content.decode().split())
    assert 'id="searchbar"' in html
    for title in (
        "program",
        "phase",
        "customer class",
        "status",
        "language",
        "CARE",
        "NEM",
        "direct access",
        "address needs repair",
    ):
        assert f"By {title}" in html
    assert "Show counts" not in html  # facet counts would scan a million rows per choice


@pytest.mark.parametrize(
    "query",
    [
        "3004417250",
        "300441725",
        "(415) 555-0142",
        "+1 415 555 0142",
        "maria garcia",
        "san pedro road",
    ],
)
def test_search_by_each_strategy_finds_garcia_only(admin_client, garcia, chen, query):
    response = admin_client.get(CHANGELIST, {"q": query})
    assert response.status_code == 200
    assert listed(response) == ["3004417250"]
    assert "searched by" in response.content.decode()


def test_search_by_phone_says_which_rule_was_used(admin_client, garcia, chen):
    response = admin_client.get(CHANGELIST, {"q": "(707) 555-0188"})
    assert listed(response) == ["3004417999"]
    assert "searched by phone +17075550188" in response.content.decode()


def test_filters(admin_client, program, garcia, chen):
    phase = PhaseFactory(program=program, name="Phase 2")
    ServiceAccount.objects.filter(pk=chen.pk).update(
        phase=phase, nem=True, address_needs_repair=True
    )
    assert listed(admin_client.get(CHANGELIST, {"status__exact": Status.OPTED_OUT_PRE})) == [
        "3004417250"
    ]
    assert listed(admin_client.get(CHANGELIST, {"status__exact": Status.ELIGIBLE})) == [
        "3004417999"
    ]
    assert listed(admin_client.get(CHANGELIST, {"phase__id__exact": phase.pk})) == ["3004417999"]
    assert listed(admin_client.get(CHANGELIST, {"language": "es"})) == ["3004417250"]
    assert listed(admin_client.get(CHANGELIST, {"care__exact": "1"})) == ["3004417250"]
    assert listed(admin_client.get(CHANGELIST, {"nem__exact": "1"})) == ["3004417999"]
    assert listed(admin_client.get(CHANGELIST, {"address_needs_repair__exact": "1"})) == [
        "3004417999"
    ]
    assert listed(
        admin_client.get(CHANGELIST, {"customer_class__exact": "residential", "q": "chen"})
    ) == ["3004417999"]


def test_program_filter_and_phase_choices_follow_the_program(admin_client, program, garcia):
    other = ProgramFactory(slug="sonoma")
    PhaseFactory(program=program, name="Marin phase")
    PhaseFactory(program=other, name="Sonoma phase")
    ServiceAccountFactory(program=other, account_number="9")
    response = admin_client.get(CHANGELIST, {"program__id__exact": program.pk})
    assert listed(response) == ["3004417250"]
    html = response.content.decode()
    assert "Marin phase" in html and "Sonoma phase" not in html


def test_change_page_shows_facts_and_status_history_newest_first(admin_client, garcia):
    ReadDateFactory(
        utility=garcia.program.utility,
        read_cycle=garcia.read_cycle,
        read_date=today() + dt.timedelta(days=9),
    )
    response = admin_client.get(change_url(garcia))
    assert response.status_code == 200
    html = response.content.decode()
    next_read = f"next read {today() + dt.timedelta(days=9):%a %b %-d, %Y}"
    for fact in (
        "3004417250",
        "GARCIA, MARIA",
        "Opted out before enrollment",
        "CARE",
        garcia.opt_out_code,
        garcia.program.name,
        "Residential",
        next_read,
    ):
        assert fact in html
    history = html[html.index("Status history") :]
    newest, older = (
        history.index("caller does not want CCA service"),
        history.index("pre-enrollment notice 1 mailed"),
    )
    assert newest < older
    assert "Call-centre agent" in history and "mail-house report" in history


def test_status_is_not_editable(admin_client, garcia):
    response = admin_client.get(change_url(garcia))
    form = response.context["adminform"].form
    assert "status" not in form.fields
    data = {
        "mailing_address": "PO BOX 9",
        "mailing_city": "San Rafael",
        "mailing_state": "ca",
        "mailing_zip": "94901",
        "email": "",
        "phone": "415 555 0142",
        "language": "es",
        "status": Status.ENROLLED,
        "status_changes-TOTAL_FORMS": "2",
        "status_changes-INITIAL_FORMS": "2",
        "status_changes-MIN_NUM_FORMS": "0",
        "status_changes-MAX_NUM_FORMS": "0",
    }
    response = admin_client.post(change_url(garcia), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    garcia.refresh_from_db()
    assert garcia.status == Status.OPTED_OUT_PRE
    assert StatusChange.objects.filter(account=garcia).count() == 2
    # The contact correction itself went through, normalised, and is logged.
    assert (garcia.mailing_address, garcia.mailing_city, garcia.mailing_state) == (
        "PO BOX 9",
        "SAN RAFAEL",
        "CA",
    )
    assert LogEntry.objects.filter(object_id=str(garcia.pk)).exists()


def test_contact_correction_rejects_a_bad_phone(admin_client, garcia):
    data = {
        "mailing_address": "PO BOX 9",
        "mailing_city": "SAN RAFAEL",
        "mailing_state": "CA",
        "mailing_zip": "94901",
        "email": "",
        "phone": "555-01",
        "language": "es",
        "status_changes-TOTAL_FORMS": "2",
        "status_changes-INITIAL_FORMS": "2",
        "status_changes-MIN_NUM_FORMS": "0",
        "status_changes-MAX_NUM_FORMS": "0",
    }
    response = admin_client.post(change_url(garcia), data)
    assert response.status_code == 200
    assert "not a valid telephone number" in str(response.context["adminform"].form.errors["phone"])
    garcia.refresh_from_db()
    assert garcia.mailing_address != "PO BOX 9"


def test_delete_is_refused(admin_client, garcia):
    delete = reverse("admin:accounts_serviceaccount_delete", args=[garcia.pk])
    assert admin_client.get(delete).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    # No bulk action either.
    response = admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [garcia.pk]}
    )
    assert ServiceAccount.objects.filter(pk=garcia.pk).exists()
    assert "action-checkbox" not in admin_client.get(CHANGELIST).content.decode()
    assert response.status_code in (200, 302)


def test_accounts_are_not_added_by_hand(admin_client):
    assert admin_client.get(reverse("admin:accounts_serviceaccount_add")).status_code == 403


def test_status_change_admin_is_read_only(admin_client, garcia):
    change = StatusChange.objects.filter(account=garcia).first()
    assert admin_client.get(reverse("admin:accounts_statuschange_changelist")).status_code == 200
    response = admin_client.get(
        reverse("admin:accounts_statuschange_changelist"), {"q": "(415) 555-0142"}
    )
    assert {c.account_id for c in response.context["cl"].result_list} == {garcia.pk}
    url = reverse("admin:accounts_statuschange_change", args=[change.pk])
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url, {"reason": "edited"}).status_code == 403
    delete = reverse("admin:accounts_statuschange_delete", args=[change.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert StatusChange.objects.filter(
        pk=change.pk, reason="pre-enrollment notice 1 mailed"
    ).exists()


def test_change_page_links_to_proof_of_notice(admin_client, garcia):
    page = admin_client.get(change_url(garcia)).content.decode()
    assert reverse("admin:cca_notices_notice_certificate", args=[garcia.pk]) in page
    assert reverse("admin:cca_notices_accountnotices_change", args=[garcia.pk]) in page
    pdf = admin_client.get(reverse("admin:cca_notices_notice_certificate", args=[garcia.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"


def test_change_page_links_letter_previews(admin_client, garcia):
    page = admin_client.get(change_url(garcia)).content.decode()
    assert notice_preview_url(garcia.pk, "post_enrollment_2", "pdf") in page
    assert notice_preview_url(garcia.pk, "pre_enrollment_1", "png") in page


def test_rate_tables_are_read_only(admin_client):
    assert admin_client.get(reverse("admin:accounts_jrcrow_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:accounts_jrcrow_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:accounts_powercontentlabel_changelist")).status_code == 200
    )


def test_change_page_says_which_import_created_the_account(admin_client, garcia):
    from accounts.models import ImportRun

    run = ImportRun.objects.create(
        program=garcia.program,
        kind=ImportRun.Kind.ACCOUNTS,
        file_name="/data/sce/eligible-2027-01.csv",
        actor="ops.lee",
    )
    type(garcia).objects.filter(pk=garcia.pk).update(import_run=run)
    page = admin_client.get(change_url(garcia)).content.decode()
    assert f"import run {run.pk}</a> (eligible-2027-01.csv)" in page and "by ops.lee" in page
