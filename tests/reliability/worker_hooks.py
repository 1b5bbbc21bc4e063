"""Loaded by the killed test workers only (worker_settings.CELERY_IMPORTS). While the file
`$KILL_TEST_DIR/block` exists, a worker stops for good at a known point — an e-mail handed to
the backend (before the provider accepted it), a mail batch's second letters file rendered, or
(with `block-claim`) the batch's claim half-done inside its transaction —
after writing `$KILL_TEST_DIR/reached-<what>`, so the test knows when to kill it. E-mails that
are sent are written to `$KILL_TEST_DIR/sent/`, one file each."""

import os
import time
import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend

from cca_notices.services import batch_files, batches

DIR = Path(os.environ.get("KILL_TEST_DIR", "/nonexistent"))


def _stop_here(what: str, marker: str = "block") -> None:
    if (DIR / marker).exists():
        (DIR / f"reached-{what}").write_text(str(os.getpid()))
        time.sleep(3600)  # until the test kills this worker


class BlockingEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        _stop_here("email")
        sent = DIR / "sent"
        sent.mkdir(exist_ok=True)
        for message in email_messages:
            (sent / f"{uuid.uuid4().hex}.eml").write_bytes(message.message().as_bytes())
        return len(email_messages)


_render = batch_files.batch_file_render


def _render_then_stop(*, part, out_dir):
    _render(part=part, out_dir=out_dir)
    if part.index == 2:
        _stop_here("batch")


batch_files.batch_file_render = _render_then_stop

_allocate = batches.imb_serials_allocate


def _stop_then_allocate(**kwargs):
    # Inside the claim's transaction: the batch row exists and the notices are taken, uncommitted.
    _stop_here("claim", marker="block-claim")
    return _allocate(**kwargs)


batches.imb_serials_allocate = _stop_then_allocate
