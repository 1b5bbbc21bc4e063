"""A batch's files as leased units of work (cca_notices.services.batch_files): a write that
stopped after the claim, or half-way through its files, is finished by the next run without a
second batch; files already rendered are kept; a file's claim is taken again once its lease has
run out; the bytes do not depend on which process rendered which file."""

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from cca_notices.models import MailBatch, MailBatchFile, Notice
from cca_notices.services import batch_files, batches
from cca_notices.services.batches import (
    BatchBusyError,
    mail_batch_claim,
    mail_batch_rebuild,
    mail_batch_write_files,
    mail_batches_build_due,
)
from tests.batches.conftest import MAIL_DATE

pytestmark = pytest.mark.django_db
KIND = "pre_enrollment_1"


@pytest.fixture
def three(program, make_account, notice_for, settings):
    settings.MAIL_BATCH_LETTERS_PER_FILE = 1
    return [
        notice_for(make_account(customer_name=f"C {i}", mailing_zip=f"9259{i}")) for i in range(3)
    ]


def claim(program, out=None):
    return mail_batch_claim(
        program=program,
        kind=KIND,
        mail_date=MAIL_DATE,
        actor_name="tester",
        via=MailBatch.Via.COMMAND,
        now=timezone.now(),
        out_dir=out,
    ).batch


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def expire(model, pk, field):
    model.objects.filter(pk=pk).update(**{field: timezone.now() - dt.timedelta(hours=1)})


def test_a_build_stopped_after_its_claim_is_written_by_the_next_daily_run(
    program, three, tmp_path, monkeypatch
):
    # The daily run's mail date for "today" 2027-01-06 is 2027-01-11: the claimed notices are due.
    batch = claim(program, tmp_path / "out")
    assert mail_batches_build_due(out_root=tmp_path) == {}  # its write lease still holds
    assert MailBatch.objects.get().files_written_at is None
    expire(MailBatch, batch.pk, "write_claimed_at")
    assert mail_batches_build_due(out_root=tmp_path) == {"resumed": 1}
    batch.refresh_from_db()
    assert MailBatch.objects.count() == 1 and batch.files_written_at is not None
    assert batch.folder == str((tmp_path / "out" / batch.reference).resolve())
    assert set(Notice.objects.values_list("batch_id", flat=True)) == {batch.pk}


def test_files_rendered_before_a_write_stopped_are_kept_and_the_bytes_are_the_same(
    program, three, tmp_path
):
    batch = claim(program)
    batch_files.batch_files_plan(batch=batch)
    assert batch_files.batch_file_render_next(batch_id=batch.pk, out_dir=tmp_path) is True
    first = MailBatchFile.objects.get(batch=batch, index=1)
    folder = mail_batch_write_files(batch=batch, out_dir=tmp_path, lease_held=True)
    attempts = dict(MailBatchFile.objects.filter(batch=batch).values_list("index", "attempts"))
    assert attempts == {1: 1, 2: 1, 3: 1}
    assert MailBatchFile.objects.get(pk=first.pk).done_at == first.done_at  # not rendered again
    resumed = digests(folder)
    assert len(resumed) == 5  # three letters files, the data CSV, the manifest
    assert not list(tmp_path.glob(".*"))
    again = mail_batch_rebuild(reference=batch.reference, out_dir=tmp_path)
    assert digests(again.folder) == resumed  # every file rendered anew, in one process


def test_a_file_claim_is_exclusive_until_its_lease_runs_out(program, three):
    batch = claim(program)
    batch_files.batch_files_plan(batch=batch)
    taken = batch_files.batch_file_claim(batch_id=batch.pk, index=2)
    assert taken is not None and taken.attempts == 1
    assert batch_files.batch_file_claim(batch_id=batch.pk, index=2) is None
    expire(MailBatchFile, taken.pk, "claimed_at")
    again = batch_files.batch_file_claim(batch_id=batch.pk, index=2)
    assert again is not None and again.attempts == 2


def test_a_second_writer_is_refused_while_the_first_holds_the_lease(program, three, tmp_path):
    batch = claim(program)
    with pytest.raises(BatchBusyError, match="being written by another process"):
        mail_batch_write_files(batch=batch, out_dir=tmp_path)
    assert not (tmp_path / batch.reference).exists()


def test_a_render_error_keeps_nothing_and_frees_the_batch(program, three, tmp_path, monkeypatch):
    batch = claim(program)
    calls = []

    def broken(**kw):
        calls.append(kw)
        raise RuntimeError("renderer broke")

    monkeypatch.setattr(batch_files, "batch_file_render", broken)
    with pytest.raises(RuntimeError, match="renderer broke"):
        mail_batch_write_files(batch=batch, out_dir=tmp_path, lease_held=True)
    assert not list(tmp_path.iterdir())  # no folder, no staging
    batch.refresh_from_db()
    assert batch.write_claimed_at is None and batch.files_written_at is None
    monkeypatch.undo()
    assert batches.mail_batch_write_files(batch=batch, out_dir=tmp_path).is_dir()
