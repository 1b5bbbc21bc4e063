"""Thin Celery tasks: take IDs, call services, retry on transient failures. A confirmation's own
task (`optouts.tasks.confirmation_send`) is defined beside its service, which queues it after
commit: optouts.services.confirmations.confirmation_send_task."""

from celery import shared_task

from accounts.models import Program
from optouts.services.ccasr import ccasr_connects_for_enrollment, ccasr_disconnects_take_effect
from optouts.services.confirmations import confirmation_send_task, confirmations_send_due
from optouts.services.edi_export import ccasr_export_send

__all__ = ["ccasr_export", "confirmation_send_task", "optouts_daily"]


@shared_task(name="optouts.tasks.optouts_daily")
def optouts_daily() -> dict[str, int]:
    """Confirmations pending (due or overdue), mass-enrollment Connects coming due, and accepted
    Disconnects whose effective date has arrived (the account returns to bundled service)."""
    totals = {"connects_queued": 0}
    for program in Program.objects.all():
        totals["connects_queued"] += ccasr_connects_for_enrollment(program=program)
    disconnects = ccasr_disconnects_take_effect()
    totals["disconnects_took_effect"] = disconnects.get("returned_bundled", 0)
    totals["disconnects_not_applicable"] = disconnects.get("not_applicable", 0)
    totals.update(confirmations_send_due())
    return totals


@shared_task(name="optouts.tasks.ccasr_export")
def ccasr_export(program_ids: list[int] | None = None) -> dict[str, int]:
    """Each program's CCASR interchange (X12 814) written and delivered to the utility, and any
    interchange a killed run left undelivered delivered as it was (docs/reliability.md)."""
    totals = {"requests": 0, "files_delivered": 0, "files_finished": 0}
    programs = (
        Program.objects.all() if program_ids is None else Program.objects.filter(pk__in=program_ids)
    )
    for program in programs:
        result = ccasr_export_send(program=program, actor_name="beat")
        totals["requests"] += result.export.counts.get("total", 0)
        totals["files_delivered"] += len(result.delivered)
        totals["files_finished"] += len(result.export.finished) + len(result.acks_finished)
    return totals
