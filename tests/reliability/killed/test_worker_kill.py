"""Work survives a killed worker: real Celery workers (`celery -A cca_notices worker`) on their
own redis-server and the test database are stopped at a known point (tests/reliability/
worker_hooks.py), killed with SIGKILL, and another worker is started. Late acknowledgement
brings the task back, the claim's lease lets it take the work again, and the invariants hold:
nothing marked sent that was not sent, a confirmation sent once, no half-written batch folder,
no notice in two batches, the batch's files resumed rather than built again."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import time

import pytest

from accounts.models import Channel, Status
from accounts.services.status import Actor
from cca_notices.models import MailBatch, MailBatchFile, Notice
from optouts.models import Confirmation
from optouts.services.intake import optout_submit
from tests.reliability.killed.workers import send, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_confirmation_whose_worker_is_killed_mid_send_is_sent_once_by_the_next_worker(
    make_account, workers, redis_url, tmp_path
):
    account = make_account(status=Status.NOTIFIED, email="customer@example.com")
    optout = optout_submit(account=account, channel=Channel.WEB, actor=Actor("web")).request
    conf = Confirmation.objects.get(optout=optout, method="email")
    # Sent in-process when the opt-out committed; made pending again for the real worker.
    Confirmation.objects.filter(pk=conf.pk).update(
        status="pending", sent_at=None, claimed_at=None, attempts=0
    )
    (tmp_path / "block").touch()
    first = workers.start()
    send(redis_url, "optouts.tasks.confirmation_send", conf.pk)
    wait_for(lambda: (tmp_path / "reached-email").exists(), "the send to start", 40)
    conf.refresh_from_db()
    assert conf.status == "pending" and conf.claimed_at is not None  # claimed, not sent
    workers.kill(first)

    conf.refresh_from_db()
    assert (conf.status, conf.sent_at) == ("pending", None)  # nothing marked sent
    assert not (tmp_path / "sent").exists()
    (tmp_path / "block").unlink()
    time.sleep(2.5)  # the lease and the visibility timeout (2 s each in worker_settings)
    workers.start()

    def sent():
        conf.refresh_from_db()
        return conf.status == "sent"

    wait_for(sent, "the second worker to send it\n" + workers.logs(), 40)
    assert conf.sent_at is not None and conf.attempts == 2
    assert len(list((tmp_path / "sent").iterdir())) == 1
    time.sleep(1.5)  # a second delivery of the task, if any, would have sent it again by now
    assert len(list((tmp_path / "sent").iterdir())) == 1


def test_a_mail_batch_whose_worker_is_killed_inside_its_claim_leaves_nothing_half_claimed(
    program, make_account, notice_for, workers, redis_url, tmp_path
):
    from accounts.services.calendar import today

    notices = [
        notice_for(make_account(customer_name=f"CUSTOMER {i}"), mail_date=today()) for i in range(3)
    ]
    (tmp_path / "block-claim").touch()
    first = workers.start()
    send(redis_url, "cca_notices.tasks.mail_batches_daily", [program.pk])
    wait_for(lambda: (tmp_path / "reached-claim").exists(), "the claim", 60)
    workers.kill(first)
    # PostgreSQL rolled the claim back with the dead connection: no batch, nothing taken.
    assert not MailBatch.objects.exists()
    assert set(Notice.objects.values_list("status", "batch_id")) == {("scheduled", None)}

    (tmp_path / "block-claim").unlink()
    time.sleep(2.5)  # the visibility timeout (2 s)
    workers.start()
    batch = wait_for(
        lambda: MailBatch.objects.exclude(files_written_at=None).first(),
        "the second worker's build\n" + workers.logs(),
        60,
    )
    assert MailBatch.objects.count() == 1 and batch.piece_count == len(notices)
    assert set(Notice.objects.values_list("status", "batch_id")) == {("batched", batch.pk)}


def test_a_mail_batch_whose_worker_is_killed_mid_write_is_finished_once_never_half_written(
    program, make_account, notice_for, workers, redis_url, tmp_path
):
    from accounts.services.calendar import today

    day = today()
    notices = [
        notice_for(
            make_account(customer_name=f"CUSTOMER {i}", mailing_zip=f"9259{i}"), mail_date=day
        )
        for i in range(7)
    ]
    (tmp_path / "block").touch()
    first = workers.start()
    send(redis_url, "cca_notices.tasks.mail_batches_daily", [program.pk])
    wait_for(lambda: (tmp_path / "reached-batch").exists(), "the second file", 60)
    workers.kill(first)

    batch = MailBatch.objects.get()  # the claim committed whole: one batch, every notice in it
    assert Notice.objects.filter(batch=batch, status="batched").count() == len(notices)
    assert batch.files_written_at is None and batch.piece_count == len(notices)
    root = tmp_path / "media" / "batches" / program.slug
    assert not (root / batch.reference).exists()  # no half-written folder where the house reads
    done = dict(MailBatchFile.objects.filter(batch=batch).values_list("index", "done_at"))
    assert done[1] and done[2] and not done[4]

    (tmp_path / "block").unlink()
    time.sleep(2.5)  # the write lease and the visibility timeout (2 s each)
    workers.start()

    def written():
        batch.refresh_from_db()
        return batch.files_written_at is not None

    wait_for(written, "the batch's write to resume\n" + workers.logs(), 60)
    assert MailBatch.objects.count() == 1  # no second batch: the notices stayed in the first
    assert set(Notice.objects.values_list("batch_id", flat=True)) == {batch.pk}
    attempts = dict(MailBatchFile.objects.filter(batch=batch).values_list("index", "attempts"))
    assert attempts[1] == attempts[2] == 1  # resumed: the files rendered before the kill kept
    folder = root / batch.reference
    manifest = json.loads((folder / f"{batch.reference}-manifest.json").read_text())
    for f in manifest["files"]:
        assert hashlib.sha256((folder / f["name"]).read_bytes()).hexdigest() == f["sha256"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f["name"] for f in manifest["files"]] + [f"{batch.reference}-manifest.json"]
    )
    with open(folder / f"{batch.reference}-data.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["sequence"]) for r in rows] == list(range(1, len(notices) + 1))
    assert len({r["piece_id"] for r in rows}) == len(notices)
    assert sorted(r["piece_id"] for r in rows) == sorted(
        Notice.objects.values_list("piece_id", flat=True)
    )
    assert not list(root.glob(".*"))  # no staging folder left behind
    assert dt.date.fromisoformat(manifest["mail_date"]) >= day
