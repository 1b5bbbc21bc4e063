"""IMb serials for a mail batch: never one a piece of the same Mailer ID carried in the 45 days
around the new batch's mail date (USPS asks for an IMb unique for 45 days).

Per Mailer ID, `ImbSerialCounter.next_value` counts the serials handed out; the next serial is
it modulo the serial space (10^9 for a 6-digit Mailer ID, 10^6 for a 9-digit one), so serials
continue from the last one used and come round again only after the whole space. The ranges in
use are the batches themselves (`first_serial`, `piece_count`, `mail_date`): a new range is
checked against the few batches mailed within 45 days, so the cost does not grow with pieces.
"""

from __future__ import annotations

import datetime as dt

from cca_notices.mailers import imb
from cca_notices.models import ImbSerialCounter, MailBatch

UNIQUE_DAYS = 45


class ImbSerialsExhausted(ValueError):
    """The serials a batch needs are not free: it must not be built (nothing was reserved)."""


def _free_run(*, start: int, capacity: int, ranges) -> tuple[int, list[tuple[int, dt.date]]]:
    """How many serials from `start` on are free of `ranges`, and each range as (offset from
    `start` of its first serial, mail date); a range holding `start` has offset 0."""
    free = capacity
    offsets = []
    for first, count, mail_date in ranges:
        if (start - first) % capacity < count:
            offset = 0
        else:
            offset = (first - start) % capacity
        offsets.append((offset, mail_date))
        free = min(free, offset)
    return free, offsets


def imb_serials_allocate(*, mailer_id: str, count: int, mail_date: dt.date) -> int:
    """Reserve `count` consecutive serials (modulo the serial space) for a batch of `mailer_id`
    mailed on `mail_date`; returns the first. Raises ImbSerialsExhausted, reserving nothing,
    when any of them was used by a batch mailed less than 46 days before (or at any time after)
    `mail_date`. Call inside the transaction that records the batch's `first_serial`: the
    counter row stays locked until it ends, so builders of one Mailer ID take turns."""
    capacity = imb.serial_capacity(mailer_id)
    ImbSerialCounter.objects.get_or_create(mailer_id=mailer_id)
    counter = ImbSerialCounter.objects.select_for_update().get(mailer_id=mailer_id)
    start = counter.next_value % capacity
    since = mail_date - dt.timedelta(days=UNIQUE_DAYS)
    ranges = MailBatch.objects.filter(
        mailer_id=mailer_id, mail_date__gte=since, first_serial__isnull=False, piece_count__gt=0
    ).values_list("first_serial", "piece_count", "mail_date")
    free, offsets = _free_run(start=start, capacity=capacity, ranges=ranges)
    if count > free:
        width = imb.imb_serial_width(mailer_id)
        if count > capacity:
            when = f"never: the whole serial space of Mailer ID {mailer_id} is {capacity:,}"
        else:
            last_use = max(d for offset, d in offsets if offset < count)
            frees_on = last_use + dt.timedelta(days=UNIQUE_DAYS + 1)
            when = (
                f"the serials it needs free up for a mail date on or after {frees_on} "
                f"(their last use was mailed on {last_use})"
            )
        raise ImbSerialsExhausted(
            f"Mailer ID {mailer_id} has not enough free IMb serials: the batch needs {count:,}, "
            f"only {free:,} are free from serial {start:0{width}d} on (USPS: no serial again "
            f"within {UNIQUE_DAYS} days of its last use, and the serials of batches mailed "
            f"since {since} are in use); {when}. Nothing was built."
        )
    counter.next_value += count
    counter.save(update_fields=["next_value", "updated_at"])
    return start
