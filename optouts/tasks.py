"""Thin Celery tasks: take IDs, call services, retry on transient failures."""
from celery import shared_task

from optouts.services.confirmations import optout_confirmation_email_send, optout_confirmation_sms_send


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=8)
def optout_confirmation_email(optout_id: int) -> bool:
    return optout_confirmation_email_send(optout_id=optout_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=8)
def optout_confirmation_sms(optout_id: int) -> bool:
    return optout_confirmation_sms_send(optout_id=optout_id)
