"""Celery tasks: thin wrappers that call the services (the rules live there)."""

from celery import shared_task

from cca_notices.services.batch_files import batch_file_task
from cca_notices.services.batches import mail_batches_build_due
from cca_notices.services.dashboard_tally import dashboard_tallies_all_task, dashboard_tallies_task
from cca_notices.services.due_work import notices_run_due_work

# One letters file of a batch, for workers helping its writer, and the dashboard's tallies
# (defined beside their services).
__all__ = [
    "batch_file_task",
    "dashboard_tallies_all_task",
    "dashboard_tallies_task",
    "mail_batches_daily",
    "notices_daily",
]


@shared_task(name="cca_notices.tasks.notices_daily")
def notices_daily(program_ids: list[int] | None = None) -> dict[str, int]:
    """Cancel notices of accounts that left, schedule new customers, enroll on the enrollment
    date and deem participation — everything due or overdue, from stored dates."""
    return notices_run_due_work(program_ids=program_ids)


@shared_task(name="cca_notices.tasks.mail_batches_daily")
def mail_batches_daily(program_ids: list[int] | None = None) -> dict[str, int]:
    """Build the mail batches due `Program.mail_lead_business_days` business days ahead (overdue
    notices included) into MEDIA_ROOT/batches/<program>/; recorded as built by "beat". First
    finishes any batch whose write a killed worker left (docs/reliability.md)."""
    return mail_batches_build_due(program_ids=program_ids, actor_name="beat")
