"""IMb serials: disjoint between batches, reused only after 45 days, refused when not free."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from accounts.validators import mailer_id_validate
from cca_notices.models import ImbSerialCounter, MailBatch
from cca_notices.services.imb_serials import ImbSerialsExhausted, imb_serials_allocate

pytestmark = pytest.mark.django_db
MID = "912345678"  # 9 digits: a serial space of 10^6
DAY = dt.date(2027, 1, 8)


def record(program, *, first, count, mail_date, n):
    MailBatch.objects.create(
        program=program,
        kind="pre_enrollment_1",
        mail_date=mail_date,
        reference=f"T-{n}",
        created_by="t",
        mailer_id=MID,
        first_serial=first,
        piece_count=count,
    )


def test_consecutive_batches_get_disjoint_serials(program):
    a = imb_serials_allocate(mailer_id=MID, count=5, mail_date=DAY)
    record(program, first=a, count=5, mail_date=DAY, n=1)
    b = imb_serials_allocate(mailer_id=MID, count=5, mail_date=DAY)
    assert not set(range(a, a + 5)) & set(range(b, b + 5))


@pytest.mark.parametrize("days, ok", [(46, True), (45, False)])
def test_wrap_reuses_only_after_45_days(program, days, ok):
    record(program, first=0, count=3, mail_date=DAY, n=1)
    ImbSerialCounter.objects.create(mailer_id=MID, next_value=10**6 - 2)
    later = DAY + dt.timedelta(days=days)
    if ok:
        assert imb_serials_allocate(mailer_id=MID, count=3, mail_date=later) == 10**6 - 2
    else:
        with pytest.raises(ImbSerialsExhausted, match=r"needs 3, only 2 are free.*2027-02-23"):
            imb_serials_allocate(mailer_id=MID, count=3, mail_date=later)
        assert ImbSerialCounter.objects.get(mailer_id=MID).next_value == 10**6 - 2


@pytest.mark.parametrize("bad", ["901234", "812345678", "12345", "12a456"])
def test_mailer_id_rules(bad):
    with pytest.raises(ValidationError):
        mailer_id_validate(bad)
    mailer_id_validate("801234")
    mailer_id_validate("912345678")
