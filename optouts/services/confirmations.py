"""The confirmation each opt-out, termination, re-entry and rejoin is owed: the outbox.

A `Confirmation` row with a stored due date is written in the same transaction as the request
(an opt-out's: `confirmations_for_optout`). E-mail when there is an address, else a letter;
an SMS too when the opt-out gave a phone number; the re-entry confirmation is always a letter (the
"Six-Month Advance Notice to Return to Bundled Portfolio Service" the customer keeps). After the
opt-out commits its e-mail and SMS rows are queued by id (`confirmations_queue_after_commit`);
the daily run (`confirmations_send_due`) sends everything still pending, so a broker outage or a
missed day loses nothing. Every send claims its row first, so none goes out twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from pypdf import PdfReader

from accounts.models import ServiceAccount
from optouts.models import Confirmation, OptOutRequest, Outcome
from optouts.services.letters import confirmation_letter_pdf

log = logging.getLogger(__name__)
C = Confirmation
# Sent right after the request commits; letters are issued by the daily run.
AFTER_COMMIT_METHODS = (C.Method.EMAIL, C.Method.SMS)


def confirmation_build(
    *,
    kind: str,
    account: ServiceAccount,
    email: str = "",
    phone: str = "",
    language: str = "en",
    request_date: dt.date,
    optout=None,
    reentry=None,
    rejoin=None,
    force_letter: bool = False,
    sms: bool = False,
) -> Confirmation:
    """The confirmation row, not yet saved. `sms`: the text message sent beside the e-mail or
    letter (an opt-out that gave a phone number)."""
    if sms:
        method = C.Method.SMS
    elif force_letter or not email:
        method = C.Method.LETTER
    else:
        method = C.Method.EMAIL
    return Confirmation(
        program_id=account.program_id,
        account=account,
        kind=kind,
        method=method,
        optout=optout,
        reentry=reentry,
        rejoin=rejoin,
        language=(language or account.language or "en")[:5],
        email=email if method == C.Method.EMAIL else "",
        phone=phone if method == C.Method.SMS else "",
        created_at=timezone.now(),
        due_date=request_date + dt.timedelta(days=account.program.confirmation_days),
    )


def confirmation_queue(**kwargs) -> Confirmation:
    conf = confirmation_build(**kwargs)
    conf.save(force_insert=True)
    return conf


def confirmations_for_optout(*, optout: OptOutRequest, reentry=None) -> list[Confirmation]:
    """The opt-out's confirmation (and its SMS when it gave a phone number) and, after the free
    window, its re-entry letter, saved. A new opt-out has sent nothing yet."""
    kind = C.Kind.TERMINATION if optout.outcome == Outcome.AFTER_FREE_WINDOW else C.Kind.OPTOUT

    def row(**how) -> Confirmation:
        return confirmation_build(
            kind=kind,
            account=optout.account,
            language=optout.language,
            request_date=optout.request_date,
            optout=optout,
            **how,
        )

    rows = [row(email=optout.contact_email)]
    if optout.contact_phone:
        rows.append(row(phone=optout.contact_phone, sms=True))
    if reentry is not None:
        rows.append(
            confirmation_build(
                kind=C.Kind.REENTRY,
                account=reentry.account,
                language=optout.language,
                request_date=reentry.notice_date,
                reentry=reentry,
                force_letter=True,
            )
        )
    return C.objects.bulk_create(rows)


@shared_task(
    name="optouts.tasks.confirmation_send",
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=8,
)
def confirmation_send_task(confirmation_id: int) -> bool:
    return confirmation_send(confirmation_id=confirmation_id)


def confirmations_queue_after_commit(*, request: OptOutRequest) -> None:
    """Once the opt-out commits, queue its e-mail and SMS confirmations by id. robust: a broker
    outage must not turn a recorded opt-out into an error page (the customer would try again);
    it is logged, the rows stay pending and the daily run sends them."""
    optout_id = request.pk

    def queue() -> None:
        pending = C.objects.filter(
            optout_id=optout_id, status=C.Status.PENDING, method__in=AFTER_COMMIT_METHODS
        ).values_list("pk", flat=True)
        for pk in pending:
            confirmation_send_task.delay(pk)

    transaction.on_commit(queue, robust=True)


def claim_lease() -> dt.timedelta:
    """How long a claim holds. A worker killed after its claim never releases it: once the lease
    has run out the row is taken again (by the task's redelivery or the daily run)."""
    return dt.timedelta(seconds=int(getattr(settings, "CONFIRMATION_CLAIM_LEASE_SECONDS", 600)))


def sms_configured() -> bool:
    return bool(
        settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER
    )


SMS_NOT_CONFIGURED = (
    "SMS not sent: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER must all be set; "
    "the row stays pending until they are"
)


def max_attempts() -> int:
    """Sends tried before a row stops retrying and waits for a person (status `failed`, on the
    staff home): an address the provider refuses for good must not be retried for ever."""
    return int(getattr(settings, "CONFIRMATION_MAX_ATTEMPTS", 8))


def email_configured() -> bool:
    return getattr(settings, "EMAIL_NOT_CONFIGURED", None) != settings.EMAIL_BACKEND


EMAIL_NOT_CONFIGURED = "e-mail not sent: EMAIL_URL is not set; the row stays pending until it is"


def _not_configured(method: str) -> str:
    if method == C.Method.SMS and not sms_configured():
        return SMS_NOT_CONFIGURED
    if method == C.Method.EMAIL and not email_configured():
        return EMAIL_NOT_CONFIGURED
    return ""


def methods_not_configured() -> list[str]:
    """The methods this deployment cannot send (SMS without Twilio, e-mail without EMAIL_URL)."""
    return [m for m in AFTER_COMMIT_METHODS if _not_configured(m)]


def sendable_q() -> Q:
    """E-mail and SMS rows this deployment can send now: SMS once Twilio is configured, e-mail once
    EMAIL_URL is, so rows that cannot leave neither fill a sweep's batch nor age readiness."""
    return Q(method__in=[m for m in AFTER_COMMIT_METHODS if not _not_configured(m)])


def _claimable(now: dt.datetime) -> Q:
    return Q(status=C.Status.PENDING) & (Q(claimed_at=None) | Q(claimed_at__lt=now - claim_lease()))


def confirmation_send(*, confirmation_id: int) -> bool:
    """Send one confirmation. Claimed with a conditional update first, so two workers (or the
    after-commit task and the daily run) never send it at once; the claim is a lease, so a worker
    killed mid-send leaves a row that is taken again once the lease expires. `sent` is recorded
    only after the provider accepted the message; a failure releases the claim and keeps the
    error on the row for the retry. Returns whether it was sent (or, for a letter, issued)."""
    now = timezone.now()
    pending = C.objects.filter(pk=confirmation_id).filter(_claimable(now))
    # Read the row's method only where some method cannot be sent: no query on a configured site.
    unconfigured = methods_not_configured()
    method = (
        pending.filter(method__in=unconfigured).values_list("method", flat=True).first()
        if unconfigured
        else None
    )
    if method:
        why = _not_configured(method)
        # Never counted as sent: visible on the row (and on the staff home) as still pending.
        pending.update(last_error=why)
        log.warning("confirmation %s: %s", confirmation_id, why)
        return False
    claimed = pending.update(claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return False
    conf = C.objects.select_related("program", "account", "optout", "reentry", "rejoin").get(
        pk=confirmation_id
    )
    mine = C.objects.filter(pk=conf.pk, claimed_at=now)  # unless our lease ran out and was retaken
    try:
        if conf.method == C.Method.EMAIL:
            _send_email(conf)
        elif conf.method == C.Method.SMS:
            _send_sms(conf)
        else:
            _issue_letter(conf)
    except Exception as exc:
        error = str(exc)[:2000]
        if conf.attempts >= max_attempts():  # this attempt counted by the claim
            mine.update(claimed_at=None, status=C.Status.FAILED, last_error=error)
            log.error("confirmation %s: failed %s times, left for staff", conf.pk, max_attempts())
        else:
            mine.update(claimed_at=None, last_error=error)
        raise
    if conf.method == C.Method.LETTER:
        # Issued, not sent: the letter reaches the customer through a mail batch (the daily
        # build, optouts.services.letter_batches) and the mail house's report.
        done = C.objects.filter(pk=conf.pk, status=C.Status.PENDING).update(
            status=C.Status.ISSUED, issued_at=timezone.now(), last_error=""
        )
    else:
        done = C.objects.filter(pk=conf.pk, status=C.Status.PENDING).update(
            status=C.Status.SENT, sent_at=timezone.now(), last_error=""
        )
    if not done:  # our lease ran out and another worker finished it: at least once, not twice
        log.warning("confirmation %s: lease expired during the send, already recorded", conf.pk)
    return True


def _request(conf: Confirmation):
    return conf.optout if conf.optout_id else conf.rejoin


def _send_email(conf: Confirmation) -> None:
    name = "confirmation" if conf.optout_id else "rejoin"
    context = {"r": _request(conf), "program": conf.program, "account": conf.account}
    with translation.override(conf.language or "en"):
        subject = render_to_string(f"optouts/email/{name}_subject.txt", context).strip()
        body = render_to_string(f"optouts/email/{name}.txt", context)
    send_mail(subject, body, conf.program.email or settings.DEFAULT_FROM_EMAIL, [conf.email])


def _send_sms(conf: Confirmation) -> None:
    context = {"r": conf.optout, "program": conf.program, "account": conf.account}
    with translation.override(conf.language or "en"):
        text = render_to_string("optouts/sms/confirmation.txt", context).strip()
    if not sms_configured():  # checked before the claim too; settings may change in between
        raise RuntimeError(SMS_NOT_CONFIGURED)
    from twilio.rest import Client  # slow to import; only a setup with Twilio needs it

    Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN).messages.create(
        to=conf.phone, from_=settings.TWILIO_FROM_NUMBER, body=text
    )


def _mailing_address(account: ServiceAccount) -> str:
    return "\n".join(
        [
            account.customer_name,
            account.mailing_address,
            f"{account.mailing_city} {account.mailing_state} {account.mailing_zip}".strip(),
        ]
    )


def _issue_letter(conf: Confirmation) -> None:
    pdf = confirmation_letter_pdf(confirmation=conf)
    C.objects.filter(pk=conf.pk).update(
        letter_pdf=pdf,
        letter_sha256=hashlib.sha256(pdf).hexdigest(),
        letter_pages=len(PdfReader(io.BytesIO(pdf)).pages),
        mailing_address=_mailing_address(conf.account),
    )


def confirmations_send_due(*, limit: int | None = None) -> dict[str, int]:
    """Everything pending, oldest due date first (due or overdue first; nothing waits for its
    exact day). Returns counts: `sent` is messages sent plus letters issued (`emailed`, `texted`,
    `issued`). Errors are kept on the row and retried on the next run; a claim whose lease ran
    out (its worker died) is taken again; SMS rows wait, pending, while Twilio is not configured
    (`sms_unconfigured`), and e-mail rows while EMAIL_URL is not (`email_unconfigured`)."""
    counts = dict.fromkeys(
        ("sent", "emailed", "texted", "issued", "failed", "sms_unconfigured", "email_unconfigured"),
        0,
    )
    key: dict[str, str] = {
        C.Method.EMAIL: "emailed",
        C.Method.SMS: "texted",
        C.Method.LETTER: "issued",
    }
    rows = list(
        C.objects.filter(_claimable(timezone.now()))
        .order_by("due_date", "pk")
        .values_list("pk", "method")[:limit]
    )
    # Rows this deployment cannot send (no Twilio, no EMAIL_URL) wait: one update per reason for
    # all of them, as the outbox keeps every one of them, day after day.
    waiting: dict[str, list[int]] = {}
    sendable = []
    for pk, method in rows:
        if why := _not_configured(method):
            waiting.setdefault(why, []).append(pk)
            counts["sms_unconfigured" if method == C.Method.SMS else "email_unconfigured"] += 1
        else:
            sendable.append((pk, method))
    for why, pks in waiting.items():
        C.objects.filter(pk__in=pks).exclude(last_error=why).update(last_error=why)
    for pk, method in sendable:
        try:
            if confirmation_send(confirmation_id=pk):
                counts["sent"] += 1
                counts[key[method]] += 1
        except Exception:
            log.exception("confirmation %s not sent", pk)
            counts["failed"] += 1
    return counts
