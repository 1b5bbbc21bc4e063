"""import_moves FILE --program SLUG: the utility's move file (docs/formats/moves.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.management.input_file import input_file
from accounts.management.program_option import program_from_option
from optouts.services.moves import MovesRejected, moves_import


class Command(BaseCommand):
    help = "Apply moves within, out of and into the territory; the whole file or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=input_file)
        parser.add_argument("--program", required=True)

    def handle(self, *args, file, program, **opts):
        prog = program_from_option(program)
        try:
            result = moves_import(program=prog, path=Path(file))
        except MovesRejected as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(result.summary())
