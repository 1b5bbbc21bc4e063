"""Confirmation e-mail and SMS for a recorded opt-out (sent by optouts.tasks after commit)."""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone, translation

from optouts.models import OptOutRequest

log = logging.getLogger(__name__)


def _context(request: OptOutRequest) -> dict:
    return {"r": request, "program": request.program, "account": request.account}


def optout_confirmation_email_send(*, optout_id: int) -> bool:
    """Send once: the sent-at stamp is claimed with a conditional update, so a retried or
    duplicated task never mails the customer twice."""
    claimed = OptOutRequest.objects.filter(pk=optout_id, confirmation_email_sent_at=None).update(
        confirmation_email_sent_at=timezone.now())
    if not claimed:
        return False
    request = OptOutRequest.objects.select_related("program", "account").get(pk=optout_id)
    if not request.contact_email:
        return False
    with translation.override(request.language or "en"):
        subject = render_to_string("optouts/email/confirmation_subject.txt", _context(request)).strip()
        body = render_to_string("optouts/email/confirmation.txt", _context(request))
    try:
        send_mail(subject, body, request.program.email or settings.DEFAULT_FROM_EMAIL, [request.contact_email])
    except Exception:
        # Unclaim so the retry sends it.
        OptOutRequest.objects.filter(pk=optout_id).update(confirmation_email_sent_at=None)
        raise
    return True


def optout_confirmation_sms_send(*, optout_id: int) -> bool:
    claimed = OptOutRequest.objects.filter(pk=optout_id, confirmation_sms_sent_at=None).update(
        confirmation_sms_sent_at=timezone.now())
    if not claimed:
        return False
    request = OptOutRequest.objects.select_related("program", "account").get(pk=optout_id)
    if not request.contact_phone:
        return False
    with translation.override(request.language or "en"):
        text = render_to_string("optouts/sms/confirmation.txt", _context(request)).strip()
    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER):
        log.info("SMS not sent (TWILIO_* unset) to opt-out %s: %s", request.confirmation_code, text)
        return True
    from twilio.rest import Client

    try:
        Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN).messages.create(
            to=request.contact_phone, from_=settings.TWILIO_FROM_NUMBER, body=text)
    except Exception:
        OptOutRequest.objects.filter(pk=optout_id).update(confirmation_sms_sent_at=None)
        raise
    return True
