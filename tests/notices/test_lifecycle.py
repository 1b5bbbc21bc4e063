import datetime as dt

import pytest

from accounts.models import ServiceAccount, Status, StatusChange
from accounts.services.status import Actor
from cca_notices.models import MailBatch, Notice
from cca_notices.services.due_work import notices_run_due_work
from cca_notices.services.lifecycle import (
    NoticeTransitionNotAllowed,
    notice_ids_for_pieces,
    notice_mark_batched,
    notice_mark_mailed,
    notice_mark_returned,
)
from cca_notices.services.scheduling import notices_schedule
from tests.factories import ServiceAccountFactory

D = dt.date
MAIL_HOUSE = Actor("mail-house report")


@pytest.fixture
def scheduled(program, phase, reads):
    accounts = ServiceAccountFactory.create_batch(2, program=program, phase=phase, read_cycle=1)
    notices_schedule(program=program, actor_name="test", today=D(2026, 11, 23))
    return accounts


def _batch(program, kind, day):
    return MailBatch.objects.create(
        program=program, kind=kind, mail_date=day, reference=f"B-{kind}-{day}", created_by="test"
    )


def mail(program, kind, day):
    ids = list(Notice.objects.filter(program=program, kind=kind).values_list("pk", flat=True))
    batch = _batch(program, kind, day)
    notice_mark_batched(batch=batch, notice_ids=ids, piece_ids={pk: f"P{pk:06d}" for pk in ids})
    notice_mark_mailed(notice_ids=ids, mailed_on=day, actor=MAIL_HOUSE)
    return ids


def test_lifecycle_and_first_mailing_notifies_the_account(program, scheduled):
    a = scheduled[0]
    ids = mail(program, "pre_enrollment_1", D(2027, 1, 4))
    n = Notice.objects.get(account=a, kind="pre_enrollment_1")
    assert (n.status, n.mailed_on, n.batch.reference, n.piece_id) == (
        "mailed",
        D(2027, 1, 4),
        "B-pre_enrollment_1-2027-01-04",
        f"P{n.pk:06d}",
    )
    a.refresh_from_db()
    assert a.status == Status.NOTIFIED
    change = StatusChange.objects.get(account=a, to_status=Status.NOTIFIED)
    assert (change.channel, change.actor_name, change.reason) == (
        "mail_house",
        "mail-house report",
        "first opt-out notice mailed on 2027-01-04",
    )
    # The second notice does not notify again; a repeated report is a no-op.
    mail(program, "pre_enrollment_2", D(2027, 2, 1))
    assert StatusChange.objects.filter(account=a, to_status=Status.NOTIFIED).count() == 1
    again = notice_mark_mailed(notice_ids=ids, mailed_on=D(2027, 1, 4), actor=MAIL_HOUSE)
    assert (again.changed, again.already) == (0, 2)


def test_return_flags_address_repair_and_does_not_stop_enrollment(program, scheduled):
    a, b = scheduled
    mail(program, "pre_enrollment_1", D(2027, 1, 4))
    piece = Notice.objects.get(account=a, kind="pre_enrollment_1").piece_id
    ids = notice_ids_for_pieces(piece_ids=[piece])
    result = notice_mark_returned(
        notice_ids=ids.values(),
        return_date=D(2027, 1, 20),
        reason="Insufficient address",
        actor=MAIL_HOUSE,
    )
    assert result.changed == 1
    n = Notice.objects.get(account=a, kind="pre_enrollment_1")
    assert (n.status, n.return_date, n.return_reason) == (
        "returned",
        D(2027, 1, 20),
        "Insufficient address",
    )
    assert ServiceAccount.objects.get(pk=a.pk).address_needs_repair is True
    assert ServiceAccount.objects.get(pk=b.pk).address_needs_repair is False
    notices_run_due_work(today=D(2027, 3, 2))
    assert ServiceAccount.objects.get(pk=a.pk).status == Status.ENROLLED


def test_wrong_step_is_refused_and_nothing_written(program, scheduled):
    ids = list(Notice.objects.filter(kind="pre_enrollment_1").values_list("pk", flat=True))
    with pytest.raises(
        NoticeTransitionNotAllowed,
        match=r"2 notice\(s\) cannot become returned \(only from mailed\): notice \d+ is scheduled",
    ):
        notice_mark_returned(
            notice_ids=ids, return_date=D(2027, 1, 20), reason="x", actor=MAIL_HOUSE
        )
    assert not Notice.objects.filter(status="returned").exists()
    with pytest.raises(ValueError, match="needs a reason"):
        notice_mark_returned(
            notice_ids=ids, return_date=D(2027, 1, 20), reason=" ", actor=MAIL_HOUSE
        )


def test_daily_work_enrolls_on_the_date_and_deems_participation_catching_up(program, scheduled):
    a, b = scheduled
    mail(program, "pre_enrollment_1", D(2027, 1, 4))
    mail(program, "pre_enrollment_2", D(2027, 2, 1))
    assert (
        notices_run_due_work(today=D(2027, 3, 1))["enrolled"] == 0
    )  # enrollment read is 2027-03-02
    # The beat task missed 2027-03-02 and runs a week later: the overdue enrollment still happens.
    assert notices_run_due_work(today=D(2027, 3, 9))["enrolled"] == 2
    a.refresh_from_db()
    assert (a.status, a.enrollment_date) == (Status.ENROLLED, D(2027, 3, 2))
    assert (
        StatusChange.objects.get(account=a, to_status=Status.ENROLLED).reason
        == "enrolled on its meter-read date 2027-03-02"
    )
    mail(program, "post_enrollment_1", D(2027, 3, 5))
    mail(program, "post_enrollment_2", D(2027, 4, 5))
    # b opts out in the free window: it is not deemed a participant.
    from accounts.services.status import account_transition

    account_transition(
        account=b, to_status=Status.OPTED_OUT_FREE, channel="web", actor=Actor("customer")
    )
    assert (
        notices_run_due_work(today=D(2027, 5, 4))["participants"] == 0
    )  # 29 days after the fourth notice
    assert notices_run_due_work(today=D(2027, 6, 1))["participants"] == 1
    assert ServiceAccount.objects.get(pk=a.pk).status == Status.PARTICIPANT
    assert ServiceAccount.objects.get(pk=b.pk).status == Status.OPTED_OUT_FREE
    assert StatusChange.objects.get(account=a, to_status=Status.PARTICIPANT).reason == (
        "did not opt out within 30 days of the last notice"
    )


def test_daily_task_runs_the_service(program, scheduled):
    from cca_notices.tasks import notices_daily

    newcomer = ServiceAccountFactory(
        program=program, phase=None, read_cycle=1, service_start_date=D(2027, 6, 1)
    )
    result = notices_daily.delay(program_ids=[program.pk]).get()
    assert result["new_customer_notices"] == 2
    assert Notice.objects.filter(account=newcomer).count() == 2


def test_beat_schedule_names_the_task():
    from django.conf import settings

    from cca_notices import tasks  # noqa: F401 (registers the task)
    from cca_notices.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["notices-daily"]
    assert entry["task"] in app.tasks
