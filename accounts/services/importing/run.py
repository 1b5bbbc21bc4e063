"""One run of the import: the ImportRun record, the choice of path, and the outcome."""

from __future__ import annotations

from pathlib import Path

from django.utils import timezone

from accounts.models import ImportRun, Program
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
        file_name=str(path),
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
    except Exception as exc:
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
    return result


def _finish(run: ImportRun, result: ImportResult, outcome: str, message: str) -> None:
    run.outcome, run.message, run.finished_at = outcome, message[:10000], timezone.now()
    run.rows, run.created, run.updated, run.unchanged = (
        result.rows,
        result.created,
        result.updated,
        result.unchanged,
    )
    run.rejected, run.status_kept = result.rejected, result.status_kept
    run.reject_file = str(result.reject_file or "")
    run.save()
