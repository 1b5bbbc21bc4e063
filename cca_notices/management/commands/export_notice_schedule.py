"""export_notice_schedule --program SLUG --out FILE: the notice schedule as CSV."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.management.program_option import program_from_option
from accounts.services.files import atomic_text_writer
from cca_notices.models import Notice
from cca_notices.services.export import notice_schedule_export


class Command(BaseCommand):
    help = (
        "Write account_number, enrollment_date, kind, mail_date, status for every notice of "
        "a program."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, help="Program slug.")
        parser.add_argument("--out", required=True, type=Path, help="CSV file to write (UTF-8).")

    def handle(self, *args, program: str, out: Path, **options):
        found = program_from_option(program)
        if not out.parent.is_dir():
            raise CommandError(f"--out: folder {out.parent} does not exist")
        total = Notice.objects.filter(program=found).count()
        progress = tqdm(total=total, unit="rows", disable=not sys.stdout.isatty())
        # A reader of the folder never sees half a file (the temporary name as it always was).
        partial = out.with_name(out.name + ".partial")
        try:
            with atomic_text_writer(out, temp=partial) as fh:
                n = notice_schedule_export(program=found, out=fh, progress=progress)
        finally:
            progress.close()
        self.stdout.write(f"{out}: {n} notices of {found.slug}")
