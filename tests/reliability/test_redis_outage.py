"""Durable before confirmed, with Redis down: a real redis-server of the test's own serves as the
cache (rate limits) and the Celery broker, and is stopped. Every channel still records its opt-out
and answers as it should (no 500), /readyz says what is down; once the server is back, a Celery
worker runs the outbox sweep and the confirmations that could not be queued go out."""

from __future__ import annotations

import logging
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth.models import Group, User
from django.core import mail

from accounts.models import Status
from cca_notices.celery import app
from optouts.models import Confirmation, OptOutRequest
from optouts.services.outbox import outbox_redeliver_task
from optouts.services.ratelimit import REDIS_CACHE
from tests.factories import grant_programs
from tests.reliability.channels import (
    TWILIO_TOKEN,
    agent_optout,
    api_client,
    ivr_optout,
    web_optout,
)
from tests.reliability.own_redis import OwnRedis


def _reset_broker_pool() -> None:
    # Celery keeps one connection pool per app, made from the broker URL of its first use; the
    # test points the app at its own server, so the pool is dropped as Celery does after a fork.
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def on_own_redis(own_redis, settings):
    """Cache and broker on the test's own server, tasks sent to the broker (not run eagerly)."""
    url = own_redis.url()
    # Read before the settings change: Celery reads unset keys from Django's settings live.
    saved = {
        k: app.conf[k]
        for k in (
            "broker_url",
            "task_always_eager",
            "worker_hijack_root_logger",
            "worker_redirect_stdouts",
            "broker_connection_retry_on_startup",
        )
    }
    original = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": REDIS_CACHE,
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.update(
        broker_url=url,
        task_always_eager=False,
        # The embedded worker must leave pytest's logging and output capture alone.
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
    )
    _reset_broker_pool()
    yield own_redis
    own_redis.start() if not own_redis.is_up() else None
    app.conf.update(saved)
    _reset_broker_pool()
    settings.CACHES = original  # before the suite's cache.clear()


@pytest.mark.needs("redis-server")
@pytest.mark.django_db(transaction=True)
def test_every_channel_records_while_redis_is_down_and_the_outbox_delivers_once_it_is_back(
    on_own_redis, client, make_account, program, groups, today, settings, caplog
):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.READYZ_BEAT_REQUIRED = False
    settings.OUTBOX_REDELIVER_AFTER_S = 0
    web, ivr, agent, api = (make_account(status=Status.NOTIFIED) for _ in range(4))
    agent_user = grant_programs(User.objects.create_user("agent", password="pw", is_staff=True))
    agent_user.groups.add(Group.objects.get(name="Call-centre agent"))
    api_feed = api_client()

    on_own_redis.stop()
    assert not on_own_redis.is_up()
    with caplog.at_level(logging.WARNING):
        assert web_optout(client, web, email="web@example.net") == 302
        status, said = ivr_optout(client, program, ivr)
        assert status == 200 and "confirmation" in said.lower()
        client.force_login(agent_user)
        assert agent_optout(client, agent) == 302
        created = api_feed.post(
            "/api/v1/opt-outs/",
            {
                "program": program.slug,
                "account_number": api.account_number,
                "channel": "utility_transfer",
                "contact_email": "api@example.net",
            },
            format="json",
        )
        assert created.status_code == 201
        ready = client.get("/readyz")
    # Durable: each opt-out is committed although nothing could be queued or counted in Redis.
    recorded = dict(OptOutRequest.objects.values_list("account_id", "channel"))
    assert recorded == {web.pk: "web", ivr.pk: "ivr", agent.pk: "phone", api.pk: "utility_transfer"}
    assert ready.status_code == 503 and {"cache", "broker"} <= set(ready.json()["failed"])
    assert "database" not in ready.json()["failed"]
    assert any("shared cache unreachable" in r.getMessage() for r in caplog.records)
    assert any("on_commit" in r.getMessage() for r in caplog.records)  # the enqueue, logged
    emails = Confirmation.objects.filter(method=Confirmation.Method.EMAIL)
    recipients = sorted(emails.values_list("email", flat=True))
    assert {"web@example.net", "api@example.net"} <= set(recipients)
    assert len(recipients) == 4  # one per opt-out (the IVR and agent ones to the account's)
    assert set(emails.values_list("status", flat=True)) == {"pending"}
    assert mail.outbox == []

    on_own_redis.start()
    assert client.get("/readyz").status_code == 200
    # Beat's periodic sweep (or a worker's start) sends what the broker never carried.
    with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=30):
        outbox_redeliver_task.delay()
        deadline = time.monotonic() + 30
        while emails.filter(status="pending").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    assert set(emails.values_list("status", flat=True)) == {"sent"}
    assert sorted(m.to[0] for m in mail.outbox) == recipients
