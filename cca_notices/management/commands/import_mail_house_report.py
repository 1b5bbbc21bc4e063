"""import_mail_house_report FILE: mailed confirmations and returns, by piece ID."""

import getpass

from django.core.management.base import BaseCommand, CommandError

from accounts.management.input_file import input_file
from accounts.services.status import Actor
from cca_notices.services.mail_house import MailHouseReportError, mail_house_report_import


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


class Command(BaseCommand):
    help = (
        "Apply a mail-house report (CSV: piece_id,event,date,reason; event mailed|returned) to "
        "the notices and letters it names. Unknown piece IDs are listed with their line numbers "
        "and stop the import unless --allow-unknown; a bad line stops it too. Nothing is "
        "half-applied; importing a report again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", type=input_file, help="The report (UTF-8 CSV with a header row)."
        )
        parser.add_argument(
            "--allow-unknown",
            action="store_true",
            help="Apply the known pieces and only list the unknown ones.",
        )

    def handle(self, *args, file, allow_unknown, **options):
        try:
            result = mail_house_report_import(
                path=file,
                actor=Actor(f"{_user()} (mail-house report)"),
                allow_unknown=allow_unknown,
            )
        except MailHouseReportError as exc:
            raise CommandError(str(exc)) from exc
        for number, piece in result.unknown:
            self.stderr.write(
                f"line {number}: unknown piece_id {piece!r} (not in any mail batch) — skipped"
            )
        self.stdout.write(
            self.style.SUCCESS(
                "imported " + ", ".join(f"{k}: {v}" for k, v in result.summary.items())
            )
        )
