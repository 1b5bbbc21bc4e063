"""The server errors found by probing, each now a 400 (or a page with a message) that says what
was wrong. Run on PostgreSQL too: a NUL reached its queries."""

import base64

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from knox.models import AuthToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_client(db):
    """A client that returns 500s instead of raising them, with an API feed user's token."""
    user = User.objects.create_user("feed")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["record_optout", "view_optoutrequest"])
    )
    token = AuthToken.objects.create(user=user)[1]
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")


@pytest.mark.parametrize(
    "since",
    [
        "2027-02-30T00:00:00Z",
        "2027-03-01T25:00:00Z",
        "2027-03-01T00:00:00+99:00",
        "2776-11-26T16:14:09.9+23:03",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "2027-03-01T00:00:00",
        "yesterday",
    ],
)
def test_a_bad_since_is_a_400_naming_it(api_client, since):
    response = api_client.get("/api/v1/opt-outs/", {"since": since})
    assert response.status_code == 400
    assert "since" in response.json() and "ISO 8601" in response.json()["since"][0]


def cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "ñ",
        cursor("p=abc"),
        cursor("p=2027-03-01T00:00:00+23:03"),
        cursor("p=2027-02-30T00:00:00Z"),
        cursor("o=x"),
    ],
)
def test_a_bad_cursor_is_a_400_naming_it(api_client, value, make_account):
    response = api_client.get("/api/v1/opt-outs/", {"cursor": value})
    assert response.status_code == 400
    assert "cursor" in response.json()


def test_a_good_cursor_still_pages(api_client):
    response = api_client.get("/api/v1/opt-outs/", {"cursor": cursor("p=2027-03-01T00:00:00Z")})
    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize(
    "path, extra",
    [
        ("/api/v1/accounts/30%0001/opt-out-status/?program=clean", {}),
        ("/api/v1/opt-outs/?program=a%00b", {}),
        ("/api/v1/opt-outs/?since=2027-03-01T00:00:00Z%00", {}),
        ("/api/v1/programs/?x%00=1", {}),
    ],
)
def test_a_nul_in_the_path_or_query_is_a_400(api_client, program, path, extra):
    response = api_client.get(path, **extra)
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_a_nul_in_the_idempotency_key_is_a_400_and_records_nothing(api_client, make_account):
    from optouts.models import OptOutRequest

    account = make_account()
    response = api_client.post(
        "/api/v1/opt-outs/",
        {"program": "clean", "account_number": account.account_number},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k\x00",
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert not OptOutRequest.objects.exists()


@pytest.mark.parametrize(
    "data", [{"account_number": "30\x0001", "zip_code": "94901"}, {"account_number\x00": "1"}]
)
def test_a_nul_in_a_customer_form_is_a_400_page(program, data):
    response = Client(raise_request_exception=False).post("/opt-out/", data)
    assert response.status_code == 400
    assert b"NUL character" in response.content and b"Traceback" not in response.content


def test_a_nul_in_the_session_cookie_is_a_400(program):
    client = Client(raise_request_exception=False, HTTP_COOKIE="sessionid=abc\x00def")
    assert client.get("/admin/").status_code == 400


@pytest.mark.parametrize("account", ["abc", "1.5", "-1", "99999999999999999999999"])
def test_the_agent_screen_with_a_bad_account_id_shows_a_message(staff, account):
    client = Client(raise_request_exception=False)
    client.force_login(staff["agent"])
    response = client.get("/admin/optouts/optoutrequest/agent/", {"account": account})
    assert response.status_code == 200
    assert "No account with id" in response.content.decode()


def test_the_agent_screen_with_an_unknown_id_is_a_404_page(staff):
    client = Client(raise_request_exception=False)
    client.force_login(staff["agent"])
    assert client.get("/admin/optouts/optoutrequest/agent/", {"account": "987654"}).status_code == (
        404
    )


@pytest.mark.parametrize(
    "prefix, words", [("", b"Page not found"), ("/es", "Página no encontrada".encode())]
)
def test_an_unknown_customer_page_is_a_404_page_without_a_traceback(db, prefix, words):
    response = Client().get(f"{prefix}/opt-out/nothing-here/")
    assert response.status_code == 404 and words in response.content
    assert b"Traceback" not in response.content


def test_an_unknown_api_path_is_json(db):
    response = Client().get("/api/v1/nothing-here/")
    assert response.status_code == 404 and response.json() == {"detail": "Page not found"}


def test_a_server_error_shows_no_traceback(db, settings, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("optouts.views.LookupForm", broken)
    response = Client(raise_request_exception=False).post("/opt-out/", {"account_number": "1"})
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"secret internals" not in response.content and b"Traceback" not in response.content


def test_an_api_server_error_is_json_without_a_traceback(api_client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("optouts.api.OptOutListCreate.get_queryset", broken)
    response = api_client.get("/api/v1/opt-outs/")
    assert response.status_code == 500 and response.json() == {
        "detail": "Something went wrong on our side"
    }
