"""/healthz (the process answers, no database) and /readyz (database, cache, broker, the beat's
heartbeat and the outbox's oldest undelivered items; 503 naming each failed check)."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Channel
from accounts.services.status import Actor
from cca_notices.health import heartbeat
from cca_notices.models import Heartbeat
from optouts.models import Confirmation, ServiceRequest
from optouts.services.intake import optout_submit
from tests.reliability.own_redis import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_beat(settings):
    settings.READYZ_BEAT_REQUIRED = False  # on unless a test needs it (REDIS_URL turns it on)


def test_liveness_reads_no_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/healthz").json() == {"ok": True}


def test_ready_when_everything_answers(client):
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ok"] and body["failed"] == []
    assert {"database", "cache", "broker", "beat", "outbox_confirmation", "outbox_letter"} <= set(
        body["checks"]
    )
    assert "outbox_ccasr" in body["checks"]
    from cca_notices.health import CHECK_NAMES

    assert set(body["checks"]) == CHECK_NAMES  # the names ?only= accepts are the checks run


def test_an_unreachable_broker_is_named(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["broker"]
    assert "Error" in ready.json()["checks"]["broker"]["error"]


def test_the_beat_heartbeat_must_be_recent(client, settings):
    settings.READYZ_BEAT_REQUIRED = True
    settings.READYZ_MAX_AGE_S = {"beat": 600}
    assert client.get("/readyz").json()["failed"] == ["beat"]  # never ran
    heartbeat()
    assert client.get("/readyz").status_code == 200
    Heartbeat.objects.update(at=timezone.now() - dt.timedelta(minutes=11))
    stale = client.get("/readyz")
    assert stale.status_code == 503 and stale.json()["failed"] == ["beat"]
    assert stale.json()["checks"]["beat"]["age_s"] > 600


def test_an_old_undelivered_confirmation_letter_or_ccasr_is_named(
    client, make_account, today, settings
):
    settings.READYZ_MAX_AGE_S = {"confirmation": 1800, "letter": 86400, "ccasr": 86400}
    by_email = optout_submit(account=make_account(), channel=Channel.WEB, actor=Actor("web"))
    by_letter = optout_submit(
        account=make_account(email=""), channel=Channel.WEB, actor=Actor("web")
    )
    assert client.get("/readyz").status_code == 200  # just written: within every threshold
    now = timezone.now()
    Confirmation.objects.filter(optout=by_email.request).update(
        created_at=now - dt.timedelta(hours=1)
    )
    Confirmation.objects.filter(optout=by_letter.request).update(
        created_at=now - dt.timedelta(days=2)
    )
    account = by_email.request.account
    ServiceRequest.objects.create(
        program=account.program,
        account=account,
        type=ServiceRequest.Type.DISCONNECT,
        source=ServiceRequest.Source.OPTOUT,
        effective_date=today,
        created_at=now - dt.timedelta(days=2),
    )
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert set(ready.json()["failed"]) == {"outbox_confirmation", "outbox_letter", "outbox_ccasr"}
    assert ready.json()["checks"]["outbox_confirmation"]["oldest_age_s"] >= 3600
    # Sent and batched items are delivered: they no longer count.
    Confirmation.objects.filter(optout=by_email.request).update(status="sent")
    assert "outbox_confirmation" not in client.get("/readyz").json()["failed"]


def test_an_interchange_written_but_not_delivered_to_the_utility_is_named(
    client, make_account, settings
):
    """Exported is not delivered: an 814 whose copy to the partner's folder (or SFTP) never
    happened, say the server was down, ages the CCASR outbox until a transfer succeeds."""
    from accounts.services.trading_partners import trading_partner_for
    from optouts.models import CcasrExport, EdiTransfer

    settings.READYZ_MAX_AGE_S = {"ccasr": 86400}
    program = make_account().program
    trading_partner_for(program=program)
    name = "CCASR_X_20261127_000000001.x12"
    CcasrExport.objects.create(
        program=program,
        file_name=name,
        created_at=timezone.now() - dt.timedelta(days=2),
        actor_name="beat",
        requests=3,
    )
    ready = client.get("/readyz").json()
    assert (
        ready["failed"] == ["outbox_ccasr"]
        and ready["checks"]["outbox_ccasr"]["oldest_age_s"] > 86400
    )
    EdiTransfer.objects.create(
        program=program,
        file_name=name,
        direction=EdiTransfer.Direction.OUT,
        method=EdiTransfer.Method.FOLDER,
        at=timezone.now(),
        result=EdiTransfer.Result.FAILED,
        error="disk full",
    )
    assert client.get("/readyz").json()["failed"] == ["outbox_ccasr"]  # a failed try is no delivery
    EdiTransfer.objects.filter(file_name=name).update(result=EdiTransfer.Result.OK, error="")
    assert client.get("/readyz").status_code == 200
    # Sent outside the app (no transfer record) but answered by the utility: it arrived.
    EdiTransfer.objects.all().delete()
    assert client.get("/readyz").json()["failed"] == ["outbox_ccasr"]
    CcasrExport.objects.filter(file_name=name).update(ack_status="A")
    assert client.get("/readyz").status_code == 200
    CcasrExport.objects.filter(file_name=name).update(ack_status="")
    account = make_account()
    ServiceRequest.objects.create(
        program=program,
        account=account,
        type=ServiceRequest.Type.DISCONNECT,
        source=ServiceRequest.Source.OPTOUT,
        status=ServiceRequest.Status.ACCEPTED,
        export=CcasrExport.objects.get(file_name=name),
        created_at=timezone.now(),
        responded_at=timezone.now(),
    )
    assert client.get("/readyz").status_code == 200  # its 814 response came back


def test_the_load_balancer_asks_for_the_database_only(client, settings):
    """A Redis outage, which every channel rides out, must not take the node out of rotation."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    assert client.get("/readyz").status_code == 503
    probe = client.get("/readyz?only=database")
    assert probe.status_code == 200 and list(probe.json()["checks"]) == ["database"]
    assert client.get("/readyz?only=broker").json()["failed"] == ["broker"]
    typo = client.get("/readyz?only=databse")
    assert typo.status_code == 400 and "databse" in typo.json()["error"]
