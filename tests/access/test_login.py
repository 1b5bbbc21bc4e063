"""Staff login throttled against guessing (django-axes; docs/configuration.md "Security")."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def staff_member(db):
    return User.objects.create_user("clerk", password="right-horse-battery", is_staff=True)


def _try(client, password, ip="203.0.113.7"):
    return client.post(LOGIN, {"username": "clerk", "password": password}, REMOTE_ADDR=ip)


def test_the_admin_login_locks_out_after_the_configured_failures(client, staff_member, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert _try(client, "guess").status_code == 200  # the form again, with its error
    locked = _try(client, "guess")
    assert locked.status_code == 429
    # Locked: even the right password is refused now, from that address.
    assert _try(client, "right-horse-battery").status_code == 429
    assert "_auth_user_id" not in client.session
    # Another address is not locked out by this one's guesses (user name + address).
    other = _try(client, "right-horse-battery", ip="198.51.100.9")
    assert other.status_code == 302 and client.session["_auth_user_id"] == str(staff_member.pk)


def test_a_success_before_the_limit_resets_the_count(client, staff_member, settings):
    settings.AXES_FAILURE_LIMIT = 3
    _try(client, "guess")
    _try(client, "guess")
    assert _try(client, "right-horse-battery").status_code == 302
    client.logout()
    _try(client, "guess")
    assert _try(client, "right-horse-battery").status_code == 302


def test_the_api_login_is_throttled_too(staff_member, settings):
    settings.AXES_FAILURE_LIMIT = 2
    api = APIClient(REMOTE_ADDR="203.0.113.8")
    api.credentials(HTTP_AUTHORIZATION="Basic Y2xlcms6Z3Vlc3M=")  # clerk:guess
    assert api.post("/api/v1/auth/login/").status_code == 401
    assert api.post("/api/v1/auth/login/").status_code == 429
