"""import_fee_billing FILE: the utility's billing confirmation, exported → billed."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.management.input_file import input_file
from accounts.services.text_files import InputFileError
from optouts.services.fees import BillingFileError, fees_import_billing


class Command(BaseCommand):
    help = "Mark exported fee entries billed from the utility's billing confirmation CSV."

    def add_arguments(self, parser):
        parser.add_argument("file", type=input_file)

    def handle(self, *args, file, **opts):
        try:
            counts = fees_import_billing(path=Path(file))
        except (BillingFileError, InputFileError) as exc:
            raise CommandError(f"{file}: {exc}; nothing recorded") from None
        self.stdout.write(f"{counts['billed']} billed, {counts['already_billed']} already billed")
