"""demo [--accounts N]: create or refresh the program `demo` on whatever database is configured.

A program in mid-life: phase 1 enrolled some weeks ago, phase 2 ahead with its first drop due.
Steps, each idempotent so a re-run refreshes and never duplicates:
  1. the program from accounts/demo/demo_program.toml; on the first run its phase 1 window is put
     about three months before today and phase 2's about two months after (kept on re-runs);
  2. a generated meter-read schedule (cycles 1-21, about two years) through
     import_read_schedule's service;
  3. generated eligible customers through the eligible-customer importer, as the utility sent
     them some 80 days before phase 1's enrollment;
  4. the Joint Rate Comparison and the notice schedule: `demo_steps_after_accounts` below;
  5. the days from then to today lived through the product's services (cca_notices.demo_life):
     drops built and mailed, returns, opt-outs through every channel, fees, CCASRs and the
     utility's answers, a retention switch, a rejoin, moves;
  6. the `admin` superuser, whose login is printed at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
from pathlib import Path

import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

import accounts
from accounts.models import Program
from accounts.services.calendar import today as business_today
from accounts.services.demo_data import demo_data_generate
from accounts.services.importing import ImportRejected, accounts_import
from accounts.services.jrc import jrc_import
from accounts.services.programs import ProgramFileError, program_file_parse, program_load_document
from accounts.services.read_schedule import (
    ReadScheduleRejected,
    read_schedule_generate,
    read_schedule_import,
    read_schedule_write,
)
from accounts.services.status import Actor
from cca_notices import demo_life
from cca_notices.services.scheduling import notices_schedule

# The demo's program file and tables belong to the registry, beside its data generator.
DEMO_DIR = Path(accounts.__file__).resolve().parent / "demo"
PROGRAM_FILE = DEMO_DIR / "demo_program.toml"
DEMO_SEED = 2024
ACTOR = Actor("demo")
ADMIN_USERNAME = "admin"
ADMIN_URL = "http://127.0.0.1:8000/admin/"


def _first_of_next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _add_months(first: dt.date, n: int) -> dt.date:
    m = first.month - 1 + n
    return dt.date(first.year + m // 12, m % 12 + 1, 1)


# The history starts this many days before phase 1's enrollment: the utility's file arrives, the
# schedule is made, and the first drop (about 60 days before enrollment) is still ahead.
HISTORY_LEAD_DAYS = 80


def demo_phase_windows(today: dt.date, *, lived: bool = True) -> list[tuple[dt.date, dt.date]]:
    """A lived demo: phase 1 enrolled in the month that held the day 80 days ago (its free window
    is closing, so fees appear); phase 2 enrolls in the first whole month starting at least 55
    days out, so its first pre-enrollment notice is due in the coming days.
    Not lived (--no-history): phase 1 in the first whole month starting at least 75 days out, so
    its first notice is due in the coming weeks; phase 2 two months later."""
    if lived:
        ago = today - dt.timedelta(days=80)
        starts = [dt.date(ago.year, ago.month, 1), _first_of_next_month(today + dt.timedelta(55))]
    else:
        start1 = _first_of_next_month(today + dt.timedelta(days=74))
        starts = [start1, _add_months(start1, 2)]
    return [(s, _add_months(s, 1) - dt.timedelta(days=1)) for s in starts]


def _stored_windows() -> list[tuple[dt.date, dt.date]] | None:
    """A demo that has lived (a drop was built) keeps its windows: moving them would rewrite
    its history."""
    program = Program.objects.filter(slug="demo").first()
    if program is None or not program.mail_batches.exists():
        return None
    return [(p.enrollment_start, p.enrollment_end) for p in program.phases.order_by("number")]


def demo_program_load(*, today: dt.date, lived: bool = True):
    data = program_file_parse(path=PROGRAM_FILE)
    windows = _stored_windows() or demo_phase_windows(today, lived=lived)
    for phase, (start, end) in zip(data.get("phases", []), windows, strict=False):
        phase["enrollment_start"], phase["enrollment_end"] = start, end
    return program_load_document(data=data, source=str(PROGRAM_FILE), today=today)


def demo_steps_after_accounts(*, program: Program, today: dt.date, out) -> None:
    """The demo's later steps, each idempotent (the demo is re-run to refresh), each one line."""
    jrc = jrc_import(
        jrc_file=DEMO_DIR / "jrc.csv",
        power_content_file=DEMO_DIR / "power_content.csv",
        program_slug=program.slug,
    )
    out.write(
        f"joint rate comparison: {jrc.jrc_created} rows created, {jrc.jrc_updated} updated; "
        f"power content: {jrc.power_created} created, {jrc.power_updated} updated"
    )

    result = notices_schedule(program=program, actor_name="demo", today=today)
    out.write(
        f"notices: {result.created} scheduled, {result.rescheduled} re-dated, "
        f"{result.cancelled} cancelled"
        + (
            f"; {result.unscheduled_accounts} account(s) without a read in their phase window"
            if result.problems
            else ""
        )
    )


