"""edi_transfer --program SLUG (--send FILE … | --receive): move files to and from the trading
partner through its folder and, when the profile names a host, SFTP; each transfer recorded."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.management.program_option import program_from_option
from optouts.models import EdiTransfer
from optouts.services.edi_delivery import edi_receive, edi_send


class Command(BaseCommand):
    help = "Send files to the utility, or receive its new files into the inbound folder."

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True)
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--send", nargs="+", metavar="FILE")
        group.add_argument("--receive", action="store_true")

    def handle(self, *args, program, send, receive, **opts):
        prog = program_from_option(program)
        if send:
            for f in send:
                if not Path(f).is_file():
                    raise CommandError(f"{f}: no such file")
            transfers = edi_send(program=prog, paths=send)
        else:
            transfers = edi_receive(program=prog)
        for t in transfers:
            line = f"{t.direction} {t.file_name or '-'} by {t.method} ({t.remote}): {t.result}"
            self.stdout.write(line + (f" — {t.error}" if t.error else ""))
        failed = [t for t in transfers if t.result == EdiTransfer.Result.FAILED]
        ok = len(transfers) - len(failed)
        self.stdout.write(f"{ok} transferred, {len(failed)} failed")
        if failed:
            raise CommandError(f"{len(failed)} transfer(s) failed; see above")
