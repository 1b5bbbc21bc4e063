"""The staff home: each program's figures, and each figure's link shows exactly its rows."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils.html import escape

from cca_notices.dashboard_views import DASHBOARD_PERMISSION
from optouts.services.standing import program_standing
from tests.dashboard.scenario import build_scenario
from tests.factories import grant_programs

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario():
    return build_scenario()


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("ops", "ops@example.org", "pw-long-enough")
    client.force_login(user)
    return client


def test_standing_counts_what_is_due_late_and_waiting(scenario):
    s = program_standing(program=scenario.program, today=scenario.today)
    exp = scenario.expected
    assert s.mail.due == exp["due"] > 0
    assert s.mail.late == exp["late"] > 0
    assert s.mail.batches_unconfirmed == exp["batches_unconfirmed"]
    assert s.mail.batches_overdue == exp["batches_overdue"]
    assert s.ccasr_queued == exp["ccasr_queued"] > 0
    assert s.ccasr_sent == exp["ccasr_sent"] > 0
    assert 0 < s.ccasr_overdue == exp["ccasr_overdue"] < s.ccasr_sent
    assert s.confirmations_overdue == exp["confirmations_overdue"] > 0
    assert s.address_repair == exp["address_repair"] > 0
    assert [(p.phase.name, p.state) for p in s.phases] == [
        ("Phase 1", "enrolling"),
        ("Phase 2", "ahead"),
    ]
    # The next mail drops, soonest first, by kind: tomorrow's post-enrollment notices (some in
    # a batch, some in none) come before phase 2's first notice.
    first = s.mail.next_drops[0]
    assert first.mail_date > scenario.today
    assert first.kind == "post_enrollment_1"
    assert first.scheduled == exp["due"]
    assert [d.mail_date for d in s.mail.next_drops] == sorted(
        d.mail_date for d in s.mail.next_drops
    )


def test_each_home_link_shows_exactly_the_rows_it_counts(scenario, staff_client):
    other = build_scenario(slug="sonoma", accounts=60)  # another program's rows stay out
    response = staff_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert response.templates[0].name == "admin/staff_home.html"
    programs = {p["standing"].program.slug: p for p in response.context["programs"]}
    assert set(programs) == {"marin", "sonoma"}
    checked = 0
    for slug in ("marin", "sonoma"):
        for figures in programs[slug]["figures"].values():
            for f in figures:
                assert f.url, f.label
                assert escape(f.url) in response.content.decode()
                listed = staff_client.get(f.url)
                assert listed.status_code == 200, f.url
                # An unknown filter parameter makes the admin redirect with ?e=1: not here.
                assert "e=1" not in listed.get("Location", "")
                assert listed.context["cl"].result_count == f.count, (slug, f.label, f.url)
                checked += 1
    assert checked == 20
    assert other.expected["late"] > 0


def test_home_lists_the_models_too_and_links_the_dashboard(scenario, staff_client):
    html = staff_client.get(reverse("admin:index")).content.decode()
    assert reverse("staff-dashboard", args=["marin"]) in html
    assert reverse("staff-board-report-pdf", args=["marin"]) in html
    assert reverse("admin:accounts_serviceaccount_changelist") in html  # the app list is kept


def test_staff_without_a_list_permission_see_the_count_but_no_link(
    scenario, client, django_user_model
):
    user = grant_programs(
        django_user_model.objects.create_user("clerk", password="pw-long-enough", is_staff=True)
    )
    user.user_permissions.add(Permission.objects.get(codename="view_notice"))
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    figures = response.context["programs"][0]["figures"]
    assert figures["mail"][1].url and "due=late" in figures["mail"][1].url
    assert figures["utility"][0].url is None  # no view permission on service requests
    assert figures["utility"][0].count == scenario.expected["ccasr_queued"]
    assert not response.context["can_see_dashboard"]
    assert reverse("staff-dashboard", args=["marin"]) not in response.content.decode()
    assert client.get(reverse("staff-dashboard", args=["marin"])).status_code == 403


def test_anonymous_is_sent_to_the_login(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_staff_see_the_standing_and_dashboard_of_their_own_programs_only(
    scenario, client, django_user_model
):
    from tests.factories import ProgramFactory

    other = ProgramFactory(slug="other", name="Other Community Power")
    user = django_user_model.objects.create_user("ops2", password="pw-long-enough", is_staff=True)
    grant_programs(user, [scenario.program])
    app, codename = DASHBOARD_PERMISSION.split(".")
    user.user_permissions.add(
        Permission.objects.get(codename=codename, content_type__app_label=app)
    )
    client.force_login(user)
    home = client.get(reverse("admin:index"))
    assert [p["standing"].program for p in home.context["programs"]] == [scenario.program]
    assert "Other Community Power" not in home.content.decode()
    for name in ("staff-dashboard", "staff-board-report-pdf", "staff-board-report-csv"):
        assert client.get(reverse(name, args=["marin"])).status_code == 200, name
        assert client.get(reverse(name, args=[other.slug])).status_code == 404, name


def test_overdue_confirmations_this_site_cannot_send_are_named_with_the_setting(
    scenario, staff_client, settings
):
    from optouts.models import Confirmation

    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM_NUMBER = ""
    late = Confirmation.objects.filter(status="issued").first()
    Confirmation.objects.filter(pk=late.pk).update(
        method="sms", status="pending", phone="+14155550123"
    )
    s = program_standing(program=scenario.program, today=scenario.today)
    assert s.confirmations_unsendable == {"sms": 1}
    assert s.confirmations_overdue == scenario.expected["confirmations_overdue"]  # still counted
    response = staff_client.get(reverse("admin:index"))
    marin = next(p for p in response.context["programs"] if p["standing"].program.slug == "marin")
    [figure] = [f for f in marin["figures"]["customers"] if "cannot send" in f.label]
    assert "Twilio" in figure.label and figure.count == 1
    assert staff_client.get(figure.url).context["cl"].result_count == 1
    # Once Twilio is set, the row is an ordinary overdue confirmation: no such line.
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "t"
    settings.TWILIO_FROM_NUMBER = "+14155550100"
    html = staff_client.get(reverse("admin:index")).content.decode()
    assert "cannot send" not in html
