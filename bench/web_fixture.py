"""What the web and IVR benchmarks share: the seeded bench program and the production-like
server they drive (gunicorn with 2 workers on loopback, DEBUG off, Redis as cache and broker).

The server's Redis is REDIS_URL (BENCH_REDIS_URL overrides it; default
redis://127.0.0.1:6379/15): the bench empties that database's Celery queue and rate-limit
counters before and after, so give it a Redis database of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

BENCH_SLUG = "bench-optout"
DURATION = int(os.environ.get("BENCH_DURATION", "15"))
CSRF = "benchcsrf0123456789abcdefghijklm"  # 32 characters: a valid unmasked CSRF secret
ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = (
    os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
)
CELERY_QUEUE = "celery"
# Every limit out of the way: the replaying benches send one address's and one account's
# requests many times.
NO_RATE_LIMITS = {
    k: [10**9, 60] for k in ("web_ip", "web_account", "ivr_caller", "ivr_account", "api_user")
}


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
    of_program_accounts = (
        f"account_id IN (SELECT id FROM {ServiceAccount._meta.db_table} WHERE program_id = %s)"
    )
    with transaction.atomic(), connection.cursor() as cur:
        for model, where in [
            (Confirmation, "program_id = %s"),
            (FeeEntry, "program_id = %s"),
            (ServiceRequest, "program_id = %s AND cancels_id IS NOT NULL"),
            (ServiceRequest, "program_id = %s"),
            (ReentryRequest, "program_id = %s"),
            (
                ApiIdempotencyKey,
                f"optout_id IN (SELECT id FROM {OptOutRequest._meta.db_table}"
                " WHERE program_id = %s)",
            ),
            (OptOutRequest, "program_id = %s"),
            (RetentionAcceptance, of_program_accounts),
            (StatusChange, of_program_accounts),
        ]:
            cur.execute(f"DELETE FROM {model._meta.db_table} WHERE {where}", [program.pk])
    # The site's form looks an account up by number and ZIP across every program, so the web
    # benchmarks' accounts must not share numbers with the batch and mailer benchmarks' (7…) in
    # the same database: those customers would be found in the other program.
    with connection.cursor() as cur:
        renumber = "SET account_number = '8' || substr(account_number, 2)"
        cur.execute(
            f"UPDATE {ServiceAccount._meta.db_table} {renumber}"
            " WHERE program_id = %s AND account_number LIKE '7%%'",
            [program.pk],
        )
    have = accounts.count()
    batch = []
    for i in range(have, scale):
        batch.append(
            ServiceAccount(
                program=program,
                account_number=f"{8_000_000_000 + i}",
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
            f"UPDATE {table} SET status='enrolled', enrollment_date=%s"
            " WHERE program_id=%s AND (id - %s) %% 3 = 1",
            [today - dt.timedelta(days=20), program.pk, first],
        )
        cur.execute(
            f"UPDATE {table} SET status='participant', enrollment_date=%s"
            " WHERE program_id=%s AND (id - %s) %% 3 = 2",
            [today - dt.timedelta(days=400), program.pk, first],
        )
        # An enrolled account has the Connect that enrolled it, accepted by the utility, as in
        # production: its opt-out marks it superseded and queues a Disconnect. (Notified accounts
        # enroll in 60 days, past the Connect lead time: none yet.)
        cur.execute(
            f"INSERT INTO {ServiceRequest._meta.db_table} (program_id, account_id, type, source, "
            "effective_date, product_code, status, created_at, response_file, utility_reference, "
            "rejection_code, rejection_reason, times_sent, superseded, note) "
            "SELECT program_id, id, 'connect', 'enrollment', enrollment_date, '', 'accepted', "
            f"now(), '', '', '', '', 1, false, '' FROM {table} "
            "WHERE program_id = %s AND status IN ('enrolled', 'participant')",
            [program.pk],
        )
    shared = (
        ServiceAccount.objects.exclude(program=program)
        .filter(account_number__in=accounts.values("account_number"))
        .values_list("account_number", flat=True)[:1]
    )
    if shared:
        raise RuntimeError(
            f"account {shared[0]} of {BENCH_SLUG} also exists in another program of this"
            " database: the form would find either; use a database of its own"
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
    """gunicorn with 2 workers, bound to loopback."""

    def __init__(self, extra_env: dict | None = None, *, rate_limits: dict | None = None):
        self.port = _free_port()
        # Production settings: DEBUG off, and REDIS_URL set, so Celery tasks queued after commit
        # are a push to Redis (without it they would run eagerly inside the request).
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cca_notices.settings",
            "DEBUG": "0",
            "REDIS_URL": REDIS_URL,
            "OPTOUT_RATE_LIMITS": json.dumps(
                NO_RATE_LIMITS if rate_limits is None else rate_limits
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

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the gunicorn master and its live workers."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    # The command name may hold spaces: the fields after it are split on.
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry) == self.proc.pid or int(fields[1]) == self.proc.pid:
                total += int(fields[11]) + int(fields[12])
        return total / tick

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
