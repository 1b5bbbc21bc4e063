"""export_preenrollment_optouts --program SLUG [--phase NAME] --out DIR: the opt-outs a utility
that generates the mass-enrollment Connects needs before the phase's enrollment, in the form its
trading-partner profile names (docs/formats/ccasr-edi.md)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.management.program_option import program_from_option
from accounts.models import Phase
from optouts.services.edi_delivery import edi_send
from optouts.services.edi_export import preenrollment_optouts_export


class Command(BaseCommand):
    help = "Write the phase's pre-enrollment opt-outs not yet sent (CSV list or EDI 814) to DIR."

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True)
        parser.add_argument("--phase", help="The phase about to be enrolled (its name).")
        parser.add_argument("--out", required=True)
        parser.add_argument("--send", action="store_true", help="Also deliver the file.")

    def handle(self, *args, program, phase, out, send, **opts):
        prog = program_from_option(program)
        ph = None
        if phase:
            ph = Phase.objects.filter(program=prog, name=phase).first()
            if ph is None:
                names = ", ".join(prog.phases.values_list("name", flat=True)) or "none"
                raise CommandError(f"--phase: no phase {phase!r} in {prog.slug} (known: {names})")
        result = preenrollment_optouts_export(
            program=prog, phase=ph, out_dir=out, actor_name="export_preenrollment_optouts"
        )
        if result.path is None:
            self.stdout.write("0 pre-enrollment opt-outs to send; no file written")
            return
        self.stdout.write(
            f"{result.counts['optouts']} pre-enrollment opt-outs written to {result.path}"
        )
        if send:
            for t in edi_send(program=prog, paths=[result.path]):
                self.stdout.write(f"sent {t.file_name} by {t.method} to {t.remote}: {t.result}")
