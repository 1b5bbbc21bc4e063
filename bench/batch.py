"""`python -m bench batch [--scale N]`: one mail drop of N letters (default 200,000), end to end.

Sets up (not timed, committed so that Celery workers can see it) a program with the demo JRC and
N accounts with one due `pre_enrollment_1` notice each, spread over the demo's residential and
commercial schedules in English and Spanish and over 90 ZIP codes. Then times what
`build_mail_batch` runs (`mail_batch_build`'s steps, so the claim is timed apart): the claim
(lock, select, take, merge, serials, piece IDs) and the files (letters PDFs, data CSV with the
IMb, manifest). Prints `batch_letters_per_s`, `batch_claim_s`, the CPU seconds of every process
that worked on it and `batch_peak_mb` (the largest peak resident memory of this process and the
workers). `--workers N` (default 1) starts N Celery worker processes on a redis-server of their
own, so the batch's files are rendered by them and this process together
(cca_notices.services.batch_files); `--workers 0` renders in this process only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.programs import bench_account, bench_program, bench_utility

DEFAULT_SCALE = 200_000
SLUG = "bench-batch"
MAILER_ID = "812345"
KIND = "pre_enrollment_1"


def add_arguments(parser) -> None:
    parser.add_argument(
        "--keep-files", action="store_true", help="batch: keep the batch folder (printed path)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="batch: Celery worker processes started beside this one (own redis-server) to "
        "render files; 0 renders in this process only (default 1: two renderers on two cores)",
    )


@contextlib.contextmanager
def _workers(n: int, *, media_root: Path):
    """`n` Celery workers (prefork, one process each) on their own redis-server; this process's
    Celery app is pointed at it, so the batch's file tasks reach them."""
    if n <= 0:
        yield None
        return
    from django.db import connection

    from cca_notices.celery import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="bench-batch-redis-")
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    db = connection.settings_dict
    env = {
        **os.environ,
        "REDIS_URL": url,
        "MEDIA_ROOT": str(media_root),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
    }
    procs = [
        subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                *("-A", "cca_notices", "worker", "-c", "1", "--loglevel=WARNING"),
                *("--without-gossip", "--without-mingle", "-n", f"bench{i}@%h"),
            ],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
        )
        for i in range(n)
    ]
    saved = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url, app.conf.task_always_eager = url, False
    try:
        app.connection_for_write().ensure_connection(max_retries=20)
        time.sleep(5)  # the workers' start-up (Django, WeasyPrint), not timed
        yield url
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def _clean(program_id: int) -> None:
    from django.db import connection

    from accounts.models import ServiceAccount
    from cca_notices import models
    from cca_notices.models import MailBatch, Notice, NoticeChange

    files = getattr(models, "MailBatchFile", None)
    with connection.cursor() as cur:
        for sql in (
            f"DELETE FROM {NoticeChange._meta.db_table} WHERE notice_id IN "
            f"(SELECT id FROM {Notice._meta.db_table} WHERE program_id = %s)",
            f"DELETE FROM {Notice._meta.db_table} WHERE program_id = %s",
            *(
                [
                    f"DELETE FROM {files._meta.db_table} WHERE batch_id IN "
                    f"(SELECT id FROM {MailBatch._meta.db_table} WHERE program_id = %s)"
                ]
                if files
                else []
            ),
            f"DELETE FROM {MailBatch._meta.db_table} WHERE program_id = %s",
            "DELETE FROM accounts_statuschange WHERE account_id IN "
            f"(SELECT id FROM {ServiceAccount._meta.db_table} WHERE program_id = %s)",
            f"DELETE FROM {ServiceAccount._meta.db_table} WHERE program_id = %s",
        ):
            cur.execute(sql, [program_id])


