"""`python -m bench dashboard [--scale N]`: the staff home, the dashboard and the board report
over a program of N accounts (default 1,000,000) in mid-life, on PostgreSQL.

The program is built in SQL (INSERT … SELECT over generate_series; not timed): three phases (the
first enrolled six weeks ago, the second enrolling, the third ahead), 40 cities and the seven
customer classes, four notices per account in every state (mailed on time, mailed late,
returned, batched, scheduled, overdue), 8 % of the accounts opted out through every channel with
an opt-out request, a CCASR and a confirmation each, a termination fee for those after the free
window, a few hundred accounts waiting for address repair.

The dashboard's tallies (accounts by phase, class, city and status; notices by enrollment date,
kind, status and mail date) are then built the way production builds them, by the rebuild the
beat and the bulk changes run (cca_notices.services.dashboard_tally), and timed: that cost moved
off the page.

Figures: dashboard_tally_refresh_s — both tallies rebuilt (…_accounts_s, …_notices_s its parts);
dashboard_s — the staff home (every program's standing) plus one program's dashboard (every
chart, the rates and compliance from the tallies), median of 3 runs after one warm-up;
dashboard_home_s and dashboard_program_s its two parts; dashboard_live_s — the same dashboard
computed live (what a missing or stale tally costs, one run); report_s — the board report built,
suppressed and written as CSV and PDF, median of 3 runs (report_pdf_s the PDF alone);
dashboard_cold_s — the first run after the load. The tallied dashboard is checked equal to the
live one before anything is timed.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

DEFAULT_SCALE = 1_000_000
SLUG = "bench-dashboard"
CITIES = 40
OPTED_OUT_PER_MILLE = 80

CLASSES_SQL = """CASE WHEN i %% 100 < 86 THEN 'residential'
  WHEN i %% 100 < 94 THEN 'small_commercial'
  WHEN i %% 100 < 97 THEN 'medium_commercial' WHEN i %% 100 < 98 THEN 'large_commercial'
  WHEN i %% 100 < 99 THEN 'agricultural' WHEN i %% 200 = 199 THEN 'industrial'
  ELSE 'street_lighting' END"""


def _setup(n: int):
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Phase, Program, Utility
    from accounts.services.calendar import today

    call_command("migrate", verbosity=0)
    if connection.vendor != "postgresql":
        raise SystemExit("bench dashboard builds its program with PostgreSQL SQL: set DATABASE_URL")
    utility, _ = Utility.objects.get_or_create(code="BENCH", defaults={"name": "Bench Utility"})
    program, _ = Program.objects.get_or_create(
        slug=SLUG, defaults={"name": "Bench Dashboard Power", "utility": utility}
    )
    _empty(program)
    t = today()
    starts = [t - dt.timedelta(days=42), t - dt.timedelta(days=5), t + dt.timedelta(days=70)]
    phases = [
        Phase.objects.create(
            program=program,
            name=f"Phase {k + 1}",
            number=k + 1,
            enrollment_start=s,
            enrollment_end=s + dt.timedelta(days=30),
        )
        for k, s in enumerate(starts)
    ]
    _load(program, phases, n, t)
    with connection.cursor() as cur:
        for table in (
            "accounts_serviceaccount",
            "cca_notices_notice",
            "cca_notices_mailbatch",
            "optouts_optoutrequest",
            "optouts_feeentry",
            "optouts_servicerequest",
            "optouts_confirmation",
        ):
            # What a month of autovacuum leaves: statistics and the visibility map.
            cur.execute(f"VACUUM ANALYZE {table}")
    return program


def _empty(program) -> None:
    from django.db import connection

    from accounts.models import Phase

    pid = program.pk
    with connection.cursor() as cur:
        for sql in (
            "DELETE FROM optouts_confirmation WHERE program_id = %s",
            "DELETE FROM optouts_servicerequest WHERE program_id = %s",
            "DELETE FROM optouts_feeentry WHERE program_id = %s",
            "DELETE FROM optouts_optoutrequest WHERE program_id = %s",
            "DELETE FROM cca_notices_notice WHERE program_id = %s",
            "DELETE FROM cca_notices_mailbatch WHERE program_id = %s",
            "DELETE FROM accounts_serviceaccount WHERE program_id = %s",
        ):
            cur.execute(sql, [pid])
    Phase.objects.filter(program=program).delete()


def _load(program, phases, n: int, today: dt.date) -> None:
    from django.db import connection

    pid = program.pk
    p1, p2, p3 = (p.pk for p in phases)
    e1, e2, e3 = (p.enrollment_start for p in phases)
    with connection.cursor() as cur:
        # Accounts: phase by i % 3; 8 % opted out, spread over the four opted-out statuses.
        cur.execute(
            f"""
            INSERT INTO accounts_serviceaccount (
              program_id, account_number, customer_name, service_address, service_city,
              service_zip, mailing_address, mailing_city, mailing_state, mailing_zip,
              customer_class, rate_schedule, read_cycle, language, email, phone, care, nem,
              medical_baseline, direct_access, phase_id, status, enrollment_date, opt_out_code,
              customer_key, address_needs_repair, created_at, updated_at)
            SELECT %(pid)s, 'D' || lpad(i::text, 11, '0'), 'CUSTOMER ' || i, i || ' MAIN ST',
              'CITY ' || lpad((((i::bigint * 7919) %% 1000) %% {CITIES})::text, 2, '0'), '94901',
              i || ' MAIN ST', 'SAN RAFAEL', 'CA', '94901', {CLASSES_SQL}, 'D', i %% 21 + 1,
              'en', '', '', false, false, false, false,
              CASE i %% 3 WHEN 0 THEN %(p1)s WHEN 1 THEN %(p2)s ELSE %(p3)s END,
              CASE WHEN (i * 37) %% 1000 < {OPTED_OUT_PER_MILLE} THEN
                     (ARRAY['opted_out_pre','opted_out_free','terminated','returned_bundled'])
                     [1 + i %% 4]
                   WHEN i %% 3 = 0 THEN 'enrolled' WHEN i %% 3 = 1 THEN 'enrolled'
                   ELSE 'notified' END,
              -- Each read cycle enrolls on its own meter-read day inside the window.
              CASE i %% 3 WHEN 0 THEN %(e1)s::date + (i %% 21)::int
                          WHEN 1 THEN %(e2)s::date + (i %% 21)::int END,
              'K' || lpad(i::text, 11, '0'), 'CUSTOMER ' || i || '|' || i,
              i %% 3000 = 7, now(), now()
            FROM generate_series(1, %(n)s) AS i
            """,
            {"pid": pid, "p1": p1, "p2": p2, "p3": p3, "e1": e1, "e2": e2, "n": n},
        )
        # One mail batch per phase and kind already mailed or built.
        kinds = ["pre_enrollment_1", "pre_enrollment_2", "post_enrollment_1", "post_enrollment_2"]
        offsets = {
            "pre_enrollment_1": -60,
            "pre_enrollment_2": -30,
            "post_enrollment_1": 10,
            "post_enrollment_2": 40,
        }
        for ph, start in ((p1, e1), (p2, e2), (p3, e3)):
            for kind in kinds:
                day = start + dt.timedelta(days=offsets[kind])
                if day > today + dt.timedelta(days=3):
                    continue
                cur.execute(
                    """INSERT INTO cca_notices_mailbatch (program_id, kind, mail_date, reference,
                         created_at, created_by, built_via, piece_count, notice_count,
                         merged_count, excluded_count, page_count, mailer_id, folder, meta,
                         mailed_at)
                       VALUES (%s, %s, %s, %s, now(), 'bench', 'command', %s, %s, 0, 0, 0, '',
                         '', '{}', CASE WHEN %s::date < %s::date THEN now() ELSE NULL END)""",
                    [pid, kind, day, f"{SLUG}-{ph}-{kind}", n // 3, n // 3, day, today],
                )
        # Four notices per account: mailed (2 % late, 1 % returned) when the mail date has
        # passed, else scheduled; 3 % of the passed ones still in no batch (late).
        cur.execute(
            """
            INSERT INTO cca_notices_notice (account_id, program_id, kind, rule_set,
              enrollment_date, mail_date, status, batch_id, piece_id, mailed_on, return_date,
              return_reason, created_at, updated_at)
            SELECT a.id, a.program_id, k.kind, 'ca_rule23', e.day, e.day + k.offset_days,
              CASE WHEN e.day + k.offset_days >= %(today)s THEN 'scheduled'
                   WHEN a.id %% 100 = 3 THEN 'returned'
                   WHEN a.id %% 33 = 5 THEN 'scheduled'
                   ELSE 'mailed' END,
              CASE WHEN e.day + k.offset_days < %(today)s AND a.id %% 33 <> 5
                   THEN b.id END,
              '',
              CASE WHEN e.day + k.offset_days < %(today)s AND a.id %% 33 <> 5
                   THEN e.day + k.offset_days + (CASE WHEN a.id %% 50 = 1
                        THEN 2 ELSE 0 END)::int END,
              CASE WHEN e.day + k.offset_days < %(today)s AND a.id %% 100 = 3
                   THEN e.day + k.offset_days + 9 END,
              '', now(), now()
            FROM accounts_serviceaccount a
            JOIN accounts_phase ph ON ph.id = a.phase_id
            CROSS JOIN LATERAL (SELECT COALESCE(a.enrollment_date,
                 ph.enrollment_start + (a.read_cycle - 1)) AS day) e
            CROSS JOIN (VALUES ('pre_enrollment_1', -60), ('pre_enrollment_2', -30),
                               ('post_enrollment_1', 10), ('post_enrollment_2', 40))
                 AS k(kind, offset_days)
            LEFT JOIN cca_notices_mailbatch b
              ON b.reference = %(slug)s || '-' || ph.id || '-' || k.kind
            WHERE a.program_id = %(pid)s
            """,
            {"pid": pid, "today": today, "slug": SLUG},
        )
        # An opt-out request for every opted-out account, spread over the 60 days before today.
        cur.execute(
            """
            INSERT INTO optouts_optoutrequest (program_id, account_id, confirmation_code, channel,
              actor_name, received_at, request_date, is_current, outcome, from_status, to_status,
              enrollment_date, service_request, fee_amount, admin_fee, cost_recovery_charge,
              language, contact_email, contact_phone, note, fee_waived, fee_waiver_reason,
              return_path)
            SELECT a.program_id, a.id, 'B' || a.id,
              (ARRAY['web','ivr','phone','reply_card','api','web','web'])[1 + a.id %% 7],
              'bench', now() - (a.id %% 60) * interval '1 day', %(today)s::date - (a.id %% 60)::int,
              true,
              CASE a.status WHEN 'opted_out_pre' THEN 'before_enrollment'
                WHEN 'opted_out_free' THEN 'free_window' ELSE 'after_free_window' END,
              'enrolled', a.status, a.enrollment_date,
              CASE a.status WHEN 'opted_out_pre' THEN 'cancel' ELSE 'disconnect' END,
              CASE WHEN a.status IN ('terminated', 'returned_bundled') THEN 5 ELSE 0 END, 0, 0,
              'en', '', '', '', false, '', ''
            FROM accounts_serviceaccount a
            WHERE a.program_id = %(pid)s
              AND a.status IN ('opted_out_pre','opted_out_free','terminated','returned_bundled')
            """,
            {"pid": pid, "today": today},
        )
        cur.execute(
            """
            INSERT INTO optouts_feeentry (program_id, account_id, kind, optout_id,
              customer_class, admin_fee, cost_recovery_charge, amount, reason, assessed_on,
              created_at, status, billing_reference, waived_at, waiver_reason)
            SELECT o.program_id, o.account_id, 'termination', o.id, a.customer_class, 5, 0,
              CASE a.customer_class WHEN 'residential' THEN 5 ELSE 25 END,
              'termination after the free window', o.request_date, o.received_at,
              (ARRAY['assessed','exported','billed','billed','waived'])[1 + o.id %% 5], '',
              CASE WHEN o.id %% 5 = 4 THEN now() END,
              CASE WHEN o.id %% 5 = 4 THEN 'hardship' ELSE '' END
            FROM optouts_optoutrequest o JOIN accounts_serviceaccount a ON a.id = o.account_id
            WHERE o.program_id = %(pid)s AND o.fee_amount > 0
            """,
            {"pid": pid},
        )
        cur.execute(
            """
            INSERT INTO optouts_servicerequest (program_id, account_id, type, source,
              product_code, optout_id, status, created_at, exported_at, response_file,
              utility_reference, rejection_code, rejection_reason, times_sent, superseded, note)
            SELECT o.program_id, o.account_id, o.service_request, 'optout', '', o.id,
              (ARRAY['queued','exported','accepted','accepted','accepted','rejected'])
              [1 + o.id %% 6],
              o.received_at, CASE WHEN o.id %% 6 <> 0 THEN o.received_at END, '', '', '', '',
              CASE WHEN o.id %% 6 <> 0 THEN 1 ELSE 0 END, false, ''
            FROM optouts_optoutrequest o WHERE o.program_id = %(pid)s
            """,
            {"pid": pid},
        )
        cur.execute(
            """
            INSERT INTO optouts_confirmation (program_id, account_id, kind, method, optout_id,
              language, email, phone, created_at, due_date, status, attempts, last_error,
              mailing_address, letter_sha256, piece_id, return_reason, sent_at)
            SELECT o.program_id, o.account_id, 'optout', 'email', o.id, 'en', 'c@example.org',
              '', o.received_at, o.request_date + 7,
              CASE WHEN o.id %% 40 = 0 THEN 'pending' ELSE 'sent' END, 1, '', '', '', '', '',
              CASE WHEN o.id %% 40 = 0 THEN NULL ELSE o.received_at END
            FROM optouts_optoutrequest o WHERE o.program_id = %(pid)s
            """,
            {"pid": pid},
        )


def add_arguments(parser) -> None:
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="dashboard: time the program a previous run built, if it has N accounts",
    )


def _existing(n: int):
    from accounts.models import Program, ServiceAccount

    program = Program.objects.filter(slug=SLUG).first()
    if program and ServiceAccount.objects.filter(program=program).count() == n:
        return program
    return None


def _median_s(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(*, scale: int | None, args=None):
    from accounts.services.calendar import today
    from cca_notices.services.dashboard_tally import dashboard_tallies_refresh
    from optouts.services.board_report import (
        board_report_build,
        board_report_csv,
        board_report_pdf,
    )
    from optouts.services.dashboard import dashboard_build
    from optouts.services.standing import programs_standing

    n = scale or DEFAULT_SCALE
    started = time.perf_counter()
    program = _existing(n) if args is not None and args.reuse else None
    if program is None:
        program = _setup(n)
        yield "dashboard_setup_s", round(time.perf_counter() - started, 1), "s"
    day = today()

    # Every run rebuilds the tallies, as the beat would: a reused program's may be old.
    started = time.perf_counter()
    refreshed = dashboard_tallies_refresh(program_id=program.pk)
    yield "dashboard_tally_refresh_s", round(time.perf_counter() - started, 3), "s"
    for name, r in refreshed.items():
        yield f"dashboard_tally_refresh_{name}_s", r.seconds, "s"
        yield f"dashboard_tally_{name}_groups", r.groups, "rows"

    live = dashboard_build(program=program, today=day, source="live")
    tallied = dashboard_build(program=program, today=day)
    if tallied.live_reasons or tallied.tables != live.tables:
        raise SystemExit(f"the tallied dashboard differs from the live one: {tallied.live_reasons}")

    def dashboard():
        programs_standing(today=day)
        dashboard_build(program=program, today=day)

    def report():
        r = board_report_build(program=program, today=day)
        board_report_csv(report=r)
        board_report_pdf(report=r)

    started = time.perf_counter()
    dashboard()
    yield "dashboard_cold_s", round(time.perf_counter() - started, 3), "s"
    yield "dashboard_s", round(_median_s(dashboard), 3), "s"
    yield "dashboard_home_s", round(_median_s(lambda: programs_standing(today=day)), 3), "s"
    yield (
        "dashboard_program_s",
        round(_median_s(lambda: dashboard_build(program=program, today=day)), 3),
        "s",
    )
    yield (
        "dashboard_live_s",
        round(_median_s(lambda: dashboard_build(program=program, today=day, source="live"), 1), 3),
        "s",
    )
    report()  # warm-up: WeasyPrint loads its fonts once per process
    yield "report_s", round(_median_s(report), 3), "s"
    built = board_report_build(program=program, today=day)
    yield "report_pdf_s", round(_median_s(lambda: board_report_pdf(report=built)), 3), "s"
