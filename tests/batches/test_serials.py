"""IMb serials: disjoint between batches, reused only after 45 days, refused when not free —
by the reservation, by a whole batch build (nothing half-done), and a Mailer ID of the wrong
shape refused where the program file is loaded."""

import datetime as dt
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from accounts.models import Program
from accounts.services.programs import ProgramFileError, program_load_document
from accounts.validators import mailer_id_validate
from cca_notices.models import ImbSerialCounter, MailBatch, Notice, NoticeChange
from cca_notices.services.batches import SerialsExhaustedError, mail_batch_build
from cca_notices.services.imb_serials import ImbSerialsExhausted, imb_serials_allocate
from tests.batches.conftest import MAIL_DATE

pytestmark = pytest.mark.django_db
DEMO_FILE = Path(__file__).resolve().parents[2] / "accounts" / "demo" / "demo_program.toml"
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


# --- at the batch build: the real claim, through build_mail_batch -------------------------------


def _nearly_full(program):
    """The 9-digit Mailer ID's serial space (10^6) used up but for its last two serials by a
    batch mailed ten days before the new one: within the 45 days, so none of it is free."""
    program.mailer_id = MID
    program.save()
    record(program, first=0, count=10**6 - 2, mail_date=MAIL_DATE - dt.timedelta(days=10), n=1)
    ImbSerialCounter.objects.create(mailer_id=MID, next_value=10**6 - 2)


def test_a_batch_needing_more_serials_than_remain_is_refused_whole(
    program, make_account, notice_for, tmp_path
):
    _nearly_full(program)
    notices = [
        notice_for(make_account(customer_name=f"CUSTOMER {i}", mailing_zip=f"9259{i}"))
        for i in range(3)
    ]
    out = tmp_path / "out"
    with pytest.raises(CommandError) as refused:
        call_command(
            "build_mail_batch",
            *("--program", program.slug, "--kind", "pre_enrollment_1"),
            *("--mail-date", MAIL_DATE.isoformat(), "--out", str(out)),
        )
    message = str(refused.value)
    # Names the Mailer ID, what the batch needs and what is left, and that it did not wrap.
    assert f"Mailer ID {MID}" in message
    assert "the batch needs 3, only 2 are free from serial 999998 on" in message
    assert "within 45 days" in message and "Nothing was built" in message
    # Nothing half-done: no batch, no notice taken, no serial reserved, no file.
    assert list(MailBatch.objects.values_list("reference", flat=True)) == ["T-1"]
    assert {(n.status, n.batch_id, n.piece_id) for n in Notice.objects.all()} == {
        ("scheduled", None, "")
    }
    assert not NoticeChange.objects.filter(notice__in=notices).exists()
    assert ImbSerialCounter.objects.get(mailer_id=MID).next_value == 10**6 - 2
    assert not out.exists() or not any(out.rglob("*"))


def test_a_batch_that_fits_takes_the_last_serials_and_the_next_is_refused_not_wrapped(
    program, make_account, notice_for, tmp_path
):
    """The same space: two notices fit exactly (the last two serials, no wrap to 0)."""
    _nearly_full(program)
    for i in range(2):
        notice_for(make_account(customer_name=f"CUSTOMER {i}", mailing_zip=f"9259{i}"))
    result = mail_batch_build(
        program=program,
        kind="pre_enrollment_1",
        mail_date=MAIL_DATE,
        out_dir=tmp_path / "out",
        actor_name="t",
    )
    assert result.batch is not None and result.batch.first_serial == 10**6 - 2
    serials = sorted(Notice.objects.values_list("piece_id", flat=True))
    assert [s[-6:] for s in serials] == ["999998", "999999"]
    assert ImbSerialCounter.objects.get(mailer_id=MID).next_value == 10**6
    # The space is now full within 45 days: one more notice is refused, not given serial 0.
    notice_for(make_account(customer_name="CUSTOMER 9", mailing_zip="92599"))
    with pytest.raises(SerialsExhaustedError, match=rf"Mailer ID {MID} .*needs 1, only 0 are free"):
        mail_batch_build(
            program=program,
            kind="pre_enrollment_1",
            mail_date=MAIL_DATE,
            out_dir=tmp_path / "out",
            actor_name="t",
        )
    assert Notice.objects.filter(status="scheduled", batch=None).count() == 1


@pytest.mark.parametrize(
    "mailer_id, problem",
    [
        ("912345", "a 6-digit USPS Mailer ID never starts with 9"),
        ("812345678", "a 9-digit USPS Mailer ID always starts with 9"),
        ("81234", "it has 6 or 9 digits"),
    ],
)
def test_the_program_file_refuses_a_mailer_id_of_the_wrong_shape(mailer_id, problem):
    with open(DEMO_FILE, "rb") as fp:
        data = tomllib.load(fp, parse_float=Decimal)
    data["program"]["mailer_id"] = mailer_id
    with pytest.raises(ProgramFileError) as refused:
        program_load_document(data=data, source="test.toml", today=dt.date(2026, 11, 23))
    (error,) = [e for e in refused.value.errors if "mailer_id" in e]
    assert error.startswith("program.mailer_id: ") and problem in error and mailer_id in error
    assert not Program.objects.filter(slug=data["program"]["slug"]).exists()
