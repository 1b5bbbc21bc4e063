"""schedule_notices --program SLUG [--phase NAME]: compute and store the opt-out notices."""

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.management.program_option import program_from_option
from cca_notices.services.scheduling import RuleSetMissing, notices_schedule


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


class _Progress:
    """One step of the bar per phase scheduled (shown only on a terminal)."""

    def __init__(self, bar):
        self.bar = bar

    @property
    def total(self):
        return self.bar.total

    @total.setter
    def total(self, value):
        self.bar.reset(total=value)

    def __call__(self, phase):
        self.bar.set_description(phase.name)
        self.bar.update(1)


class Command(BaseCommand):
    help = (
        "Schedule each account's opt-out notices from its phase window and meter-read cycle. "
        "Re-running changes nothing; a moved phase re-schedules notices not yet in a batch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, help="Program slug.")
        parser.add_argument("--phase", help="Phase name (default: every phase of the program).")
        parser.add_argument(
            "--allow-unscheduled",
            action="store_true",
            help="Exit 0 even when some accounts could not be scheduled (they are still listed).",
        )

    def handle(self, *args, program: str, phase: str | None, allow_unscheduled: bool, **options):
        found = program_from_option(program)
        the_phase = None
        if phase is not None:
            the_phase = found.phases.filter(name=phase).first()
            if the_phase is None:
                known = ", ".join(found.phases.values_list("name", flat=True)) or "none"
                raise CommandError(
                    f"--phase: program {program} has no phase {phase!r} (known: {known})"
                )
        bar = tqdm(unit="phase", disable=not sys.stdout.isatty())
        try:
            result = notices_schedule(
                program=found,
                phase=the_phase,
                actor_name=f"command:{_user()}",
                progress=_Progress(bar),
            )
        except RuleSetMissing as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        self.stdout.write(
            f"{found.slug}: {result.created} notices created, {result.rescheduled} rescheduled, "
            f"{result.cancelled} cancelled (accounts that left), {result.not_moved} already "
            f"batched or mailed not moved, {result.unscheduled_accounts} accounts not scheduled "
            f"(run {result.run.pk})"
        )
        for p in result.problems:
            where = f"phase {p['phase']}" if p["phase"] else "program"
            cycle = f", read cycle {p['read_cycle']}" if p["read_cycle"] is not None else ""
            count = f" ({p['accounts']} accounts)" if p["accounts"] else ""
            self.stderr.write(f"{where}{cycle}{count}: {p['reason']}")
        if result.unscheduled_accounts and not allow_unscheduled:
            raise CommandError(
                f"{result.unscheduled_accounts} accounts could not be scheduled (listed above); "
                "the others were scheduled. Fix the read schedule or the phase and run again."
            )
