import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.management.input_file import input_file
from accounts.management.program_option import program_from_option
from accounts.services.importing import ImportRejected, accounts_import
from accounts.services.status import Actor


class Command(BaseCommand):
    help = (
        "Load the utility's eligible-customer CSV into a program "
        "(docs/formats/eligible-customers.md)."
    )
    # A data load, run from cron or by hand: the system checks of the code are the release's job
    # (`manage.py check --deploy`), not half a second of every load.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("file", type=input_file)
        parser.add_argument("--program", required=True, help="program slug")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help=(
                "load the good rows and write the bad ones to FILE.rejects.csv "
                "(default: write nothing if any row is bad)"
            ),
        )
        parser.add_argument(
            "--actor", default="", help="name recorded as who ran the import (default: the OS user)"
        )

    def handle(self, *args, file: Path, program: str, skip_invalid: bool, actor: str, **options):
        prog = program_from_option(program)
        name = actor or f"import_accounts ({getpass.getuser()})"
        try:
            result = accounts_import(
                program=prog, path=file, actor=Actor(name), skip_invalid=skip_invalid
            )
        except ImportRejected as exc:
            raise CommandError(f"{file}: {exc}") from None
        self.stdout.write(
            self.style.SUCCESS(f"{file}: {result.summary()} (import run {result.run.pk})")
        )
        for err in result.errors[:20]:
            self.stderr.write(f"  rejected: {err}")
        if options["verbosity"] >= 2:
            for step, seconds in result.timings.items():
                self.stdout.write(f"  {seconds:7.2f} s  {step}")
