"""The killed-worker tests' tools: real Celery workers on the test database, started and killed
(only those started here), and tasks sent to them through the test's own redis-server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from celery import Celery
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]
CELERY = Path(sys.executable).with_name("celery")


def wait_for(check, what: str, timeout: float = 25.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Workers:
    """Starts workers against the test database and kills them (only those it started)."""

    def __init__(
        self, redis_url: str, folder: Path, settings: str = "tests.reliability.worker_settings"
    ):
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": redis_url,
            "MEDIA_ROOT": str(folder / "media"),
            "KILL_TEST_DIR": str(folder),
            # This checkout's code, whatever an editable install of the venv points at.
            "PYTHONPATH": str(ROOT),
        }
        if db.get("PASSWORD"):
            self.env["PGPASSWORD"] = db["PASSWORD"]
        self.folder = folder
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        n = len(self.procs) + 1
        with open(self.folder / f"worker-{n}.log", "wb") as log:  # the child keeps its own copy
            proc = subprocess.Popen(
                [
                    *(str(CELERY), "-A", "cca_notices", "worker", "--pool=solo", "--loglevel=INFO"),
                    *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                    *("-n", f"kill{n}@%h"),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.folder.glob("worker-*.log"))


def send(redis_url: str, name: str, *args) -> None:
    # Not the current app: the project's shared tasks would bind to it (and its broker, gone
    # once the test ends) in every later test of this process.
    app = Celery("kill-test", broker=redis_url, set_as_current=False)
    app.send_task(name, args=list(args))
    app.close()
