"""Thin Celery tasks: take IDs, call services, retry on transient failures."""

from celery import shared_task

from optouts.services.confirmations import (
    optout_confirmation_email_send,
    optout_confirmation_sms_send,
)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=8)
def optout_confirmation_email(optout_id: int) -> bool:
    return optout_confirmation_email_send(optout_id=optout_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=8)
def optout_confirmation_sms(optout_id: int) -> bool:
    return optout_confirmation_sms_send(optout_id=optout_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=8)
def confirmation_send(confirmation_id: int) -> bool:
    from optouts.services.confirmations import confirmation_send as send

    return send(confirmation_id=confirmation_id)


@shared_task(name="optouts.tasks.optouts_daily")
def optouts_daily() -> dict[str, int]:
    """Confirmations pending (due or overdue), mass-enrollment Connects coming due, and accepted
    Disconnects whose effective date has arrived (the account returns to bundled service)."""
    from accounts.models import Program
    from optouts.services.ccasr import ccasr_connects_for_enrollment, ccasr_disconnects_take_effect
    from optouts.services.confirmations import confirmations_send_due

    totals = {"connects_queued": 0}
    for program in Program.objects.all():
        totals["connects_queued"] += ccasr_connects_for_enrollment(program=program)
    disconnects = ccasr_disconnects_take_effect()
    totals["disconnects_took_effect"] = disconnects.get("returned_bundled", 0)
    totals["disconnects_not_applicable"] = disconnects.get("not_applicable", 0)
    totals.update(confirmations_send_due())
    return totals
