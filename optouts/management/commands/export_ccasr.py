"""export_ccasr --program SLUG --out DIR: the CCASR interchange (ANSI X12 814) to the utility
(docs/formats/ccasr-edi.md)."""

from django.core.management.base import BaseCommand

from accounts.management.program_option import program_from_option
from optouts.services.edi_delivery import edi_send
from optouts.services.edi_export import ccasr_export


class Command(BaseCommand):
    help = (
        "Queue due mass-enrollment Connects (when the CCA sends them), then write every queued "
        "service request once to DIR as one X12 814 interchange."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True)
        parser.add_argument("--out", required=True)
        parser.add_argument(
            "--send",
            action="store_true",
            help="Also deliver the file to the trading partner (folder, and SFTP if configured).",
        )

    def handle(self, *args, program, out, send, **opts):
        prog = program_from_option(program)
        result = ccasr_export(program=prog, out_dir=out, actor_name="export_ccasr")
        for path in result.finished:
            self.stdout.write(f"{path}: written by an interrupted earlier run, now in place")
        if result.export is None or result.path is None:
            self.stdout.write("0 service requests to export; no file written")
            if send and result.finished:
                self._send(prog, result.finished)
            return
        c = result.counts
        self.stdout.write(
            f"{c['total']} service requests ({c['connect']} connect, {c['disconnect']} disconnect, "
            f"{c['update']} update, {c['cancel']} cancel) written to {result.path} "
            f"(interchange {result.export.interchange_control_number:09d})"
        )
        if send:
            self._send(prog, [*result.finished, result.path])

    def _send(self, program, paths):
        for t in edi_send(program=program, paths=paths):
            self.stdout.write(f"sent {t.file_name} by {t.method} to {t.remote}: {t.result}")
