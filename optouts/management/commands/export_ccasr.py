"""export_ccasr --program SLUG --out DIR: the CCASR file to the utility (docs/formats/ccasr.md)."""

from django.core.management.base import BaseCommand

from accounts.management.program_option import program_from_option
from optouts.services.ccasr import ccasr_export


class Command(BaseCommand):
    help = (
        "Queue due mass-enrollment Connects, then write every queued service request once to DIR."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True)
        parser.add_argument("--out", required=True)

    def handle(self, *args, program, out, **opts):
        prog = program_from_option(program)
        result = ccasr_export(program=prog, out_dir=out, actor_name="export_ccasr")
        if result.export is None:
            self.stdout.write("0 service requests to export; no file written")
            return
        c = result.counts
        self.stdout.write(
            f"{c['total']} service requests ({c['connect']} connect, {c['disconnect']} disconnect, "
            f"{c['update']} update, {c['cancel']} cancel) written to {result.path}"
        )
