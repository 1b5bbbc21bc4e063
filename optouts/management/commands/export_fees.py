"""export_fees --program SLUG --out FILE: the fee file the utility bills from.

The file format is docs/formats/fees-export.md.
"""

from django.core.management.base import BaseCommand

from accounts.management.program_option import program_from_option
from optouts.services.fees import fees_export


class Command(BaseCommand):
    help = (
        "Write every assessed, not yet exported fee of a program to FILE "
        "(each entry exported once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True)
        parser.add_argument("--out", required=True)

    def handle(self, *args, program, out, **opts):
        prog = program_from_option(program)
        result = fees_export(program=prog, out=out, actor_name="export_fees")
        if result.export is None:
            self.stdout.write("0 fee entries to export; no file written")
            return
        self.stdout.write(
            f"{result.entries} fee entries, total ${result.total:.2f}, written to {result.path} "
            f"(export {result.export.pk}, sha256 {result.export.sha256})"
        )
