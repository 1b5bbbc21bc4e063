import datetime as dt

import pytest
from django.contrib.auth.models import User

from accounts.models import Status
from optouts.models import OptOutRequest
from tests.factories import staff_user

pytestmark = pytest.mark.django_db


def staff(name, group):
    return staff_user(name, group)


@pytest.fixture
def agent_client(client, groups, program):
    client.force_login(staff("agent", "Call-centre agent"))
    return client


def test_groups_carry_the_right_permissions(groups):
    agent, supervisor = staff("a", "Call-centre agent"), staff("s", "Supervisor")
    assert agent.has_perm("optouts.record_optout") and not agent.has_perm("optouts.waive_fee")
    assert not agent.has_perm("accounts.change_feeschedule") and not agent.has_perm(
        "accounts.add_feeschedule"
    )
    assert supervisor.has_perm("optouts.waive_fee") and supervisor.has_perm(
        "accounts.change_feeschedule"
    )


def test_agent_finds_an_account_sees_the_quote_and_records_a_phone_opt_out(
    agent_client, make_account, today
):
    account = make_account(
        status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2), customer_name="MARIA LOPEZ"
    )
    found = agent_client.get("/admin/optouts/optoutrequest/agent/", {"q": account.account_number})
    assert f"?account={account.pk}" in found.content.decode()
    detail = agent_client.get(
        "/admin/optouts/optoutrequest/agent/", {"account": account.pk}
    ).content.decode()
    assert "MARIA LOPEZ" in detail and "$6.25" in detail and "2027-04-02" in detail
    done = agent_client.post(
        f"/admin/optouts/optoutrequest/agent/?account={account.pk}",
        {"channel": "utility_transfer", "return_path": "transitional"},
        follow=True,
    )
    r = OptOutRequest.objects.get()
    assert (r.channel, r.actor_name, r.return_path) == ("utility_transfer", "agent", "transitional")
    assert r.confirmation_code in done.content.decode()
    account.refresh_from_db()
    assert account.status == Status.TERMINATED


def test_agent_search_by_name(agent_client, make_account, today):
    account = make_account(customer_name="ZEBULON QUIMBY")
    page = agent_client.get("/admin/optouts/optoutrequest/agent/", {"q": "quimby"}).content.decode()
    assert account.account_number in page


def test_agent_cannot_waive_but_supervisor_can(client, groups, make_account, today):
    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    from accounts.services.status import Actor
    from optouts.services.intake import optout_submit

    r = optout_submit(account=account, channel="phone", actor=Actor("agent")).request
    client.force_login(staff("agent", "Call-centre agent"))
    assert (
        client.post(
            f"/admin/optouts/optoutrequest/{r.pk}/waive/", {"reason": "hardship"}
        ).status_code
        == 403
    )
    client.force_login(staff("boss", "Supervisor"))
    client.post(f"/admin/optouts/optoutrequest/{r.pk}/waive/", {"reason": "hardship"})
    r.refresh_from_db()
    assert r.fee_waived and r.fee_waived_by.username == "boss" and r.fee_waiver_reason == "hardship"
    assert r.fee_due == 0 and r.fee_amount > 0


def test_reply_card_batch(agent_client, make_account, program, today):
    a = make_account(status=Status.NOTIFIED)
    b = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    lines = f"{a.account_number}\n\n999-bogus\n{b.account_number}\n{a.account_number}\n"
    page = agent_client.post(
        "/admin/optouts/optoutrequest/reply-cards/", {"lines": lines}, follow=True
    ).content.decode()
    assert "2 recorded, 1 already recorded, 1 not found, 0 refused" in page
    assert set(OptOutRequest.objects.values_list("channel", flat=True)) == {"reply_card"}
    assert OptOutRequest.objects.count() == 2


def test_a_user_without_the_permission_cannot_use_the_agent_screen(client, db):
    client.force_login(User.objects.create_user("clerk", is_staff=True))
    assert client.get("/admin/optouts/optoutrequest/agent/").status_code == 403
