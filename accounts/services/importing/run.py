"""One run of the import: the ImportRun record, the choice of path, and the outcome."""

from __future__ import annotations

from pathlib import Path

from django.utils import timezone

from accounts.models import ImportRun, Program
from accounts.services.account_tally import account_tally_refresh_after_commit
from accounts.services.files import file_sha256
from accounts.services.importing.csv_file import file_header, rejects_write
from accounts.services.importing.first_load import FirstLoadClash, first_load
from accounts.services.importing.merge import merge
from accounts.services.importing.results import MAX_REPORTED_ERRORS, ImportRejected, ImportResult
from accounts.services.importing.staging import Stage, stage_load
from accounts.services.status import Actor


def accounts_import(
    *,
    program: Program,
    path: Path,
    actor: Actor,
    skip_invalid: bool = False,
    progress: bool | None = None,
) -> ImportResult:
    """Validate and load an eligible-customer file into `program` (see the package docstring)."""
    path = Path(path)
    run = ImportRun.objects.create(
        program=program,
        kind=ImportRun.Kind.ACCOUNTS,
        file_name=_storable(str(path)),
        sha256=file_sha256(path),
        actor=actor.name,
    )
    result = ImportResult(run=run)
    stage = Stage()
    try:
        header = file_header(path)
        loaded = False
        if stage.pg:
            try:
                loaded = first_load(program, path, header, result, progress, skip_invalid)
            except FirstLoadClash:
                result = ImportResult(run=run)
        if not loaded:
            stage_load(program, path, header, stage, result, progress)
            if result.errors and not skip_invalid:
                raise ImportRejected(result.errors[:MAX_REPORTED_ERRORS], result.rejected)
        if result.rejected:
            result.reject_file = rejects_write(path, result)
        if not loaded:
            merge(program, stage, result, actor)
    except ImportRejected as exc:
        exc.run = run
        _finish(run, result, ImportRun.Outcome.REJECTED, str(exc))
        raise
    except BaseException as exc:
        # Whatever stopped it (a database error, Ctrl-C, a worker's death), the run says so:
        # a run left "running" would look like one still going.
        _finish(run, result, ImportRun.Outcome.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        stage.drop()
    _finish(
        run,
        result,
        ImportRun.Outcome.PARTIAL if result.rejected else ImportRun.Outcome.LOADED,
        result.summary(),
    )
    account_tally_refresh_after_commit(program_id=program.pk)  # the dashboard's rate figures
    return result


def _storable(text: str) -> str:
    """`text` as PostgreSQL can store it: a NUL or a byte that was not UTF-8 (carried as a
    surrogate) written as its escape, so a message quoting a bad value never fails to save."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _finish(run: ImportRun, result: ImportResult, outcome: str, message: str) -> None:
    run.outcome, run.finished_at = outcome, timezone.now()
    run.message = _storable(message)[:10000]
    run.rows, run.created, run.updated, run.unchanged = (
        result.rows,
        result.created,
        result.updated,
        result.unchanged,
    )
    run.rejected, run.status_kept = result.rejected, result.status_kept
    run.reject_file = str(result.reject_file or "")
    run.save()
