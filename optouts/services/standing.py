"""Where each program stands today, for the staff home page (docs/admin.md, "The staff home").

Each figure has one definition here or in cca_notices.services.mail_standing, and the admin
list filter that holds its rows uses the same `Q`, so the number on the home page is the number
of rows its link shows. Every figure is one aggregate query over an index.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import Phase, Program, ServiceAccount
from accounts.services.calendar import add_business_days, program_calendar
from cca_notices.services.mail_standing import MailStanding, mail_standing
from optouts.models import Confirmation, ServiceRequest
from optouts.services.confirmations import methods_not_configured

# A confirmation not yet on its way: pending, failed (retrying) or a letter waiting for a batch.
CONFIRMATION_NOT_SENT = (
    Confirmation.Status.PENDING,
    Confirmation.Status.FAILED,
    Confirmation.Status.ISSUED,
)


def confirmations_overdue_q(*, today: dt.date) -> Q:
    """Past its due date (Program.confirmation_days) and not yet sent or in a mail batch."""
    return Q(status__in=CONFIRMATION_NOT_SENT, due_date__lt=today)


def ccasr_answer_deadline_start(*, program: Program, today: dt.date) -> dt.datetime:
    """A request sent before this moment is past the utility's deadline if still unanswered:
    the start of the business day `ccasr_response_days` utility business days before today."""
    utility_days = program_calendar(program=program, kind="utility")
    day = add_business_days(today, -program.ccasr_response_days, calendar=utility_days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def ccasr_overdue_q(*, programs, today: dt.date) -> Q:
    """Sent to the utility and still unanswered after `ccasr_response_days` business days."""
    q = Q(pk__in=[])
    for program in programs:
        q |= Q(
            program_id=program.pk,
            status=ServiceRequest.Status.EXPORTED,
            exported_at__lt=ccasr_answer_deadline_start(program=program, today=today),
        )
    return q


def address_repair_q() -> Q:
    """A notice or letter came back undeliverable and the mailing address is not fixed yet."""
    return Q(address_needs_repair=True)


@dataclass(frozen=True)
class PhaseStanding:
    phase: Phase
    state: str  # "ahead", "enrolling", "enrolled"


@dataclass(frozen=True)
class ProgramStanding:
    program: Program
    today: dt.date
    mail: MailStanding
    ccasr_queued: int
    ccasr_sent: int
    ccasr_overdue: int
    ccasr_rejected: int
    confirmations_overdue: int
    # Of those, the ones this deployment cannot send, by method (only methods with some).
    confirmations_unsendable: dict[str, int]
    address_repair: int
    phases: list[PhaseStanding] = field(default_factory=list)

    @property
    def needs_attention(self) -> int:
        """Figures that are late: a person should act on each."""
        return sum(
            (
                self.mail.late,
                self.mail.batches_overdue,
                self.ccasr_overdue,
                self.ccasr_rejected,
                self.confirmations_overdue,
            )
        )


def _phase_state(phase: Phase, today: dt.date) -> str:
    if today < phase.enrollment_start:
        return "ahead"
    return "enrolling" if today <= phase.enrollment_end else "enrolled"


def program_standing(*, program: Program, today: dt.date) -> ProgramStanding:
    ccasr = ServiceRequest.objects.filter(program=program).aggregate(
        queued=Count("id", filter=Q(status=ServiceRequest.Status.QUEUED)),
        sent=Count("id", filter=Q(status=ServiceRequest.Status.EXPORTED)),
        overdue=Count("id", filter=ccasr_overdue_q(programs=[program], today=today)),
        rejected=Count("id", filter=Q(status=ServiceRequest.Status.REJECTED)),
    )
    # One scan: the overdue confirmations, and of them those by a method this site cannot send.
    confirmations = Confirmation.objects.filter(
        confirmations_overdue_q(today=today), program=program
    ).aggregate(
        overdue=Count("id"),
        **{m: Count("id", filter=Q(method=m)) for m in methods_not_configured()},
    )
    # The accounts per phase are on the dashboard: counting them here would read every account.
    phases = [
        PhaseStanding(phase=p, state=_phase_state(p, today))
        for p in Phase.objects.filter(program=program).order_by("number", "enrollment_start")
    ]
    return ProgramStanding(
        program=program,
        today=today,
        mail=mail_standing(program=program, today=today),
        ccasr_queued=ccasr["queued"],
        ccasr_sent=ccasr["sent"],
        ccasr_overdue=ccasr["overdue"],
        ccasr_rejected=ccasr["rejected"],
        confirmations_overdue=confirmations["overdue"],
        confirmations_unsendable={m: n for m, n in confirmations.items() if m != "overdue" and n},
        address_repair=ServiceAccount.objects.filter(address_repair_q(), program=program).count(),
        phases=phases,
    )


def programs_standing(*, today: dt.date, programs=None) -> list[ProgramStanding]:
    """Each of `programs` (a Program queryset; default every program), by name."""
    programs = Program.objects.all() if programs is None else programs
    return [
        program_standing(program=p, today=today)
        for p in programs.select_related("utility").order_by("name")
    ]
