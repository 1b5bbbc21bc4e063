"""The daily task builds the batches due ahead; staff download batch files from the admin."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from accounts.models import ProgramAccess
from cca_notices.models import MailBatch, Notice
from cca_notices.tasks import mail_batches_daily

pytestmark = pytest.mark.django_db


def test_daily_task_builds_what_is_due_by_the_lead_date(
    program, make_account, notice_for, settings
):
    # Today 2027-01-06 (Wed) + 3 business days = 2027-01-11 (Mon): due and overdue notices go in.
    assert program.mail_lead_business_days == 3
    due = notice_for(make_account(customer_name="A"), mail_date=dt.date(2027, 1, 11))
    overdue = notice_for(
        make_account(customer_name="B"), mail_date=dt.date(2026, 12, 28), kind="pre_enrollment_2"
    )
    later = notice_for(make_account(customer_name="C"), mail_date=dt.date(2027, 1, 12))
    totals = mail_batches_daily.delay().get()
    assert totals == {"batches": 2, "pieces": 2, "notices": 2, "excluded": 0}
    batches = MailBatch.objects.order_by("kind")
    assert [(b.kind, b.mail_date, b.created_by, b.built_via) for b in batches] == [
        ("pre_enrollment_1", dt.date(2027, 1, 11), "beat", "beat"),
        ("pre_enrollment_2", dt.date(2027, 1, 11), "beat", "beat"),
    ]
    for b in batches:
        assert (
            settings.MEDIA_ROOT / "batches" / "demo" / b.reference / f"{b.reference}-manifest.json"
        ).is_file()
    assert Notice.objects.get(pk=due.pk).status == Notice.Status.BATCHED
    assert Notice.objects.get(pk=overdue.pk).status == Notice.Status.BATCHED
    assert Notice.objects.get(pk=later.pk).status == Notice.Status.SCHEDULED
    # The next day's run finds nothing new and builds nothing twice.
    assert mail_batches_daily.delay().get() == {}


def test_programs_without_a_mailer_id_are_skipped_and_counted(program, make_account, notice_for):
    program.mailer_id = ""
    program.save()
    notice_for(make_account())
    assert mail_batches_daily.delay().get() == {"programs_without_mailer_id": 1}
    assert not MailBatch.objects.exists()


@pytest.fixture
def built(program, make_account, notice_for, settings):
    notice_for(make_account())
    mail_batches_daily.delay().get()
    return MailBatch.objects.get()


def test_admin_lists_batches_with_who_when_and_download_links(admin_client, built):
    response = admin_client.get(reverse("admin:cca_notices_mailbatch_changelist"))
    html = response.content.decode()
    assert response.status_code == 200 and built.reference in html and "beat" in html
    detail = admin_client.get(
        reverse("admin:cca_notices_mailbatch_change", args=[built.pk])
    ).content.decode()
    for f in built.meta["files"]:
        assert reverse("admin:cca_notices_mailbatch_download", args=[built.pk, f["name"]]) in detail
        assert f["sha256"] in detail


def test_staff_with_the_permission_download_files(client, built):
    user = User.objects.create_user("mailops", password="x", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="download_mailbatch"),
        Permission.objects.get(codename="view_mailbatch"),
    )
    ProgramAccess.objects.create(user=user, program=built.program)
    client.force_login(user)
    name = f"{built.reference}-data.csv"
    response = client.get(reverse("admin:cca_notices_mailbatch_download", args=[built.pk, name]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert b"".join(response.streaming_content).startswith(b"piece_id,sequence,")
    # Only files the batch recorded: no other name, no way out of the folder.
    other = reverse("admin:cca_notices_mailbatch_download", args=[built.pk, "other.csv"])
    assert client.get(other).status_code == 404
    escape = client.get(other.replace("other.csv", "..%2F..%2Fsettings.py"), follow=True)
    assert not escape.streaming and b"SECRET_KEY" not in escape.content


def test_staff_without_the_permission_and_anonymous_users_get_nothing(client, built):
    url = reverse(
        "admin:cca_notices_mailbatch_download", args=[built.pk, f"{built.reference}-data.csv"]
    )
    assert client.get(url).status_code == 302  # to the admin login
    user = User.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(url).status_code == 403
    assert not url.startswith("/media/")
