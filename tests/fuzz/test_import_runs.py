"""An import run that stops, for whatever reason, is recorded as stopped (failed or rejected),
never left `running`; the message is stored even when it quotes a NUL or a byte that was not
UTF-8 (on PostgreSQL such a message made the run's own save fail)."""

import pytest

from accounts.models import ImportRun, ServiceAccount
from accounts.services.importing import ImportRejected, accounts_import
from accounts.services.importing.results import RowError
from accounts.services.status import Actor
from tests.fuzz.conftest import HEADERS

pytestmark = pytest.mark.django_db

ROW = "3000000001,Ana Ruiz,1 Main St,San Rafael,94901,,,,,residential,D,3,en,,,N,N,N,N,Phase 1"


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "eligible.csv"
    path.write_text(f"{HEADERS['import_accounts']}\n{ROW}\n")
    return path


def run_import(program, path):
    return accounts_import(program=program, path=path, actor=Actor("test"))


@pytest.mark.parametrize(
    "error", [RuntimeError("disk full \x00 \udcff"), KeyboardInterrupt(), MemoryError()]
)
def test_a_run_that_fails_for_any_reason_is_marked_failed(
    file_program, good_file, monkeypatch, error
):
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr("accounts.services.importing.run.file_header", broken)
    with pytest.raises(type(error)):
        run_import(file_program, good_file)
    run = ImportRun.objects.get()
    assert run.outcome == ImportRun.Outcome.FAILED and run.finished_at is not None
    assert run.message.startswith(type(error).__name__)
    assert not ServiceAccount.objects.exists()


def test_a_failure_inside_the_load_is_marked_failed(file_program, good_file, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("COPY failed")

    monkeypatch.setattr("accounts.services.importing.run.merge", broken)
    monkeypatch.setattr("accounts.services.importing.run.first_load", broken)
    with pytest.raises(RuntimeError):
        run_import(file_program, good_file)
    assert ImportRun.objects.get().outcome == ImportRun.Outcome.FAILED
    assert not ServiceAccount.objects.exists()


def test_a_rejection_quoting_a_nul_and_a_bad_byte_is_recorded(file_program, good_file, monkeypatch):
    def rejected(*args, **kwargs):
        raise ImportRejected([RowError(2, "account_number", "'30\x0001' and '\udcf1'")], 1)

    monkeypatch.setattr("accounts.services.importing.run.file_header", rejected)
    with pytest.raises(ImportRejected):
        run_import(file_program, good_file)
    run = ImportRun.objects.get()
    assert run.outcome == ImportRun.Outcome.REJECTED
    assert "30\\x0001" in run.message and "\\udcf1" in run.message


def test_a_good_file_still_loads(file_program, good_file):
    result = run_import(file_program, good_file)
    assert result.run.outcome == ImportRun.Outcome.LOADED and ServiceAccount.objects.count() == 1
