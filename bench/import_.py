"""`python -m bench import`: load N generated accounts (default 1,000,000) into an empty program,
then load the month's file again with 2 % of its rows changed.

Figures: import_rows_per_s and import_peak_mb (the import_accounts command in its own process,
from start to exit, with every account committed and its unique constraints and look-up indexes
in place; peak resident memory of it and its validation workers added up, sampled from /proc);
import_indexes_ready_s, until the look-up and search indexes are back too (the command queues
their rebuild for a Celery worker, accounts/services/deferred_indexes.py: the bench runs that task
itself, right after); import_reload_rows_per_s and import_reload_peak_mb, the same command
re-importing the file into the loaded program (every index in place and the table analysed, as a
month of autovacuum leaves it) with every 50th row changed in its mailing address, phone or rate
schedule (import_reload_updated says how many accounts it changed: it must be 2 % of N); and
import_orm_rows_per_s, the naive per-row ORM path on a sample, in the same run. The command runs
as in production, with REDIS_URL set (BENCH_REDIS_URL, default redis://127.0.0.1:6379/15), so
the queued task is a message, not an eager run inside the command; the bench removes it.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

SLUG = "bench-import"
ORM_SAMPLE = 3000
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


def _program():
    from accounts.models import Program
    from accounts.services.calendar import today
    from accounts.services.programs import program_file_parse, program_load_document
    from cca_notices.management.commands.demo import PROGRAM_FILE

    data = program_file_parse(path=PROGRAM_FILE)
    data["program"]["slug"] = SLUG
    data["program"]["name"] = "Benchmark Clean Energy"
    data["program"]["ivr_phone"] = ""  # the demo's line is the demo's (one program per line)
    program_load_document(data=data, source="bench", today=today())
    return Program.objects.get(slug=SLUG)


def _empty(program):
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM accounts_statuschange WHERE account_id IN"
            " (SELECT id FROM accounts_serviceaccount WHERE program_id = %s)",
            [program.pk],
        )
        cur.execute("DELETE FROM accounts_serviceaccount WHERE program_id = %s", [program.pk])
        if connection.vendor == "postgresql":
            cur.execute(
                "VACUUM ANALYZE accounts_serviceaccount"
                if not connection.in_atomic_block
                else "SELECT 1"
            )


def _data_file(n: int) -> Path:
    from accounts.services.demo_data import demo_data_generate

    folder = Path(settings.VAR_DIR) / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"eligible-{n}.csv"
    if not path.exists():
        demo_data_generate(path=path, accounts=n, seed=7)
    return path


def _tree_rss_kb(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _reload_file(path: Path) -> Path:
    """The first file with every 50th row changed where a month changes a customer's record."""
    out = path.with_name(path.stem + "-reload.csv")
    if out.exists():
        return out
    swaps = {"D": "TOU-D-4-9PM", "TOU-D-4-9PM": "D", "GS-1": "TOU-GS-1", "TOU-GS-1": "GS-1"}
    with open(path, newline="") as src, open(out, "w", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        header = next(reader)
        writer.writerow(header)
        col = {name: i for i, name in enumerate(header)}
        for n, rec in enumerate(reader):
            if n % 50 == 0:
                kind = (n // 50) % 3
                if kind == 2 and rec[col["rate_schedule"]] in swaps:
                    rec[col["rate_schedule"]] = swaps[rec[col["rate_schedule"]]]
                elif kind == 0:
                    rec[col["mailing_address"]] = f"PO BOX {n % 99991 + 1}"
                    for mail, service in (("city", "service_city"), ("zip", "service_zip")):
                        rec[col["mailing_" + mail]] = (
                            rec[col["mailing_" + mail]] or rec[col[service]]
                        )
                    rec[col["mailing_state"]] = rec[col["mailing_state"]] or "CA"
                else:
                    # The last four digits move by one, so the number always changes.
                    tail = rec[col["phone"]][-4:]
                    last4 = int(tail) if tail.isdigit() else 0
                    rec[col["phone"]] = f"(951) 555-{(last4 + 1) % 10000:04d}"
            writer.writerow(rec)
    return out


def _analyze() -> None:
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE accounts_serviceaccount")


def _run_import(path: Path) -> tuple[float, float, str]:
    manage = Path(settings.BASE_DIR) / "manage.py"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(manage),
            "import_accounts",
            str(path),
            "--program",
            SLUG,
            "--actor",
            "bench",
            "-v",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "REDIS_URL": REDIS_URL},
    )
    peak = 0

    def sample():
        nonlocal peak
        while proc.poll() is None:
            peak = max(peak, _tree_rss_kb(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"import_accounts failed: {err or out}")
    for line in out.strip().splitlines():
        print(f"# {line}", file=sys.stderr)
    return elapsed, peak / 1024, out


def _deferred_indexes() -> float:
    """What the Celery worker does with the task the import queued (the message is dropped)."""
    import redis

    from accounts.services.deferred_indexes import indexes_ensure

    started = time.perf_counter()
    built = indexes_ensure()
    elapsed = time.perf_counter() - started
    redis.Redis.from_url(REDIS_URL).delete("celery")
    print(
        f"# indexes built after the load: {', '.join(built) or 'none'} ({elapsed:.1f}s)",
        file=sys.stderr,
    )
    return elapsed


def _orm_baseline(program, path: Path) -> float:
    """What a straightforward implementation does: validate, then save each row with the ORM."""
    from accounts.models import ServiceAccount, StatusChange
    from accounts.services.importing import STAGE_COLUMNS
    from accounts.services.importing.validation import Validator

    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [(reader.line_num, rec) for rec, _ in zip(reader, range(ORM_SAMPLE), strict=False)]
    validator = Validator(program, header)
    _empty(program)
    started = time.perf_counter()
    for line, rec in rows:
        values = dict(zip(STAGE_COLUMNS, validator.row(rec, line), strict=True))
        with transaction.atomic():
            account, created = ServiceAccount.objects.update_or_create(
                program=program,
                account_number=values["account_number"],
                defaults={
                    k: values[k] for k in STAGE_COLUMNS[2:22] if k not in ("phase_id", "product_id")
                }
                | {
                    "phase_id": values["phase_id"],
                    "product_id": values["product_id"],
                    "opt_out_code": values["opt_out_code"],
                    "customer_key": values["customer_key"],
                    "status": values["new_status"],
                },
            )
            if created:
                StatusChange.objects.create(
                    account=account,
                    from_status="",
                    to_status=account.status,
                    at=account.created_at,
                    actor_name="bench",
                    channel="import",
                )
    return len(rows) / (time.perf_counter() - started)


def run(*, scale: int | None):
    n = scale or 1_000_000
    program = _program()
    path = _data_file(n)
    orm_rate = _orm_baseline(program, path)
    _empty(program)
    elapsed, peak_mb, _ = _run_import(path)
    indexes_s = _deferred_indexes()
    yield "import_rows_per_s", round(n / elapsed), "rows/s"
    yield "import_s", round(elapsed, 1), "s"
    yield "import_indexes_ready_s", round(elapsed + indexes_s, 1), "s"
    yield "import_peak_mb", round(peak_mb), "MB"
    yield "import_orm_rows_per_s", round(orm_rate), "rows/s"
    reload_path = _reload_file(path)
    if connection.vendor == "postgresql":
        _analyze()
    reload_s, reload_mb, out = _run_import(reload_path)
    updated = re.search(r"(\d+) updated", out)
    yield "import_reload_rows_per_s", round(n / reload_s), "rows/s"
    yield "import_reload_s", round(reload_s, 1), "s"
    yield "import_reload_peak_mb", round(reload_mb), "MB"
    yield "import_reload_updated", int(updated[1]) if updated else -1, "accounts"
