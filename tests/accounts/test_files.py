"""accounts/services/files.py: an atomic write is whole or absent, and a file staged for a
transaction's commit is hidden until the commit and never published by a rollback."""

import re

import pytest
from django.db import transaction

from accounts.services import files


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_an_atomic_write_takes_the_name_whole_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    files.atomic_write(target, b"a,b\n")
    assert target.read_bytes() == b"a,b\n"
    assert names(tmp_path) == ["out.csv"]


def test_a_failed_atomic_write_leaves_no_temporary_file_and_no_target(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), files.atomic_text_writer(target) as fh:
        fh.write("half a file")
        assert names(tmp_path) == ["out.csv.part"]  # written under the temporary name
        raise RuntimeError("the writer failed")
    assert names(tmp_path) == []


def test_a_failed_atomic_write_keeps_the_file_it_would_have_replaced(tmp_path):
    target = tmp_path / "out.csv"
    target.write_bytes(b"yesterday's")
    temp = tmp_path / "out.csv.partial"
    with pytest.raises(RuntimeError), files.atomic_writer(target, temp=temp) as fh:
        fh.write(b"today's, half")
        raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"yesterday's"
    assert names(tmp_path) == ["out.csv"]


def test_an_atomic_copy_is_the_source_byte_for_byte(tmp_path):
    (tmp_path / "a").mkdir()
    src = tmp_path / "a" / "f.x12"
    src.write_bytes(b"ISA*" * 100_000)
    files.atomic_copy(src, tmp_path / "f.x12")
    assert (tmp_path / "f.x12").read_bytes() == src.read_bytes()
    assert names(tmp_path) == ["a", "f.x12"]


@pytest.mark.django_db(transaction=True)
def test_a_staged_file_is_hidden_until_the_commit_then_takes_its_name(tmp_path):
    target = tmp_path / "CCASR_1.x12"
    with transaction.atomic():
        files.stage_for_commit(target.with_name("CCASR_1.x12.manifest.json"), b"{}")
        files.stage_for_commit(target, b"ISA*")
        assert not [n for n in names(tmp_path) if not n.startswith(".")]
        assert (tmp_path / ".CCASR_1.x12.part").read_bytes() == b"ISA*"
    assert names(tmp_path) == ["CCASR_1.x12", "CCASR_1.x12.manifest.json"]
    assert target.read_bytes() == b"ISA*"


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_publishes_nothing(tmp_path):
    target = tmp_path / "997_1.x12"
    with pytest.raises(RuntimeError), transaction.atomic():
        files.stage_for_commit(target, b"ISA*")
        raise RuntimeError("the import failed after staging")
    assert not target.exists()
    # Only the hidden staged file: what the caller's finisher removes.
    assert names(tmp_path) == [".997_1.x12.part"]
    assert files.staged_leftovers(tmp_path, names=re.compile(r"997_\d+\.x12")) == [target]
    files.discard(target)
    assert names(tmp_path) == []


@pytest.mark.django_db(transaction=True)
def test_a_file_is_staged_only_inside_the_transaction_recording_it(tmp_path):
    # Outside one, on_commit would publish at once: a caller that forgot its transaction.
    with pytest.raises(ValueError, match="inside the transaction"):
        files.stage_for_commit(tmp_path / "f.x12", b"ISA*")
    assert names(tmp_path) == []


def test_leftovers_are_the_callers_own_and_a_finished_one_publishes_once(tmp_path):
    for name in (".CCASR_A_1.x12.part", ".CCASR_B_1.x12.part", "CCASR_A_2.x12.part", "x.part"):
        (tmp_path / name).write_bytes(b"ISA*")
    ours = re.compile(r"CCASR_A_\d+\.x12")
    (left,) = files.staged_leftovers(tmp_path, names=ours)
    assert left == tmp_path / "CCASR_A_1.x12"
    files.publish(left)
    files.publish(left)  # the run's own publish after a finisher already did it
    assert left.read_bytes() == b"ISA*"
    assert files.staged_leftovers(tmp_path, names=ours) == []
    with pytest.raises(FileNotFoundError):
        files.publish(tmp_path / "never-staged.x12")
