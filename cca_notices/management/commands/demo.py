"""demo [--accounts N]: create or refresh the program `demo` on whatever database is configured.

Steps, each idempotent so a re-run refreshes and never duplicates:
  1. the program from accounts/demo/demo_program.toml, its two enrollment windows moved to a
     couple of months after today so the notice schedule is live;
  2. a generated meter-read schedule (cycles 1-21, about two years) through
     import_read_schedule's service;
  3. generated eligible customers through the eligible-customer importer;
  4. the Joint Rate Comparison and the notice schedule: `demo_steps_after_accounts` below;
  5. the `admin` superuser, whose login is printed at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
from pathlib import Path

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


def demo_phase_windows(today: dt.date) -> list[tuple[dt.date, dt.date]]:
    """Phase 1 enrolls in the first whole month starting at least 75 days out, so its first
    pre-enrollment notice (about 60 days before enrollment) is due in the coming weeks; phase 2
    two months later."""
    start1 = _first_of_next_month(today + dt.timedelta(days=74))
    windows = []
    for start in (start1, _add_months(start1, 2)):
        windows.append((start, _add_months(start, 1) - dt.timedelta(days=1)))
    return windows


def demo_program_load(*, today: dt.date):
    data = program_file_parse(path=PROGRAM_FILE)
    for phase, (start, end) in zip(data.get("phases", []), demo_phase_windows(today), strict=False):
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

    def handle(self, *args, accounts: int, **options):
        if accounts < 1:
            raise CommandError("--accounts: must be at least 1")
        today = business_today()
        work = Path(settings.VAR_DIR) / "demo"
        tty = self.stdout.isatty() and sys.stdout.isatty()

        try:
            loaded = demo_program_load(today=today)
        except ProgramFileError as e:
            raise CommandError(str(e)) from None
        program = loaded.program
        self.stdout.write(f"program: {loaded.summary()}")
        for phase in program.phases.order_by("number"):
            self.stdout.write(
                f"  {phase.name}: enrollment {phase.enrollment_start} to {phase.enrollment_end}"
            )

        start = dt.date(today.year, today.month, 1)
        reads_path = read_schedule_write(
            path=work / "read_schedule.csv",
            reads=read_schedule_generate(start=_add_months(start, -1), months=25),
        )
        try:
            reads = read_schedule_import(program=program, path=reads_path, actor=ACTOR, today=today)
        except ReadScheduleRejected as e:
            raise CommandError(f"{reads_path}: {e}") from None
        self.stdout.write(f"read schedule: {reads.summary()}")

        accounts_path = work / f"accounts-{accounts}.csv"
        demo_data_generate(path=accounts_path, accounts=accounts, seed=DEMO_SEED, today=today)
        try:
            imported = accounts_import(
                program=program, path=accounts_path, actor=ACTOR, skip_invalid=False, progress=tty
            )
        except ImportRejected as e:
            raise CommandError(f"{accounts_path}: {e}") from None
        self.stdout.write(f"accounts: {imported.summary()}")

        demo_steps_after_accounts(program=program, today=today, out=self.stdout)

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
