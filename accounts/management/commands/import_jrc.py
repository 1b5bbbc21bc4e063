"""`manage.py import_jrc FILE [--power-content FILE] [--program SLUG]` (docs/formats/jrc.md)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.management.input_file import input_file
from accounts.services.jrc import JrcImportError, jrc_import


class Command(BaseCommand):
    help = (
        "Import a Joint Rate Comparison CSV and/or a power content CSV. "
        "All rows are checked first; nothing is written if any row is bad."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", nargs="?", type=input_file, help="JRC CSV (docs/formats/jrc.md)"
        )
        parser.add_argument("--power-content", type=input_file, help="power content label CSV")
        parser.add_argument("--program", help="only accept rows for this program slug")

    def handle(self, *args, file=None, power_content=None, program=None, **options):
        if not file and not power_content:
            raise CommandError("give a JRC CSV, --power-content FILE, or both")
        try:
            summary = jrc_import(
                jrc_file=file, power_content_file=power_content, program_slug=program
            )
        except JrcImportError as exc:
            raise CommandError(str(exc)) from None
        except FileNotFoundError as exc:
            raise CommandError(f"{exc.filename}: no such file") from None
        self.stdout.write(
            f"JRC rows: {summary.jrc_created} created, {summary.jrc_updated} updated; "
            f"power content labels: {summary.power_created} created, "
            f"{summary.power_updated} updated; "
            f"program(s): {', '.join(sorted(summary.programs)) or '-'}"
        )
