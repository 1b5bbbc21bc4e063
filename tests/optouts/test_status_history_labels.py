"""Status history reads in words: the agent screen's "From → to", the account's status
inline, the status-change list, the History page and a change's own name show each status's
label ("Opted out before enrollment"), never its stored code ("opted_out_pre")."""

import re

import pytest

from accounts.models import Channel, StatusChange
from accounts.services.status import Actor
from optouts.services.intake import optout_submit
from tests.factories import staff_user

pytestmark = pytest.mark.django_db
CHANGE = "Notified → Opted out before enrollment"


@pytest.fixture
def changed(make_account, today):
    account = make_account()  # notified, before enrollment
    optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"))
    return account


def text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_agent_screen_shows_labels(client, groups, changed):
    client.force_login(staff_user("agent", "Call-centre agent"))
    page = text(client.get("/admin/optouts/optoutrequest/agent/", {"account": changed.pk}))
    assert CHANGE in page
    assert "opted_out_pre" not in page and "notified →" not in page


def test_the_admin_pages_show_labels(client, changed, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.org", "x"))
    account_page = text(client.get(f"/admin/accounts/serviceaccount/{changed.pk}/change/"))
    changes_list = text(client.get("/admin/accounts/statuschange/"))
    history = text(client.get(f"/admin/accounts/serviceaccount/{changed.pk}/history/"))
    for page in (account_page, changes_list, history):
        assert CHANGE in page
        assert "notified → opted_out_pre" not in page
    change = StatusChange.objects.get(account=changed, to_status="opted_out_pre")
    assert str(change) == f"{changed.pk}: {CHANGE}"
