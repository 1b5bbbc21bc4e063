"""import_ccasr_responses FILE: the utility's 997 acknowledgements and 814 responses.

The file format is docs/formats/ccasr-edi.md. A bad file exits non-zero naming the segment and its
position; nothing is recorded.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.management.input_file import input_file
from optouts.services.edi_responses import edi_responses_import
from optouts.services.edi_x12 import EdiFileError


class Command(BaseCommand):
    help = (
        "Record the utility's 997 acknowledgements and 814 accept/reject responses; "
        "rejected requests wait in the admin work queue."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=input_file)

    def handle(self, *args, file, **opts):
        path = Path(file)
        try:
            result = edi_responses_import(path=path, actor_name="import_ccasr_responses")
        except EdiFileError as exc:
            raise CommandError(f"{file}: {exc}; nothing recorded") from None
        if result.already_imported is not None:
            seen = result.already_imported
            self.stdout.write(
                f"0 accepted, 0 rejected: already imported on {seen.imported_at:%Y-%m-%d %H:%M} "
                f"as {seen.file_name}; nothing recorded"
            )
            return
        c = result.counts
        self.stdout.write(
            f"{c.get('accepted', 0)} accepted, {c.get('rejected', 0)} rejected, "
            f"{c.get('already_answered', 0)} already answered; "
            f"{c.get('acknowledged', 0)} group(s) acknowledged, "
            f"{c.get('rejected_by_997', 0)} rejected by the 997, "
            f"{c.get('already_acknowledged', 0)} already acknowledged"
        )
        if c.get("optout_accepted") or c.get("optout_rejected"):
            self.stdout.write(
                f"pre-enrollment opt-outs: {c.get('optout_accepted', 0)} accepted, "
                f"{c.get('optout_rejected', 0)} rejected by the utility"
            )
        if result.ack_path is not None:
            self.stdout.write(
                f"our 997 written to {result.ack_path}; deliver it with edi_transfer --send"
            )
