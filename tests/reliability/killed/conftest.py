"""Killed-worker tests: the batch and letter fixtures (a program with a mailer ID, notices), our
own redis-server and the workers (tests/reliability/killed/workers.py)."""

import socket
import subprocess

import pytest

from tests.batches.conftest import _today, notice_for, program  # noqa: F401  (fixtures)
from tests.mailers.conftest import demo_program, make_account  # noqa: F401  (fixtures)
from tests.reliability.killed.workers import Workers, wait_for
from tests.tools import require


@pytest.fixture
def redis_url(tmp_path):
    """Our own redis-server on a free port; stopped at the end (only this one)."""
    require("redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "no", "--dir", str(tmp_path)),
        ],
        stdout=subprocess.DEVNULL,
    )

    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as c:
                c.sendall(b"PING\r\n")
                return c.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_for(up, "redis-server")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def workers(redis_url, tmp_path):
    w = Workers(redis_url, tmp_path)
    yield w
    w.stop_all()
