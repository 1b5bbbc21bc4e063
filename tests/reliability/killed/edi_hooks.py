"""Loaded by the CCASR killed-worker tests' workers only (edi_worker_settings.CELERY_IMPORTS).
While a marker file exists in `$KILL_TEST_DIR`, the export stops for good at a known point,
after writing `$KILL_TEST_DIR/reached-<what>`:

- `block-ccasr-staged`: inside the export's transaction — the requests claimed, the control
  numbers drawn, the export recorded, the interchange written whole to its staging file — before
  the commit;
- `block-ccasr-delivery`: after the commit, half-way through copying the interchange into the
  partner's outbound folder (half its bytes written).
"""

from pathlib import Path

from accounts.services.files import temp_path
from optouts.services import edi_delivery, edi_export
from tests.reliability.worker_hooks import DIR, _stop_here

_stage_for_commit = edi_export.stage_for_commit


def _stage_then_stop(path, data):
    _stage_for_commit(path, data)
    if not path.name.endswith(".manifest.json"):  # the interchange, staged after its manifest
        _stop_here("ccasr-staged", marker="block-ccasr-staged")


# The export module's name only: other callers of the helper are not stopped.
edi_export.stage_for_commit = _stage_then_stop


_atomic_copy = edi_delivery.atomic_copy


def _copy_then_stop(src: Path, dst: Path, *, temp: Path | None = None) -> None:
    if (DIR / "block-ccasr-delivery").exists():
        data = Path(src).read_bytes()
        with open(temp or temp_path(dst), "wb") as fh:  # where atomic_copy writes first
            fh.write(data[: len(data) // 2])
        _stop_here("ccasr-delivery", marker="block-ccasr-delivery")
    _atomic_copy(src, dst, temp=temp)


# Only the delivery module's copy: nothing else in the worker copies through this name.
edi_delivery.atomic_copy = _copy_then_stop
