"""Where an opt-out's CPU goes, in-process (no server, no wrk): the confirm request through the
WSGI app, and the same statements replayed with psycopg alone (the database floor).

Three passes over the same accounts, each after the seed has reset them:
1. the real path: the customer's confirm POST through Django (middleware, form, token, the
   rules, rows, commit), with the statements it sends to PostgreSQL recorded as they go;
2. a replay of every recorded statement, one transaction per opt-out, with psycopg alone: what
   the same database work costs without Django or the rules;
3. a replay of the lock and the write only (the floor any implementation on this schema pays).
Each pass reports Python CPU of this process and CPU of its PostgreSQL backend per opt-out
(read from /proc, so only when PostgreSQL runs on this machine). A bare request through the
same WSGI app is the baseline. Confirmation e-mails are left out: without a broker they would be
sent inline; a Celery publish is measured on its own in docs/performance.md.
Figures: optout_cost_bare_py_ms, optout_cost_py_ms, optout_cost_pg_ms, optout_cost_statements,
optout_replay_py_ms, optout_replay_pg_ms, optout_floor_py_ms, optout_floor_pg_ms.
"""

from __future__ import annotations

import io
import os
import time
from urllib.parse import quote

from bench.optout_web import CSRF, seed

DEFAULT_SCALE = 100_000
COUNT = int(os.environ.get("BENCH_OPTOUT_COST_COUNT", "2000"))


def _wsgi_call(app, path: str, body: bytes = b"", method: str = "POST") -> str:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "HTTP_COOKIE": f"csrftoken={CSRF}",
    }
    status = []
    result = app(environ, lambda s, headers, *exc: status.append(s))
    b"".join(result)
    result.close()
    return status[0]


class _Cpu:
    """CPU seconds of this process and of one PostgreSQL backend (None when not on this machine)."""

    def __init__(self, backend_pid: int | None):
        self.path = (
            f"/proc/{backend_pid}/stat"
            if backend_pid and os.path.exists(f"/proc/{backend_pid}/stat")
            else None
        )

    def read(self) -> tuple[float, float | None]:
        pg = None
        if self.path:
            fields = open(self.path).read().rsplit(")", 1)[1].split()
            pg = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return time.process_time(), pg


def _per(before, after, n: int) -> tuple[float, float | str]:
    py = 1000 * (after[0] - before[0]) / n
    pg = 1000 * (after[1] - before[1]) / n if before[1] is not None else None
    return round(py, 2), (round(pg, 2) if pg is not None else "n/a")


def _backend_pid(connection) -> int:
    """Of a Django connection or a psycopg one (both cursors work the same here)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def run(*, scale: int | None):
    from django.conf import settings
    from django.core import signing
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    from accounts.models import ServiceAccount
    from accounts.services import rows
    from optouts.views import TOKEN_SALT

    if connection.vendor != "postgresql":
        raise RuntimeError("optout_cost measures PostgreSQL: set DATABASE_URL")
    os.environ["CCA_BENCH"] = "1"  # routes /bench/bare/ (read when the URLconf is first imported)
    settings.DEBUG = False  # no query log in this process
    call_command("migrate", verbosity=0)
    program = seed(scale or DEFAULT_SCALE)
    pks = list(
        ServiceAccount.objects.filter(program=program)
        .order_by("pk")
        .values_list("pk", flat=True)[:COUNT]
    )
    bodies = [
        f"csrfmiddlewaretoken={CSRF}&t={quote(signing.dumps({'a': pk}, salt=TOKEN_SALT, compress=True))}".encode()
        for pk in pks
    ]
    app = get_wsgi_application()
    _wsgi_call(app, "/bench/bare/", method="GET")  # first request: URLconf, imports
    cpu = _Cpu(_backend_pid(connection))
    # CONN_MAX_AGE would close it mid-pass when the seed ran long; the backend must stay the same.
    connection.close_at = None

    before = cpu.read()
    for _ in range(COUNT):
        _wsgi_call(app, "/bench/bare/", method="GET")
    bare_py, _ = _per(before, cpu.read(), COUNT)

    # 1. The real path, recording each statement it sends through rows.py (all of them but
    # BEGIN and COMMIT, which the replay sends itself).
    recorded: list[list[tuple[str, list]]] = []
    send = rows._fetchone

    def recording(conn, sql, params):
        recorded[-1].append((rows._numbered(sql), list(params)))
        return send(conn, sql, params)

    rows._fetchone = recording
    try:
        before = cpu.read()
        for body in bodies:
            recorded.append([])
            status = _wsgi_call(app, "/opt-out/confirm/", body)
            if not status.startswith("302"):
                raise RuntimeError(f"confirm answered {status}")
        path_py, path_pg = _per(before, cpu.read(), COUNT)
    finally:
        rows._fetchone = send
    statements = sum(len(r) for r in recorded) / COUNT + 2  # + BEGIN and COMMIT

    # 2 and 3. The same statements again, on the same accounts reset by the seed.
    import psycopg
    from psycopg import RawCursor

    def replay(pick) -> tuple[float, float | str]:
        connection.close()
        seed(scale or DEFAULT_SCALE)
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params["prepare_threshold"] = 5
        with psycopg.connect(**params) as conn:
            replay_cpu = _Cpu(_backend_pid(conn))
            conn.commit()
            start = replay_cpu.read()
            with RawCursor(conn) as cursor:
                for statements_of_one in recorded:
                    for sql, values in pick(statements_of_one):
                        cursor.execute(sql, values, prepare=True)
                        cursor.fetchone()
                    conn.commit()
            return _per(start, replay_cpu.read(), COUNT)

    replay_py, replay_pg = replay(lambda s: s)
    floor_py, floor_pg = replay(lambda s: [s[0], s[-1]])  # the lock, the write

    yield "optout_cost_bare_py_ms", bare_py, "ms"
    yield "optout_cost_py_ms", path_py, "ms"
    yield "optout_cost_pg_ms", path_pg, "ms"
    yield "optout_cost_statements", round(statements, 2), "statements (BEGIN and COMMIT included)"
    yield "optout_replay_py_ms", replay_py, "ms"
    yield "optout_replay_pg_ms", replay_pg, "ms"
    yield "optout_floor_py_ms", floor_py, "ms"
    yield "optout_floor_pg_ms", floor_pg, "ms"
