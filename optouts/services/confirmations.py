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
        confirmation_email_sent_at=timezone.now()
    )
    if not claimed:
        return False
    request = OptOutRequest.objects.select_related("program", "account").get(pk=optout_id)
    if not request.contact_email:
        return False
    with translation.override(request.language or "en"):
        subject = render_to_string(
            "optouts/email/confirmation_subject.txt", _context(request)
        ).strip()
        body = render_to_string("optouts/email/confirmation.txt", _context(request))
    try:
        send_mail(
            subject,
            body,
            request.program.email or settings.DEFAULT_FROM_EMAIL,
            [request.contact_email],
        )
    except Exception:
        # Unclaim so the retry sends it.
        OptOutRequest.objects.filter(pk=optout_id).update(confirmation_email_sent_at=None)
        raise
    # The opt-out's Confirmation row (issue 6) records that it went out, by e-mail, now.
    for pk in Confirmation.objects.filter(optout_id=optout_id, method="email").values_list(
        "pk", flat=True
    ):
        _mark_sent(pk, timezone.now())
    return True


def optout_confirmation_sms_send(*, optout_id: int) -> bool:
    claimed = OptOutRequest.objects.filter(pk=optout_id, confirmation_sms_sent_at=None).update(
        confirmation_sms_sent_at=timezone.now()
    )
    if not claimed:
        return False
    request = OptOutRequest.objects.select_related("program", "account").get(pk=optout_id)
    if not request.contact_phone:
        return False
    with translation.override(request.language or "en"):
        text = render_to_string("optouts/sms/confirmation.txt", _context(request)).strip()
    if not (
        settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER
    ):
        log.info("SMS not sent (TWILIO_* unset) to opt-out %s: %s", request.confirmation_code, text)
        return True
    from twilio.rest import Client

    try:
        Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN).messages.create(
            to=request.contact_phone, from_=settings.TWILIO_FROM_NUMBER, body=text
        )
    except Exception:
        OptOutRequest.objects.filter(pk=optout_id).update(confirmation_sms_sent_at=None)
        raise
    return True


# --- issue 6: the confirmation each opt-out, termination, re-entry and rejoin is owed -----------
# A `Confirmation` row with a stored due date is written in the same transaction as the request;
# `confirmations_send_due` (daily beat task, and right after commit for e-mail) sends everything
# pending, so a missed day loses nothing. E-mail when there is an address, else a letter; the
# re-entry confirmation is always a letter: it is the "Six-Month Advance Notice to Return to
# Bundled Portfolio Service" the customer keeps.
import datetime as _dt
import hashlib
import io

from django.db import transaction
from django.db.models import Q

from accounts.models import ServiceAccount
from optouts.models import Confirmation, Outcome


def confirmation_build(
    *,
    kind: str,
    account: ServiceAccount,
    email: str = "",
    language: str = "en",
    request_date: _dt.date,
    optout=None,
    reentry=None,
    rejoin=None,
    force_letter: bool = False,
) -> Confirmation:
    """The confirmation row, not yet saved (confirmation_queue and confirmations_for_optout
    save it)."""
    program = account.program
    method = Confirmation.Method.LETTER if force_letter or not email else Confirmation.Method.EMAIL
    return Confirmation(
        program_id=account.program_id,
        account=account,
        kind=kind,
        method=method,
        optout=optout,
        reentry=reentry,
        rejoin=rejoin,
        language=(language or account.language or "en")[:5],
        email=email if method == Confirmation.Method.EMAIL else "",
        created_at=timezone.now(),
        due_date=request_date + _dt.timedelta(days=program.confirmation_days),
    )


def confirmation_queue(**kwargs) -> Confirmation:
    conf = confirmation_build(**kwargs)
    conf.save(force_insert=True)
    return conf


def _optout_confirmation(optout: OptOutRequest) -> Confirmation:
    kind = (
        Confirmation.Kind.TERMINATION
        if optout.outcome == Outcome.AFTER_FREE_WINDOW
        else Confirmation.Kind.OPTOUT
    )
    return confirmation_build(
        kind=kind,
        account=optout.account,
        email=optout.contact_email,
        language=optout.language,
        request_date=optout.request_date,
        optout=optout,
    )


def _reentry_confirmation(reentry) -> Confirmation:
    return confirmation_build(
        kind=Confirmation.Kind.REENTRY,
        account=reentry.account,
        language=reentry.optout.language,
        request_date=reentry.notice_date,
        reentry=reentry,
        force_letter=True,
    )


def _mark_optout_confirmation_sent(conf: Confirmation, optout: OptOutRequest) -> None:
    if conf.method == Confirmation.Method.EMAIL and optout.confirmation_email_sent_at:
        _mark_sent(conf.pk, optout.confirmation_email_sent_at)


def confirmation_for_optout(*, optout: OptOutRequest) -> Confirmation:
    conf = _optout_confirmation(optout)
    conf.save(force_insert=True)
    _mark_optout_confirmation_sent(conf, optout)
    return conf


def confirmation_for_reentry(*, reentry) -> Confirmation:
    conf = _reentry_confirmation(reentry)
    conf.save(force_insert=True)
    return conf


