"""The one rate limiter (optouts.services.ratelimit) behind the web form, the IVR and the API:
it keeps counting in the process when the cache is unreachable (no 500, still limited), and it
takes the client address from the hop the trusted proxy appended, never the client's own."""

import logging
import socket

import pytest
from django.test import RequestFactory

from optouts.services.ratelimit import REDIS_CACHE, client_ip
from tests.reliability.channels import TWILIO_TOKEN, api_client, api_optout, ivr_optout

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket closes


@pytest.fixture
def cache_down(settings):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    original = settings.CACHES
    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": url}}
    yield url
    settings.CACHES = original  # before the suite's cache.clear(), which needs a cache


def lookup(client, number="1234567", zip_code="94901", **extra):
    return client.post("/opt-out/", {"account_number": number, "zip_code": zip_code}, **extra)


def test_web_limits_hold_in_the_process_when_the_cache_is_down(
    cache_down, client, make_account, today, settings, caplog
):
    settings.OPTOUT_RATE_LIMITS = {"web_ip": (3, 600)}
    account = make_account()
    with caplog.at_level(logging.WARNING, logger="optouts.services.ratelimit"):
        assert [lookup(client).status_code for _ in range(3)] == [400, 400, 400]
        # The fourth from the same address is refused although the right account is typed.
        assert lookup(client, account.account_number, account.service_zip).status_code == 429
        # Another address is counted apart and finds the account.
        other = lookup(client, account.account_number, account.service_zip, REMOTE_ADDR="10.9.9.9")
        assert other.status_code == 200
    warnings = [r for r in caplog.records if "shared cache unreachable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per request


def test_ivr_uses_the_same_limiter_with_the_cache_down(
    cache_down, client, make_account, program, today, settings
):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.OPTOUT_RATE_LIMITS = {"ivr_caller": (1, 600)}
    first, second = make_account(), make_account()
    status, said = ivr_optout(client, program, first)
    assert status == 200 and "confirmation" in said.lower()
    status, said = ivr_optout(client, program, second)
    assert status == 200 and "cannot take more attempts" in said


def test_api_uses_the_same_limiter_with_the_cache_down(cache_down, make_account, today, settings):
    settings.OPTOUT_RATE_LIMITS = {"api_user": (2, 60)}
    api = api_client()
    accounts = [make_account() for _ in range(3)]
    assert [api_optout(api, a) for a in accounts] == [201, 201, 429]


@pytest.mark.parametrize(
    "configured", [{"OPTOUT_TRUSTED_PROXY_COUNT": 1}, {"OPTOUT_TRUST_X_FORWARDED_FOR": True}]
)
def test_forged_left_most_addresses_are_throttled(client, db, settings, configured):
    """Behind one proxy that appends the address it saw, 300 look-ups that each forge a new
    left-most X-Forwarded-For are one client: the default 30 per window pass, the rest do not."""
    for name, value in configured.items():
        setattr(settings, name, value)
    statuses = [
        lookup(
            client,
            f"{7000000 + n}",  # a new account number each time: only the address is counted
            HTTP_X_FORWARDED_FOR=f"10.{n // 250}.{n % 250}.1, 203.0.113.9",
            REMOTE_ADDR="127.0.0.1",
        ).status_code
        for n in range(300)
    ]
    assert statuses.count(429) == 270 and statuses.count(400) == 30


@pytest.mark.parametrize(
    ("proxies", "forwarded", "remote", "expected"),
    [
        (0, "203.0.113.9", "192.0.2.1", "192.0.2.1"),  # no proxy trusted: the header is ignored
        (1, "6.6.6.6, 203.0.113.9", "192.0.2.1", "203.0.113.9"),  # what our proxy appended
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "10.0.0.3", "203.0.113.9"),  # CDN then balancer
        (2, "203.0.113.9", "10.0.0.3", "10.0.0.3"),  # fewer hops than proxies: not through them
        (1, "not-an-address", "192.0.2.1", "192.0.2.1"),
        (1, "", "192.0.2.1", "192.0.2.1"),
    ],
)
def test_client_address_is_the_hop_the_trusted_proxy_appended(
    settings, proxies, forwarded, remote, expected
):
    settings.OPTOUT_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    assert client_ip(request) == expected


def test_the_former_switch_means_one_proxy(settings):
    settings.OPTOUT_TRUSTED_PROXY_COUNT = 0
    settings.OPTOUT_TRUST_X_FORWARDED_FOR = True
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_ip(request) == "203.0.113.9"