def demo_admin_password() -> str:
    """DEMO_ADMIN_PASSWORD, or one generated on the first run, kept in var/demo_admin_password."""
    from_env = os.environ.get("DEMO_ADMIN_PASSWORD")
    if from_env:
        return from_env
    path = Path(settings.VAR_DIR) / "demo_admin_password"
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


def demo_admin_ensure(*, password: str):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=ADMIN_USERNAME, defaults={"email": "admin@example.org"}
    )
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return user, created


class Command(BaseCommand):
    help = (
        "Create or refresh the demo program (slug 'demo') with generated accounts, "
        "and print the admin login."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--accounts", type=int, default=5000, help="Generated accounts (default 5000)."
        )
        parser.add_argument(
            "--no-history",
            action="store_true",
            help="Load the program and its customers as of today, and live no days: a program "
            "that has not started.",
        )

        parser.add_argument(
            "--render-processes",
            type=int,
            default=None,
            help="Processes that lay out the letters' variants while the days are lived "
            "(default: one per core; 1: all in this process).",
        )

    def handle(
        self,
        *args,
        accounts: int,
        no_history: bool = False,
        render_processes: int | None = None,
        **options,
    ):
        if accounts < 1:
            raise CommandError("--accounts: must be at least 1")
        today = business_today()
        work = Path(settings.VAR_DIR) / "demo"
        tty = self.stdout.isatty() and sys.stdout.isatty()

        try:
            loaded = demo_program_load(today=today, lived=not no_history)
        except ProgramFileError as e:
            raise CommandError(str(e)) from None
        program = loaded.program
        self.stdout.write(f"program: {loaded.summary()}")
        for phase in program.phases.order_by("number"):
            self.stdout.write(
                f"  {phase.name}: enrollment {phase.enrollment_start} to {phase.enrollment_end}"
            )

        phase1 = program.phases.order_by("number").first()
        began = phase1.enrollment_start - dt.timedelta(days=HISTORY_LEAD_DAYS) if phase1 else today
        start = dt.date(began.year, began.month, 1)
        reads_path = read_schedule_write(
            path=work / "read_schedule.csv",
            reads=read_schedule_generate(start=_add_months(start, -1), months=28),
        )
        with time_machine.travel(demo_life.morning(began), tick=True):
            try:
                reads = read_schedule_import(
                    program=program, path=reads_path, actor=ACTOR, today=began
                )
            except ReadScheduleRejected as e:
                raise CommandError(f"{reads_path}: {e}") from None
            self.stdout.write(f"read schedule: {reads.summary()}")

            accounts_path = work / f"accounts-{accounts}.csv"
            demo_data_generate(path=accounts_path, accounts=accounts, seed=DEMO_SEED, today=began)
            try:
                imported = accounts_import(
                    program=program,
                    path=accounts_path,
                    actor=ACTOR,
                    skip_invalid=False,
                    progress=tty,
                )
            except ImportRejected as e:
                raise CommandError(f"{accounts_path}: {e}") from None
            self.stdout.write(f"accounts: {imported.summary()}")

            demo_steps_after_accounts(program=program, today=began, out=self.stdout)

        self.stdout.write(f"living the days from {began} to {today}…")
        life = demo_life.DemoLife(
            program=program,
            work=work,
            seed=DEMO_SEED,
            out=self.stdout.write,
            render_processes=render_processes,
        ).live(start=began, until=today)
        self.stdout.write(
            "history: " + ", ".join(f"{n} {what}" for what, n in sorted(life.items()))
        )

        password = demo_admin_password()
        with transaction.atomic():
            demo_admin_ensure(password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDemo ready: {program.accounts.count()} accounts in program '{program.slug}'.\n"
                f"Admin login: {ADMIN_URL}\n"
                f"  username: {ADMIN_USERNAME}\n"
                f"  password: {password}"
                + (
                    ""
                    if os.environ.get("DEMO_ADMIN_PASSWORD")
                    else f"  (kept in {Path(settings.VAR_DIR) / 'demo_admin_password'})"
                )
            )
        )
