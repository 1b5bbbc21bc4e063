from django.core.management.base import BaseCommand, CommandError

from accounts.models import Program
from cca_notices.services.dashboard_tally import dashboard_tallies_refresh


class Command(BaseCommand):
    help = (
        "Rebuild the dashboard's tallies (accounts and notices) of one program or of all, now: "
        "what the beat does every 5 minutes (docs/operations.md, 'The dashboard's tallies')."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", help="slug of the program (default: every program)")

    def handle(self, *args, **options):
        programs = Program.objects.order_by("slug")
        if options["program"]:
            programs = programs.filter(slug=options["program"])
            if not programs.exists():
                raise CommandError(f"no program with slug {options['program']!r}")
        for program in programs:
            for name, r in dashboard_tallies_refresh(program_id=program.pk).items():
                self.stdout.write(
                    f"{program.slug}: {name} tally rebuilt in {r.seconds:.2f} s "
                    f"({r.groups} groups, as of {r.as_of:%Y-%m-%d %H:%M:%S %Z})"
                )
