"""import_read_schedule FILE --program SLUG: load the utility's meter-read schedule."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.management.input_file import input_file
from accounts.management.program_option import program_from_option
from accounts.services.read_schedule import ReadScheduleRejected, read_schedule_import
from accounts.services.status import Actor


class Command(BaseCommand):
    help = "Load a meter-read schedule CSV (read_cycle, read_date) for the program's utility."

    def add_arguments(self, parser):
        parser.add_argument("file", type=input_file)
        parser.add_argument("--program", required=True, help="Program slug.")

    def handle(self, *args, file: Path, program: str, **options):
        found = program_from_option(program)
        try:
            result = read_schedule_import(
                program=found, path=file, actor=Actor(f"command:{_user()}")
            )
        except ReadScheduleRejected as e:
            raise CommandError(f"{file}: {e}") from None
        self.stdout.write(self.style.SUCCESS(f"{file} ({found.utility.code}): {result.summary()}"))


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
