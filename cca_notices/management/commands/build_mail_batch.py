"""build_mail_batch --program SLUG --kind KIND --mail-date DATE --out DIR: the mail-house folder."""

import datetime as dt
import getpass
import logging
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.management.program_option import program_from_option
from cca_notices.models import LetterKind, MailBatch
from cca_notices.services.batches import MailBatchError, mail_batch_build, mail_batch_rebuild


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


class _Bar:
    """tqdm on a terminal only; created when the number of letters is known."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int):
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = tqdm(total=total, unit="letters", file=sys.stdout)
        self.bar.update(done)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class Command(BaseCommand):
    help = (
        "Put the notices of KIND due on or before DATE into a new mail batch and write its folder "
        "DIR/<reference>/ (letters PDF, data CSV, manifest). KIND may also be a letter kind: "
        "'confirmation' (opt-out, termination and rejoin confirmation letters) or "
        "'reentry_advance_notice' (Six-Month Advance Notice to Return to Bundled Portfolio "
        "Service) — every issued letter not yet in a batch, its stored PDF concatenated as issued. "
        "With --reference, write an existing batch again from the stored pieces (byte-identical "
        "for unchanged data)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", help="Program slug.")
        parser.add_argument(
            "--kind",
            help=(
                "Notice kind (e.g. pre_enrollment_1) or letter kind "
                "(confirmation, reentry_advance_notice)."
            ),
        )
        parser.add_argument(
            "--mail-date", dest="mail_date", help="Mail date YYYY-MM-DD (printed on the letters)."
        )
        parser.add_argument("--out", required=True, help="Folder to write the batch folder into.")
        parser.add_argument(
            "--reference", help="Write this existing batch again instead of building a new one."
        )

    def handle(self, *args, program, kind, mail_date, out, reference, **options):
        # One line per WeasyPrint step and font subset would drown the summary.
        logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
        logging.getLogger("fontTools").setLevel(logging.ERROR)
        bar = _Bar(sys.stdout.isatty())
        try:
            if reference:
                result = mail_batch_rebuild(reference=reference, out_dir=Path(out), progress=bar)
            else:
                result = self._build(program, kind, mail_date, Path(out), bar)
        except MailBatchError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        s = result.summary
        if result.batch is None and kind in LetterKind.values:
            self.stdout.write("no issued letters waiting for a batch; nothing written")
            return
        if result.batch is None:
            self.stdout.write(
                f"no notices to batch: {s['due']} due, {s['excluded']} excluded and cancelled "
                f"({_reasons(result.excluded)}); nothing written"
            )
            return
        b = result.batch
        verb = "rewrote" if result.rebuilt else "built"
        if b.is_letter_batch:
            late = b.meta.get("late_letters", 0)
            self.stdout.write(
                self.style.SUCCESS(
                    f"{verb} {b.reference}: {b.piece_count} {b.get_kind_display().lower()} "
                    f"({late} past their due date), {b.page_count} pages in "
                    f"{s['pdf_files']} PDF file(s)"
                )
            )
            self.stdout.write(f"folder: {result.folder}")
            return
        excluded = _reasons(b.meta.get("excluded", {}))
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {b.reference}: {b.piece_count} letters for {b.notice_count} notices "
                f"({b.merged_count} merged into another account's letter), {b.page_count} pages "
                f"in {s['pdf_files']} PDF file(s); {b.excluded_count} excluded ({excluded})"
            )
        )
        self.stdout.write(f"folder: {result.folder}")

    def _build(self, program, kind, mail_date, out, bar):
        missing = [
            name
            for name, value in (
                ("--program", program),
                ("--kind", kind),
                ("--mail-date", mail_date),
            )
            if not value
        ]
        if missing:
            raise CommandError(
                f"{', '.join(missing)} required (or --reference to write an existing batch again)"
            )
        found = program_from_option(program)
        try:
            day = dt.date.fromisoformat(mail_date)
        except ValueError:
            raise CommandError(f"--mail-date: {mail_date!r} is not a date YYYY-MM-DD") from None
        return mail_batch_build(
            program=found,
            kind=kind,
            mail_date=day,
            out_dir=out,
            actor_name=_user(),
            via=MailBatch.Via.COMMAND,
            progress=bar,
        )


def _reasons(excluded: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in excluded.items()) or "none"
