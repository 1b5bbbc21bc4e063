"""import_ccasr_responses FILE: the utility's accepted / rejected answers.

The file format is docs/formats/ccasr.md.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.management.input_file import input_file
from accounts.services.text_files import InputFileError
from optouts.services.ccasr import ResponseFileError, ccasr_import_responses


class Command(BaseCommand):
    help = (
        "Record the utility's response to each service request; "
        "rejected ones wait in the admin work queue."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=input_file)

    def handle(self, *args, file, **opts):
        try:
            counts = ccasr_import_responses(path=Path(file))
        except (ResponseFileError, InputFileError) as exc:
            raise CommandError(f"{file}: {exc}; nothing recorded") from None
        self.stdout.write(
            f"{counts.get('accepted', 0)} accepted, {counts.get('rejected', 0)} rejected, "
            f"{counts.get('already_answered', 0)} already answered"
        )
