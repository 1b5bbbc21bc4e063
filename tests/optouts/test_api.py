import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import ProgramAccess, Status
from optouts.models import OptOutRequest

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return client


@pytest.fixture
def api(db, program):
    user = User.objects.create_user("utility-feed")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["record_optout", "view_optoutrequest"])
    )
    ProgramAccess.objects.create(user=user, program=program)
    return token_client(user)


def body(account, **extra):
    return {
        "program": account.program.slug,
        "account_number": account.account_number,
        "channel": "utility_transfer",
        **extra,
    }


def test_create_is_idempotent_per_key(api, make_account, today):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    first = api.post("/api/v1/opt-outs/", body(account), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/v1/opt-outs/", body(account), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert (
        first.json()["outcome"] == "free_window" and first.json()["effective_date"] == "2027-04-02"
    )
    assert OptOutRequest.objects.get().channel == "utility_transfer"


def test_same_key_with_another_body_is_refused(api, make_account, today):
    account = make_account()
    api.post("/api/v1/opt-outs/", body(account), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    clash = api.post(
        "/api/v1/opt-outs/",
        body(account, note="different"),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert clash.status_code == 422 and "different request body" in clash.json()["detail"]


def test_a_second_key_for_the_same_account_returns_the_first_opt_out(api, make_account, today):
    account = make_account()
    first = api.post("/api/v1/opt-outs/", body(account), format="json", HTTP_IDEMPOTENCY_KEY="a")
    second = api.post("/api/v1/opt-outs/", body(account), format="json", HTTP_IDEMPOTENCY_KEY="b")
    assert second.status_code == 200
    assert second.json()["confirmation_code"] == first.json()["confirmation_code"]


def test_refusal_and_unknown_account(api, make_account, program, today):
    program.accept_optouts_before_notice = False
    program.save()
    account = make_account(status=Status.ELIGIBLE)
    refused = api.post("/api/v1/opt-outs/", body(account), format="json")
    assert refused.status_code == 409 and refused.json()["outcome"] == "refused_before_notice"
    missing = api.post(
        "/api/v1/opt-outs/", {**body(account), "account_number": "999"}, format="json"
    )
    assert missing.status_code == 404


def test_status_is_scoped_by_program(api, make_account, program, today):
    from tests.factories import ProgramFactory

    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    other = ProgramFactory(slug="other", utility=program.utility)
    ProgramAccess.objects.create(user=User.objects.get(username="utility-feed"), program=other)
    url = f"/api/v1/accounts/{account.account_number}/opt-out-status/"
    assert api.get(url).status_code == 400  # two programs: must say which
    assert api.get(url + "?program=other").status_code == 404
    before = api.get(url + "?program=clean").json()
    assert (
        before["opted_out"] is False
        and before["quote_outcome"] == "after_free_window"
        and before["quote_fee"] == "6.25"
    )
    api.post("/api/v1/opt-outs/", body(account), format="json")
    after = api.get(url + "?program=clean").json()
    assert after["status"] == "terminated" and after["opt_out"]["return_path"] == "advance_notice"


def test_list_since(api, make_account, today):
    old, new = make_account(), make_account()
    api.post("/api/v1/opt-outs/", body(old), format="json")
    OptOutRequest.objects.update(received_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    api.post("/api/v1/opt-outs/", body(new), format="json")
    listed = api.get("/api/v1/opt-outs/?since=2025-02-01T00:00:00Z").json()["results"]
    assert [r["account_number"] for r in listed] == [new.account_number]
    assert api.get("/api/v1/opt-outs/?since=yesterday").status_code == 400


def test_token_and_permission_required(make_account, db):
    client = APIClient()
    assert client.get("/api/v1/opt-outs/").status_code == 401
    user = User.objects.create_user("nobody")
    client = token_client(user)
    assert client.get("/api/v1/opt-outs/").status_code == 403


def test_schema_renders_with_our_paths(api):
    schema = api.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert (
        "/api/v1/opt-outs/" in paths
        and "/api/v1/accounts/{account_number}/opt-out-status/" in paths
    )
    assert {"get", "post"} <= set(paths["/api/v1/opt-outs/"])


def test_schema_builds_without_warnings():
    from django.core.management import call_command

    # --fail-on-warn makes any drf-spectacular warning an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_each_page_of_the_opt_out_list_is_recorded_as_a_download(api, make_account, today):
    """The list carries account numbers: who took how many, when, is in the audit log."""
    from accounts.audit_log import AuditEntry

    for _ in range(3):
        api.post("/api/v1/opt-outs/", body(make_account()), format="json")
    listing = api.get("/api/v1/opt-outs/?since=2020-01-01T00:00:00Z")
    assert listing.status_code == 200 and len(listing.json()["results"]) == 3
    (entry,) = AuditEntry.objects.filter(
        action=AuditEntry.Action.ACCESS, additional_data__access="API opt-out list"
    )
    assert entry.additional_data["rows"] == 3
    assert entry.actor.username == "utility-feed"
    assert entry.additional_data["since"] == "2020-01-01T00:00:00Z"