def _setup(n: int):
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.models import Product, ServiceAccount
    from cca_notices.models import ImbSerialCounter, Notice

    call_command("migrate", verbosity=0)
    with transaction.atomic():
        utility = bench_utility(phone="+18006554555")
        program, _ = bench_program(slug=SLUG, utility=utility, mailer_id=MAILER_ID)
        _clean(program.pk)
        # Serials of earlier runs would be "in use" for 45 days: each run starts the counter anew.
        ImbSerialCounter.objects.filter(mailer_id=MAILER_ID).delete()
        product = Product.objects.get(program=program, is_default=True)

        def account(i: int) -> ServiceAccount:
            return bench_account(
                i,
                program=program,
                product=product,
                code="BB",
                key="BENCHBATCH",
                zip_code=f"925{i % 90:02d}-{1000 + (i * 37) % 9000:04d}",
                apartment=True,
                status="eligible",
            )

        for start in range(0, n, 10_000):
            ServiceAccount.objects.bulk_create(
                [account(i) for i in range(start, min(n, start + 10_000))], batch_size=10_000
            )
        table, accounts = Notice._meta.db_table, ServiceAccount._meta.db_table
        with connection.cursor() as cur:
            # Set-based, as the scheduler writes notices: one due notice per account.
            cur.execute(
                f"INSERT INTO {table} (account_id, program_id, kind, rule_set, enrollment_date, "
                "mail_date, status, piece_id, return_reason, created_at, updated_at) "
                "SELECT id, program_id, %s, 'ca_rule23', enrollment_date, %s, 'scheduled', '', "
                f"'', now(), now() FROM {accounts} WHERE program_id = %s",
                [KIND, dt.date(2027, 1, 4), program.pk],
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {accounts}")
            cur.execute(f"ANALYZE {table}")
    return program


def _peak_mb() -> float:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return self_kb / 1024


def run(*, scale: int | None, args=None):
    from unittest import mock

    from django.conf import settings
    from django.utils import timezone

    from cca_notices.services import batches
    from cca_notices.services.batches import (
        mail_batch_check,
        mail_batch_claim,
        mail_batch_write_files,
    )

    n = scale or DEFAULT_SCALE
    program = _setup(n)
    Path(settings.MEDIA_ROOT).mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="bench-batch-", dir=settings.MEDIA_ROOT))
    mail_date = dt.date(2027, 1, 6)
    n_workers = getattr(args, "workers", 1) if args is not None else 1
    try:
        # The bench's mail date is fixed; its "today" is the business day before it.
        with (
            _workers(n_workers, media_root=Path(settings.MEDIA_ROOT)),
            mock.patch.object(batches, "business_today", lambda: dt.date(2027, 1, 5)),
        ):
            cpu = time.process_time()
            started = time.perf_counter()
            # mail_batch_build's own steps, timed apart: check, claim, write.
            mail_batch_check(program=program, kind=KIND, mail_date=mail_date)
            result = mail_batch_claim(
                program=program,
                kind=KIND,
                mail_date=mail_date,
                actor_name="bench",
                via="command",
                now=timezone.now(),
                out_dir=out,
            )
            claimed = time.perf_counter()
            assert result.batch is not None, result.summary
            mail_batch_write_files(batch=result.batch, out_dir=out, lease_held=True)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
        batch = result.batch
        assert batch is not None and batch.piece_count == n, result.summary
        assert (out / batch.reference / f"{batch.reference}-manifest.json").exists()
        procs = batch.meta.get("render", {}).get("processes", [])
        here = f"{socket.gethostname()}:{os.getpid()}"
        # CPU seconds of every process that worked on it (this one's whole run, the workers'
        # file renders): the rate per core, which a loaded machine does not change much.
        cpu_all = cpu + sum(p["cpu_s"] for p in procs if p["process"] != here)
        yield "batch_letters", n, "letters"
        yield "batch_s", round(elapsed, 1), "s"
        yield "batch_letters_per_s", round(n / elapsed), "letters/s"
        yield "batch_claim_s", round(claimed - started, 1), "s"
        yield "batch_cpu_s", round(cpu_all, 1), "s"
        yield "batch_letters_per_cpu_s", round(n / cpu_all), "letters/s"
        yield "batch_files", sum(1 for f in batch.meta["files"] if f["type"] == "letters"), "files"
        for p in procs:
            who = "writer" if p["process"] == here else "worker"
            yield f"batch_files_by_{who}_{p['process'].rsplit(':', 1)[1]}", p["files"], "files"
        peak = max([_peak_mb(), *(p["peak_mb"] for p in procs)])
        yield "batch_peak_mb", round(peak), "MB"
        yield "batch_pdf_mb", round(sum(f["bytes"] for f in batch.meta["files"]) / 1e6), "MB"
    finally:
        if args is not None and getattr(args, "keep_files", False):
            print(f"# batch files kept in {out}")
        else:
            shutil.rmtree(out, ignore_errors=True)
