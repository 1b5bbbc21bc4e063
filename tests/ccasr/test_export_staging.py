"""The interchange is published only once its transaction committed (in-process, both
databases; the killed-worker version is tests/reliability/killed/test_ccasr_kill.py): what a
run cut short leaves is staged under a hidden name and finished or removed by the next run, and
the export task delivers each interchange once, including one whose delivery was cut short."""

import datetime as dt
import hashlib
import json

import pytest

from accounts.models import Status
from accounts.services import files
from optouts.models import CcasrExport, EdiTransfer
from optouts.models import ServiceRequest as SR
from optouts.services.edi_delivery import partner_folder
from optouts.services.edi_export import ccasr_export
from tests.ccasr.utility import committed, requests_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cca_sends")]
DAY = dt.date(2027, 3, 10)


@pytest.fixture
def three(make_account, today):
    for _ in range(3):
        make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))


def hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_file_is_published_whole_with_its_manifest_and_nothing_staged(program, three, tmp_path):
    with committed():
        result = ccasr_export(program=program, out_dir=tmp_path, actor_name="t", today=DAY)
        # Until the commit, only the staged files: hidden from a reader of the folder.
        assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    assert result.path is not None and result.finished == ()
    assert hidden(tmp_path) == []
    manifest = json.loads((tmp_path / (result.path.name + ".manifest.json")).read_text())
    assert manifest["sha256"] == hashlib.sha256(result.path.read_bytes()).hexdigest()


def test_a_staged_file_of_a_rolled_back_run_is_removed_and_its_number_used_once(
    program, three, tmp_path, partner
):
    # What a run killed before its commit leaves: its staged files, its number not recorded.
    orphan = tmp_path / ".CCASR_CLEAN_20270310_000000001.x12.part"
    orphan.write_bytes(b"ISA*half a file")
    (tmp_path / ".CCASR_CLEAN_20270310_000000001.x12.manifest.json.part").write_text("{}")
    other = tmp_path / ".CCASR_OTHER_20270310_000000001.x12.part"  # another program's
    other.write_bytes(b"not ours")
    with committed():
        result = ccasr_export(program=program, out_dir=tmp_path, actor_name="t", today=DAY)
    assert result.finished == () and result.path is not None
    assert result.path.name == "CCASR_CLEAN_20270310_000000001.x12"
    assert hidden(tmp_path) == [other.name]
    ic, sets = requests_in(result.path)
    assert ic.control_number == "000000001" and len(sets) == 3


def test_a_committed_export_left_staged_is_finished_by_the_next_run(
    program, three, tmp_path, monkeypatch
):
    # What a run killed between its commit and the rename leaves.
    monkeypatch.setattr(files, "publish", lambda path: None)
    with committed():
        first = ccasr_export(program=program, out_dir=tmp_path, actor_name="t", today=DAY)
    assert first.path is not None and not first.path.exists()
    assert len(hidden(tmp_path)) == 2
    monkeypatch.undo()
    with committed():
        again = ccasr_export(program=program, out_dir=tmp_path, actor_name="t", today=DAY)
    assert again.export is None  # nothing left to claim: no second interchange
    assert again.finished == (first.path,)
    assert hidden(tmp_path) == []
    assert first.export is not None
    assert hashlib.sha256(first.path.read_bytes()).hexdigest() == first.export.sha256
    assert (tmp_path / (first.path.name + ".manifest.json")).exists()


# Real commits: the task publishes its file (after the commit) and delivers it in one call.
@pytest.mark.django_db(transaction=True)
def test_the_task_delivers_each_interchange_once_and_one_left_undelivered_later(
    program, three, partner, make_account
):
    from optouts.tasks import ccasr_export as task

    assert task.delay([program.pk]).get()["files_delivered"] == 1
    outbound = partner_folder(partner) / "outbound"
    (first,) = CcasrExport.objects.all()
    assert sorted(p.name for p in outbound.iterdir()) == [first.file_name]
    # Nothing new, nothing undelivered: no transfer.
    assert task.delay([program.pk]).get()["files_delivered"] == 0
    assert EdiTransfer.objects.count() == 1
    # A delivery lost (as when the worker died mid-copy): the next run sends that same file.
    EdiTransfer.objects.all().delete()
    (outbound / first.file_name).unlink()
    make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    assert task.delay([program.pk]).get() == {
        "requests": 1,
        "files_delivered": 2,
        "files_finished": 0,
    }
    assert sorted(p.name for p in outbound.iterdir()) == sorted(
        CcasrExport.objects.values_list("file_name", flat=True)
    )
    assert SR.objects.filter(status="exported").count() == 4
    assert list(CcasrExport.objects.order_by("pk").values_list("interchange_control_number")) == [
        (1,),
        (2,),
    ]
