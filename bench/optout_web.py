"""Web opt-outs per second under load: gunicorn (2 workers, gthread) on the configured database,
driven by `wrk` on loopback, beside a bare Django view measured in the same run (before and after
the opt-outs; the mean is the baseline).

Each request is the customer's final "Confirm my opt-out" POST (the step that records), for a
different account each time, carrying the signed token the review page would have issued; every
third one leaves an e-mail address, so its confirmation task is queued after commit.
The server runs as in production: DEBUG off and REDIS_URL set (BENCH_REDIS_URL, default
redis://127.0.0.1:6379/15), so a queued task is a push to Redis, not an eager run inside the
request; no Celery worker runs, and the bench empties that queue before and after.
`optout_lost` compares rows recorded with the redirects (answers) given: it must be 0.
Figures: optout_rps, bare_view_rps, optout_share_of_bare, optout_p50_ms, optout_p99_ms,
optout_lost, the account look-up step (optout_lookup_rps, optout_lookup_p99_ms) and the
machine's 1-minute load average after each phase (other work on the machine moves every figure).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

BENCH_SLUG = "bench-optout"
DEFAULT_SCALE = 100_000
DURATION = int(os.environ.get("BENCH_DURATION", "15"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
CSRF = "benchcsrf0123456789abcdefghijklm"  # 32 characters: a valid unmasked CSRF secret
ROOT = Path(__file__).resolve().parent.parent
# The bench's own Redis database: its Celery queue and rate-limit keys are removed before and after.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
CELERY_QUEUE = "celery"

LUA = r"""
local lines = {}
for line in io.lines(os.getenv("WRK_BODIES")) do lines[#lines + 1] = line end
local threads, counter = {}, 0
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  ok, other, n = 0, 0, 0
  wrk.method = os.getenv("WRK_METHOD") or "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Cookie"] = os.getenv("WRK_COOKIE") or ""
  nthreads = tonumber(os.getenv("WRK_THREADS"))
end
function request()
  local i = (id + n * nthreads) % #lines + 1
  n = n + 1
  if wrk.method == "GET" then return wrk.format("GET") end
  return wrk.format(nil, nil, nil, lines[i])
