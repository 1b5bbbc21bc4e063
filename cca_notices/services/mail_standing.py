"""Where a program's mail stands today: the one definition of "due for a batch", "late" and
"built, not confirmed mailed", shared by the staff home's counts and the admin list filters that
hold the rows (so a count on the home page is the number of rows its link shows).

Every count is one indexed query (`notice_due` is program, status, mail_date), never a loop
over rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Min, Q, Sum

from accounts.models import Program
from accounts.services.calendar import add_business_days, program_calendar
from cca_notices.models import MailBatch, Notice, NoticeKind

NOT_IN_BATCH = Notice.Status.SCHEDULED
WAITING = (Notice.Status.SCHEDULED, Notice.Status.BATCHED)


def batch_lead_date(*, program: Program, today: dt.date) -> dt.date:
    """The last mail date the daily build batches today: `mail_lead_business_days` mail days
    ahead (cca_notices.services.batches.mail_batches_build_due uses the same date)."""
    mail_days = program_calendar(program=program, kind="mail")
    return add_business_days(today, program.mail_lead_business_days, calendar=mail_days)


def notices_late_q(*, today: dt.date) -> Q:
    """Past its mail date and still in no batch: the notice is late."""
    return Q(status=NOT_IN_BATCH, mail_date__lt=today)


def notices_due_q(*, programs, today: dt.date) -> Q:
    """Due for a batch now: mail date from today up to the program's batch lead date."""
    q = Q(pk__in=[])
    for program in programs:
        q |= Q(
            program_id=program.pk,
            status=NOT_IN_BATCH,
            mail_date__gte=today,
            mail_date__lte=batch_lead_date(program=program, today=today),
        )
    return q


def batches_unconfirmed_q() -> Q:
    """Built and handed over, but the mail house has not confirmed mailing yet."""
    return Q(mailed_at__isnull=True)


def batches_overdue_q(*, today: dt.date) -> Q:
    """Not confirmed mailed though its mail date has passed: chase the mail house."""
    return Q(mailed_at__isnull=True, mail_date__lt=today)


@dataclass(frozen=True)
class MailDrop:
    mail_date: dt.date
    kind: str
    kind_label: str
    scheduled: int  # not yet in a batch
    batched: int

    @property
    def total(self) -> int:
        return self.scheduled + self.batched


@dataclass(frozen=True)
class MailStanding:
    due: int
    late: int
    lead_date: dt.date
    batches_unconfirmed: int
    batches_unconfirmed_pieces: int
    batches_overdue: int
    next_drops: list[MailDrop]


def next_mail_drops(*, program: Program, today: dt.date, dates: int = 3) -> list[MailDrop]:
    """The next `dates` mail dates with notices waiting, and what each holds by kind.

    The dates are found one index probe at a time (MIN over `notice_due`), so millions of
    notices further out are never read."""
    found: list[dt.date] = []
    waiting = Notice.objects.filter(program=program, status__in=WAITING)
    after = today - dt.timedelta(days=1)
    for _ in range(dates):
        # One probe per status: MIN over an equality prefix of the index reads one entry.
        days = [
            Notice.objects.filter(program=program, status=status, mail_date__gt=after).aggregate(
                d=Min("mail_date")
            )["d"]
            for status in WAITING
        ]
        day = min((d for d in days if d is not None), default=None)
        if day is None:
            break
        found.append(day)
        after = day
    if not found:
        return []
    rows = (
        waiting.filter(mail_date__in=found)
        .values("mail_date", "kind")
        # Counting an indexed column (not the id) lets PostgreSQL answer from `notice_due`.
        .annotate(
            scheduled=Count("mail_date", filter=Q(status=NOT_IN_BATCH)),
            batched=Count("mail_date", filter=Q(status=Notice.Status.BATCHED)),
        )
        .order_by("mail_date", "kind")
    )
    labels = dict(NoticeKind.choices)
    return [
        MailDrop(
            mail_date=r["mail_date"],
            kind=r["kind"],
            kind_label=labels.get(r["kind"], r["kind"]),
            scheduled=r["scheduled"],
            batched=r["batched"],
        )
        for r in rows
    ]


def mail_standing(*, program: Program, today: dt.date) -> MailStanding:
    notices = Notice.objects.filter(program=program)
    batches = MailBatch.objects.filter(batches_unconfirmed_q(), program=program)
    unconfirmed = batches.aggregate(
        n=Count("id"),
        pieces=Sum("piece_count"),
        overdue=Count("id", filter=Q(mail_date__lt=today)),
    )
    return MailStanding(
        due=notices.filter(notices_due_q(programs=[program], today=today)).count(),
        late=notices.filter(notices_late_q(today=today)).count(),
        lead_date=batch_lead_date(program=program, today=today),
        batches_unconfirmed=unconfirmed["n"],
        batches_unconfirmed_pieces=unconfirmed["pieces"] or 0,
        batches_overdue=unconfirmed["overdue"],
        next_drops=next_mail_drops(program=program, today=today),
    )
