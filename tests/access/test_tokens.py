"""API tokens (django-rest-knox; docs/api.md "Tokens"): stored hashed, expiring, revocable."""

import datetime as dt
import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _client(token=None, basic=None):
    api = APIClient()
    if token:
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    if basic:
        api.credentials(HTTP_AUTHORIZATION=f"Basic {basic}")
    return api


@pytest.fixture
def feed(groups, program):
    from tests.factories import staff_user

    return staff_user("feed", "API feed", programs=[program], is_staff=False)


def test_login_issues_a_token_that_is_stored_only_as_a_digest(feed):
    feed.set_password("feed-secret-123")
    feed.save()
    import base64

    basic = base64.b64encode(b"feed:feed-secret-123").decode()
    answer = _client(basic=basic).post("/api/v1/auth/login/")
    assert answer.status_code == 200
    token = answer.json()["token"]
    row = AuthToken.objects.get(user=feed)
    assert token not in (row.digest, row.token_key) and len(row.digest) == 128  # SHA-512 hex
    assert row.expiry is not None and row.expiry > timezone.now() + dt.timedelta(days=89)
    assert _client(token).get("/api/v1/programs/").status_code == 200


def test_an_expired_token_is_refused(feed):
    _, token = AuthToken.objects.create(user=feed, expiry=dt.timedelta(hours=1))
    assert _client(token).get("/api/v1/programs/").status_code == 200
    AuthToken.objects.update(expiry=timezone.now() - dt.timedelta(seconds=1))
    assert _client(token).get("/api/v1/programs/").status_code == 401


def test_logout_revokes_that_token_and_logout_all_every_token(feed):
    _, first = AuthToken.objects.create(user=feed)
    _, second = AuthToken.objects.create(user=feed)
    _, third = AuthToken.objects.create(user=feed)
    assert _client(first).post("/api/v1/auth/logout/").status_code == 204
    assert _client(first).get("/api/v1/programs/").status_code == 401
    assert _client(second).get("/api/v1/programs/").status_code == 200
    assert _client(second).post("/api/v1/auth/logout-all/").status_code == 204
    assert _client(third).get("/api/v1/programs/").status_code == 401
    assert not AuthToken.objects.filter(user=feed).exists()


def test_a_deleted_token_row_in_the_admin_revokes_it(feed, admin_client):
    instance, token = AuthToken.objects.create(user=feed)
    assert admin_client.get("/admin/knox/authtoken/").status_code == 200
    instance.delete()
    assert _client(token).get("/api/v1/programs/").status_code == 401


def test_issue_api_token_creates_the_feed_user_and_prints_the_token_once(groups, program):
    out = io.StringIO()
    call_command(
        "issue_api_token", "utility-feed", "--program", program.slug, "--days", "30", stdout=out
    )
    token = next(line for line in out.getvalue().splitlines() if line.startswith("token: "))[7:]
    user = User.objects.get(username="utility-feed")
    assert list(user.groups.values_list("name", flat=True)) == ["API feed"]
    assert not user.has_usable_password() and not user.is_staff
    row = AuthToken.objects.get(user=user)
    assert dt.timedelta(days=29) < row.expiry - timezone.now() <= dt.timedelta(days=30)
    listed = _client(token).get("/api/v1/programs/").json()
    assert [p["slug"] for p in listed] == [program.slug]
    out = io.StringIO()
    call_command("issue_api_token", "utility-feed", "--revoke-existing", stdout=out)
    assert "1 token(s) revoked" in out.getvalue()
    assert _client(token).get("/api/v1/programs/").status_code == 401
    with pytest.raises(CommandError, match="--days"):
        call_command("issue_api_token", "utility-feed", "--days", "0")


def test_a_token_with_no_permission_reads_no_program(db, program):
    """It used to list every program."""
    nobody = User.objects.create_user("nobody")
    _, token = AuthToken.objects.create(user=nobody)
    assert _client(token).get("/api/v1/programs/").status_code == 403