end
function response(status, headers, body)
  if status >= 200 and status < 400 then ok = ok + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local total_ok, total_other = 0, 0
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_other = total_other + t:get("other")
  end
  io.write(string.format('BENCH_JSON {"requests": %d, "seconds": %f, "p50_us": %f, "p99_us": %f, "ok": %d, "other": %d, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), total_ok, total_other,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status))
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(scale: int):
    """A bench program with `scale` accounts (bulk-created once, reused), every one reset to a
    status that can opt out: a third before enrollment, a third in the free window, a third after
    (these two with the accepted Connect that enrolled them)."""
    from django.db import connection, transaction

    from accounts.models import (
        FeeSchedule,
        Product,
        Program,
        ReadDate,
        ServiceAccount,
        StatusChange,
        Utility,
    )
    from accounts.services import calendar
    from optouts.models import (
        ApiIdempotencyKey,
        Confirmation,
        FeeEntry,
        OptOutRequest,
        ReentryRequest,
        RetentionAcceptance,
        ServiceRequest,
    )

    utility, _ = Utility.objects.get_or_create(code="BENCH", defaults={"name": "Bench Electric"})
    program, _ = Program.objects.get_or_create(
        slug=BENCH_SLUG,
        defaults={
            "name": "Bench Community Power",
            "utility": utility,
            "phone": "+18005550100",
            "ivr_phone": "+18005550999",
            "call_centre_phone": "+18005550102",
        },
    )
    Product.objects.get_or_create(
        program=program, code="default", defaults={"name": "Default", "is_default": True}
    )
    today = calendar.today()
    if not ReadDate.objects.filter(
        utility=utility, read_date__gt=today + dt.timedelta(days=400)
    ).exists():
        ReadDate.objects.bulk_create(
            [
                ReadDate(
                    utility=utility, read_cycle=cycle, read_date=today + dt.timedelta(days=day)
                )
                for cycle in range(1, 22)
                for day in range(cycle, 800, 30)
            ],
            ignore_conflicts=True,
        )
    FeeSchedule.objects.get_or_create(
        program=program,
        customer_class="residential",
        effective_from=dt.date(2020, 1, 1),
        defaults={"admin_fee": 5, "cost_recovery_charge": 0},
    )
    accounts = ServiceAccount.objects.filter(program=program)
    # Clear what earlier runs recorded, children first (a bench fixture: plain set-based deletes,
    # not the ORM's collector, which would load every row of a 100,000-account program).
    with transaction.atomic(), connection.cursor() as cur:
        for model, where in [
            (Confirmation, "program_id = %s"),
            (FeeEntry, "program_id = %s"),
            (ServiceRequest, "program_id = %s AND cancels_id IS NOT NULL"),
            (ServiceRequest, "program_id = %s"),
            (ReentryRequest, "program_id = %s"),
            (
                ApiIdempotencyKey,
                f"optout_id IN (SELECT id FROM {OptOutRequest._meta.db_table} WHERE program_id = %s)",
            ),
            (OptOutRequest, "program_id = %s"),
            (
                RetentionAcceptance,
                f"account_id IN (SELECT id FROM {ServiceAccount._meta.db_table} WHERE program_id = %s)",
            ),
            (
                StatusChange,
                f"account_id IN (SELECT id FROM {ServiceAccount._meta.db_table} WHERE program_id = %s)",
            ),
        ]:
            cur.execute(f"DELETE FROM {model._meta.db_table} WHERE {where}", [program.pk])
    have = accounts.count()
    batch = []
    for i in range(have, scale):
        batch.append(
            ServiceAccount(
                program=program,
                account_number=f"{7_000_000_000 + i}",
                customer_name=f"BENCH CUSTOMER {i}",
                service_address=f"{i} BENCH ST",
                service_city="BENCHVILLE",
                service_zip=f"9{i % 10000:04d}",
                mailing_address=f"{i} BENCH ST",
                mailing_city="BENCHVILLE",
                mailing_state="CA",
                mailing_zip=f"9{i % 10000:04d}",
                customer_class="residential",
                rate_schedule="D",
                read_cycle=i % 21 + 1,
                opt_out_code=f"W{i:09d}",
                customer_key=f"BENCH {i}",
            )
        )
        if len(batch) == 10_000:
            ServiceAccount.objects.bulk_create(batch)
            batch = []
    if batch:
        ServiceAccount.objects.bulk_create(batch)
    # Reset statuses in three set-based updates (a bench fixture, not a status change).
    ids = accounts.order_by("id").values_list("id", flat=True)
    first = ids.first()
    accounts.update(status="notified", enrollment_date=today + dt.timedelta(days=60))
    with connection.cursor() as cur:
        table = ServiceAccount._meta.db_table
        cur.execute(
            f"UPDATE {table} SET status='enrolled', enrollment_date=%s WHERE program_id=%s AND (id - %s) %% 3 = 1",
            [today - dt.timedelta(days=20), program.pk, first],
        )
        cur.execute(
            f"UPDATE {table} SET status='participant', enrollment_date=%s WHERE program_id=%s AND (id - %s) %% 3 = 2",
            [today - dt.timedelta(days=400), program.pk, first],
        )
        # An enrolled account has the Connect that enrolled it, accepted by the utility, as in
        # production: its opt-out marks it superseded and queues a Disconnect. (Notified accounts
        # enroll in 60 days, past the Connect lead time: none yet.)
        cur.execute(
            f"INSERT INTO {ServiceRequest._meta.db_table} (program_id, account_id, type, source, effective_date, "
            "product_code, status, created_at, response_file, utility_reference, rejection_code, rejection_reason, "
            "times_sent, superseded, note) "
            f"SELECT program_id, id, 'connect', 'enrollment', enrollment_date, '', 'accepted', now(), '', '', '', '', "
            f"1, false, '' FROM {table} WHERE program_id = %s AND status IN ('enrolled', 'participant')",
            [program.pk],
        )
    if connection.vendor == "postgresql":
        # The resets above leave a dead row version behind for every account and every deleted
        # opt-out row: a live table is vacuumed by autovacuum, so vacuum here rather than have
        # each opt-out prune pages (or autovacuum start) during the measurement.
        with connection.cursor() as cur:
            for model in (
                ServiceAccount,
                StatusChange,
                OptOutRequest,
                FeeEntry,
                ServiceRequest,
                ReentryRequest,
                Confirmation,
                ApiIdempotencyKey,
                RetentionAcceptance,
            ):
                cur.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
    return program


class Server:
    """gunicorn with 2 workers, bound to loopback, with the bench-only routes enabled."""

    def __init__(self, extra_env: dict | None = None):
        self.port = _free_port()
        # Production settings: DEBUG off, and REDIS_URL set, so Celery tasks queued after commit
        # are a push to Redis (without it they would run eagerly inside the request).
        env = {
            **os.environ,
            "CCA_BENCH": "1",
            "DJANGO_SETTINGS_MODULE": "cca_notices.settings",
            "DEBUG": "0",
            "REDIS_URL": REDIS_URL,
            "OPTOUT_RATE_LIMITS": json.dumps(
                {k: [10**9, 60] for k in ("web_ip", "web_account", "ivr_caller", "ivr_account")}
            ),
            "LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
        self.proc = subprocess.Popen(
            [
                gunicorn,
                "cca_notices.wsgi",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--backlog",
                "2048",
                "--log-level",
                "warning",
                *self.worker_args(),
            ],
            cwd=ROOT,
            env=env,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    @staticmethod
    def worker_args() -> list[str]:
        """BENCH_THREADS=N runs each of the 2 workers with N threads (gthread), so one request's
        commit (WAL flush) does not idle the worker; 1 = plain sync workers."""
        threads = int(os.environ.get("BENCH_THREADS", "4"))
        return ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else []

    def __enter__(self):
        import urllib.request

        redis_purge()

        for _ in range(100):
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=2).read()
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.queued = redis_purge()


def redis_purge() -> int:
    """Empty the bench's Celery queue (no worker runs during the bench) and its rate-limit
    counters; returns how many task messages were waiting."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    queued = client.llen(CELERY_QUEUE)
    client.delete(CELERY_QUEUE)
    for key in client.scan_iter(match="*optout-rl:*", count=10_000):
        client.delete(key)
    return queued


def wrk(
    url: str,
    *,
    bodies: list[str] | None = None,
    method: str = "POST",
    cookie: str = "",
    duration: int = DURATION,
    connections: int = CONNECTIONS,
    threads: int = 2,
) -> dict:
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        script, data = Path(tmp) / "bench.lua", Path(tmp) / "bodies.txt"
        script.write_text(LUA)
        data.write_text("\n".join(bodies or ["-"]) + "\n")
        env = {
            **os.environ,
            "WRK_BODIES": str(data),
            "WRK_METHOD": method,
            "WRK_COOKIE": cookie,
            "WRK_THREADS": str(threads),
        }
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    line = next(l for l in out.splitlines() if l.startswith("BENCH_JSON "))
    result = json.loads(line.removeprefix("BENCH_JSON "))
    result["rps"] = result["requests"] / result["seconds"]
    return result


def run(*, scale: int | None):
    from django.core import signing
    from django.core.management import call_command

    from accounts.models import ServiceAccount
    from optouts.models import OptOutRequest
    from optouts.views import TOKEN_SALT

    call_command("migrate", verbosity=0)
    scale = scale or DEFAULT_SCALE
    started = time.perf_counter()
    program = seed(scale)
    print(
        f"# optout_web: {scale} accounts ready in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
        flush=True,
    )
    accounts = list(
        ServiceAccount.objects.filter(program=program).values_list(
            "pk", "account_number", "service_zip"
        )
    )
    random.Random(5).shuffle(accounts)
    # Half for the look-up step, half for confirmations, so neither sees the other's opt-outs.
    half = len(accounts) // 2
    lookups = [
        f"csrfmiddlewaretoken={CSRF}&account_number={n}&zip_code={z}" for _, n, z in accounts[:half]
    ]
    # Every third customer leaves an e-mail address: its confirmation task is queued after commit.
    confirms = [
        f"csrfmiddlewaretoken={CSRF}&t={quote(signing.dumps({'a': pk}, salt=TOKEN_SALT, compress=True))}"
        + (f"&contact_email=bench{pk}%40example.com" if i % 3 == 0 else "")
        for i, (pk, _, _) in enumerate(accounts[half:])
    ]
    cookie = f"csrftoken={CSRF}"
    loads = []
    with Server() as server:
        wrk(f"{server.url}/bench/bare/", method="GET", duration=3)  # warm-up: workers, connections
        # The bare view before and after the opt-outs (their mean is the baseline), so a change
        # in the machine's other load during the run moves both sides alike.
        bare = wrk(f"{server.url}/bench/bare/", method="GET")
        loads.append(os.getloadavg()[0])
        lookup = wrk(f"{server.url}/opt-out/", bodies=lookups, cookie=cookie)
        loads.append(os.getloadavg()[0])
        before = OptOutRequest.objects.filter(program=program).count()
        confirm = wrk(f"{server.url}/opt-out/confirm/", bodies=confirms, cookie=cookie)
        loads.append(os.getloadavg()[0])
        bare_after = wrk(f"{server.url}/bench/bare/", method="GET")
        loads.append(os.getloadavg()[0])
    recorded = OptOutRequest.objects.filter(program=program).count() - before
    if confirm["requests"] > len(confirms):
        print(
            "# warning: more requests than accounts; repeats were answered from existing opt-outs",
            file=sys.stderr,
        )
    answered = min(confirm["ok"], len(confirms))
    bare_rps = (bare["rps"] + bare_after["rps"]) / 2
    yield "optout_rps", round(confirm["rps"], 1), "req/s"
    yield "bare_view_rps", round(bare_rps, 1), "req/s"
    yield "optout_share_of_bare", round(100 * confirm["rps"] / bare_rps, 1), "%"
    yield "optout_p50_ms", round(confirm["p50_us"] / 1000, 2), "ms"
    yield "optout_p99_ms", round(confirm["p99_us"] / 1000, 2), "ms"
    yield "optout_lost", max(0, answered - recorded), "requests"
    yield "optout_non_2xx", confirm["other"] + confirm["errors"], "responses"
    yield "optout_tasks_queued", server.queued, "messages"
    yield "bare_view_rps_before_after", f"{bare['rps']:.0f}/{bare_after['rps']:.0f}", "req/s"
    yield "load_avg_1m", "/".join(f"{x:.1f}" for x in loads), "(after bare, lookup, opt-out, bare)"
    yield "optout_lookup_rps", round(lookup["rps"], 1), "req/s"
    yield "optout_lookup_p99_ms", round(lookup["p99_us"] / 1000, 2), "ms"
