"""reconcile_enrollment --program SLUG [--phase NAME] [--report CSV] FILE: the utility's
enrollment notifications (an 814 of its Connects, or its enrollment list CSV) recorded and checked
against the registry (docs/formats/ccasr-edi.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.management.program_option import program_from_option
from accounts.models import Phase
from accounts.services.spreadsheet import spreadsheet_writer
from optouts.services.edi_reconciliation import enrollment_reconcile, reconciliation_report_rows
from optouts.services.edi_x12 import EdiFileError


class Command(BaseCommand):
    help = (
        "Record the utility's mass-enrollment Connects and reconcile them with the registry: "
        "opted-out accounts enrolled anyway are disconnected at once (no fee); unknown and "
        "missing accounts are flagged for staff."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--program", required=True)
        parser.add_argument(
            "--phase",
            help="The phase enrolled (its name); default: every phase "
            "whose enrollment started by the file's latest date.",
        )
        parser.add_argument("--report", help="Also write the staff report as CSV to this path.")

    def handle(self, *args, file, program, phase, report, **opts):
        prog = program_from_option(program)
        ph = None
        if phase:
            ph = Phase.objects.filter(program=prog, name=phase).first()
            if ph is None:
                names = ", ".join(prog.phases.values_list("name", flat=True)) or "none"
                raise CommandError(f"--phase: no phase {phase!r} in {prog.slug} (known: {names})")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            result = enrollment_reconcile(
                program=prog, path=path, phase=ph, actor_name="reconcile_enrollment"
            )
        except EdiFileError as exc:
            raise CommandError(f"{file}: {exc}; nothing recorded") from None
        rec = result.reconciliation
        if result.already:
            self.stdout.write(
                f"already reconciled on {rec.created_at:%Y-%m-%d %H:%M} (reconciliation "
                f"{rec.pk}); nothing recorded"
            )
        c = rec.counts
        self.stdout.write(
            f"{c.get('enrolled_by_utility', 0)} enrolled by the utility: "
            f"{c.get('matched', 0)} matched, "
            f"{c.get('opted_out_enrolled', 0)} opted out and disconnected (no fee), "
            f"{c.get('unknown_account', 0)} unknown; "
            f"{c.get('not_enrolled', 0)} eligible not enrolled (reconciliation {rec.pk})"
        )
        if report:
            with open(report, "w", newline="", encoding="utf-8") as fh:
                writer = spreadsheet_writer(fh)
                for row in reconciliation_report_rows(rec):
                    writer.writerow(row)
            self.stdout.write(f"report written to {report}")
