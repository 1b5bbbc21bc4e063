"""`python -m bench schedule [--scale N]`: schedule N accounts × 4 notices (default 1,000,000).

Builds a program of N eligible accounts spread over 21 read cycles and two phases (COPY on
PostgreSQL, bulk_create elsewhere; not timed), then times `notices_schedule` — the service the
`schedule_notices` command calls — and a second, idempotent run.
"""

from __future__ import annotations

import datetime as dt
import io
import time

DEFAULT_SCALE = 1_000_000
SLUG = "bench-schedule"
CYCLES = 21


def _setup(n: int):
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Phase, Program, ReadDate, ServiceAccount, Utility
    from accounts.services.calendar import today
    from cca_notices.models import Notice, NoticeChange, ScheduleRun

    call_command("migrate", verbosity=0)
    utility, _ = Utility.objects.get_or_create(code="BENCH", defaults={"name": "Bench Utility"})
    program, _ = Program.objects.get_or_create(
        slug=SLUG, defaults={"name": "Bench Clean Power", "utility": utility}
    )
    with connection.cursor() as cur:
        for model, where in (
            (
                NoticeChange,
                f"notice_id IN (SELECT id FROM {Notice._meta.db_table} WHERE program_id = %s)",
            ),
            (Notice, "program_id = %s"),
            (ScheduleRun, "program_id = %s"),
        ):
            cur.execute(f"DELETE FROM {model._meta.db_table} WHERE {where}", [program.pk])
        cur.execute(
            "DELETE FROM accounts_statuschange WHERE account_id IN "
            f"(SELECT id FROM {ServiceAccount._meta.db_table} WHERE program_id = %s)",
            [program.pk],
        )
        cur.execute(
            f"DELETE FROM {ServiceAccount._meta.db_table} WHERE program_id = %s", [program.pk]
        )
    Phase.objects.filter(program=program).delete()
    ReadDate.objects.filter(utility=utility).delete()

    start = today() + dt.timedelta(days=90)
    phases = [
        Phase.objects.create(
            program=program,
            name=f"Phase {i + 1}",
            number=i + 1,
            enrollment_start=start + dt.timedelta(days=31 * i),
            enrollment_end=start + dt.timedelta(days=31 * i + 30),
        )
        for i in range(2)
    ]
    ReadDate.objects.bulk_create(
        ReadDate(
            utility=utility,
            read_cycle=c,
            read_date=start - dt.timedelta(days=60) + dt.timedelta(days=c + 30 * k),
        )
        for c in range(1, CYCLES + 1)
        for k in range(10)
    )
    _load_accounts(program, phases, n)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {ServiceAccount._meta.db_table}")
    return program


def _account_values(program, phases, i: int) -> dict:
    return {
        "program_id": program.pk,
        "account_number": f"B{i:011d}",
        "customer_name": f"CUSTOMER {i}",
        "service_address": f"{i % 9999 + 1} MAIN ST",
        "service_city": "SAN RAFAEL",
        "service_zip": "94901",
        "mailing_address": f"{i % 9999 + 1} MAIN ST",
        "mailing_city": "SAN RAFAEL",
        "mailing_state": "CA",
        "mailing_zip": "94901",
        "customer_class": "residential",
        "rate_schedule": "D",
        "read_cycle": i % CYCLES + 1,
        "language": "en",
        "phase_id": phases[i % len(phases)].pk,
        "status": "eligible",
        "opt_out_code": f"S{i:011d}",
        "customer_key": f"CUSTOMER {i}|{i}",
    }


def _load_accounts(program, phases, n: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import ServiceAccount

    now = timezone.now()
    fields = [f for f in ServiceAccount._meta.concrete_fields if not f.primary_key]
    if connection.vendor != "postgresql":
        batch = []
        for i in range(n):
            batch.append(ServiceAccount(**_account_values(program, phases, i)))
            if len(batch) == 5000:
                ServiceAccount.objects.bulk_create(batch)
                batch = []
        ServiceAccount.objects.bulk_create(batch)
        return

    def text(field, values):
        if field.attname in values:
            v = values[field.attname]
        elif field.attname in ("created_at", "updated_at"):
            v = now.isoformat()
        elif field.has_default():
            v = field.get_default()
        elif field.null:
            v = None
        else:
            v = ""
        if v is None:
            return r"\N"
        if isinstance(v, bool):
            return "t" if v else "f"
        if isinstance(v, (list, dict)):
            import json

            v = json.dumps(v)
        return str(v).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")

    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cur:
        raw = cur.cursor
        chunk = 100_000
        for start in range(0, n, chunk):
            buf = io.StringIO()
            for i in range(start, min(n, start + chunk)):
                values = _account_values(program, phases, i)
                buf.write("\t".join(text(f, values) for f in fields))
                buf.write("\n")
            with raw.copy(f"COPY {ServiceAccount._meta.db_table} ({columns}) FROM STDIN") as copy:
                copy.write(buf.getvalue())


def run(*, scale: int | None):
    from cca_notices.models import Notice
    from cca_notices.services.scheduling import notices_schedule

    n = scale or DEFAULT_SCALE
    program = _setup(n)
    started = time.perf_counter()
    result = notices_schedule(program=program, actor_name="bench")
    elapsed = time.perf_counter() - started
    rows = Notice.objects.filter(program=program).count()
    assert result.created == rows == 4 * n, (result.created, rows, result.problems)
    yield "schedule_s", round(elapsed, 2), "s"
    yield "schedule_rows_per_s", int(rows / elapsed), "rows/s"
    started = time.perf_counter()
    again = notices_schedule(program=program, actor_name="bench")
    assert again.created == again.rescheduled == 0
    yield "schedule_rerun_s", round(time.perf_counter() - started, 2), "s"
