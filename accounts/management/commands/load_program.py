"""load_program FILE: create or update a program from its hand-edited TOML file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.management.input_file import input_file
from accounts.services.programs import ProgramFileError, program_load


class Command(BaseCommand):
    help = (
        "Create or update a program (utility, settings, products, phases, rate schedules, fees) "
        "from a TOML file."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", type=input_file, help="Program file (docs/formats/program-file.md)."
        )

    def handle(self, *args, file: Path, **options):
        try:
            result = program_load(path=file)
        except ProgramFileError as e:
            raise CommandError(str(e)) from None
        self.stdout.write(self.style.SUCCESS(result.summary()))
