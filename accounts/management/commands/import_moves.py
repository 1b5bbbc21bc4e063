"""import_moves FILE --program SLUG: the utility's move file (docs/formats/moves.md)."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Program
from accounts.services.moves import MovesRejected, moves_import


class Command(BaseCommand):
    help = "Apply moves within, out of and into the territory; the whole file or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--program", required=True)

    def handle(self, *args, file, program, **opts):
        try:
            prog = Program.objects.get(slug=program)
        except Program.DoesNotExist:
            raise CommandError(f"--program: no program with slug {program!r}") from None
        if not Path(file).exists():
            raise CommandError(f"{file}: no such file")
        try:
            result = moves_import(program=prog, path=Path(file))
        except MovesRejected as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(result.summary())