def confirmations_for_optout(*, optout: OptOutRequest, reentry=None) -> list[Confirmation]:
    """The opt-out's confirmation and, after the free window, its re-entry letter, saved.
    (A new opt-out has sent no e-mail yet, so nothing is marked sent.)"""
    rows = [_optout_confirmation(optout)] + (
        [_reentry_confirmation(reentry)] if reentry is not None else []
    )
    return Confirmation.objects.bulk_create(rows)


def _mark_sent(pk: int, at) -> None:
    Confirmation.objects.filter(pk=pk).exclude(status=Confirmation.Status.SENT).update(
        status=Confirmation.Status.SENT, sent_at=at, last_error=""
    )


def _mailing_address(account: ServiceAccount) -> str:
    return "\n".join(
        [
            account.customer_name,
            account.mailing_address,
            f"{account.mailing_city} {account.mailing_state} {account.mailing_zip}".strip(),
        ]
    )


def confirmation_send(*, confirmation_id: int) -> bool:
    """Send one confirmation. Claimed with a conditional update first, so two workers (or the
    after-commit task and the daily run) never send it twice; a failure unclaims it for a retry."""
    now = timezone.now()
    claimed = Confirmation.objects.filter(
        pk=confirmation_id, status=Confirmation.Status.PENDING, claimed_at=None
    ).update(claimed_at=now)
    if not claimed:
        return False
    conf = Confirmation.objects.select_related(
        "program", "account", "optout", "reentry", "rejoin"
    ).get(pk=confirmation_id)
    try:
        if conf.method == Confirmation.Method.EMAIL:
            _send_email(conf)
        else:
            _issue_letter(conf)
    except Exception as exc:
        Confirmation.objects.filter(pk=conf.pk).update(
            claimed_at=None, attempts=conf.attempts + 1, last_error=str(exc)[:2000]
        )
        raise
    if conf.method == Confirmation.Method.EMAIL:
        Confirmation.objects.filter(pk=conf.pk).update(
            status=Confirmation.Status.SENT,
            sent_at=timezone.now(),
            attempts=conf.attempts + 1,
            last_error="",
        )
    else:
        # Issued, not sent: the letter reaches the customer through a mail batch (the daily
        # build, optouts.services.letter_batches) and the mail house's report.
        Confirmation.objects.filter(pk=conf.pk).update(
            status=Confirmation.Status.ISSUED,
            issued_at=timezone.now(),
            attempts=conf.attempts + 1,
            last_error="",
        )
    return True


def _send_email(conf: Confirmation) -> None:
    if conf.optout_id:
        # Issue 5's after-commit e-mail: it stamps its own sent-at, so this never mails twice.
        optout_confirmation_email_send(optout_id=conf.optout_id)
        return
    rejoin = conf.rejoin
    context = {"r": rejoin, "program": conf.program, "account": conf.account}
    with translation.override(conf.language or "en"):
        subject = render_to_string("optouts/email/rejoin_subject.txt", context).strip()
        body = render_to_string("optouts/email/rejoin.txt", context)
    send_mail(subject, body, conf.program.email or settings.DEFAULT_FROM_EMAIL, [conf.email])


def _issue_letter(conf: Confirmation) -> None:
    from pypdf import PdfReader

    from optouts.services.letters import confirmation_letter_pdf

    pdf = confirmation_letter_pdf(confirmation=conf)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    Confirmation.objects.filter(pk=conf.pk).update(
        letter_pdf=pdf,
        letter_sha256=hashlib.sha256(pdf).hexdigest(),
        letter_pages=pages,
        mailing_address=_mailing_address(conf.account),
    )


def confirmations_send_due(*, limit: int | None = None) -> dict[str, int]:
    """Everything pending, oldest due date first (due or overdue first; nothing waits for its
    exact day). Returns counts: `sent` is e-mails sent plus letters issued (`emailed`, `issued`).
    Errors are kept on the row and retried on the next run."""
    counts = {"sent": 0, "emailed": 0, "issued": 0, "failed": 0}
    rows = list(
        Confirmation.objects.filter(status=Confirmation.Status.PENDING, claimed_at=None)
        .order_by("due_date", "pk")
        .values_list("pk", "method")[:limit]
    )
    for pk, method in rows:
        try:
            if confirmation_send(confirmation_id=pk):
                counts["sent"] += 1
                counts["emailed" if method == Confirmation.Method.EMAIL else "issued"] += 1
        except Exception:
            log.exception("confirmation %s not sent", pk)
            counts["failed"] += 1
    return counts


def confirmations_overdue_q(*, today: _dt.date) -> Q:
    """Past the due date and not yet out: not e-mailed, or a letter not yet in a mail batch."""
    return Q(
        status__in=[
            Confirmation.Status.PENDING,
            Confirmation.Status.FAILED,
            Confirmation.Status.ISSUED,
        ],
        due_date__lt=today,
    )


def confirmations_enqueue_after_commit(*, confirmation_ids) -> None:
    from optouts import tasks

    for pk in confirmation_ids:
        transaction.on_commit(
            lambda pk=pk: tasks.confirmation_send.delay(pk), robust=True
        )  # the row is the outbox
