"""Downloads of customer data: refused without their permission, recorded (who, when, what)."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.urls import reverse

from accounts.audit_log import AuditEntry
from accounts.models import Channel, ImportRun, Status
from accounts.services.status import Actor
from cca_notices.models import MailBatch
from optouts.models import Confirmation
from optouts.services.intake import optout_submit
from tests.factories import grant_programs

pytestmark = pytest.mark.django_db
ACCESS = AuditEntry.Action.ACCESS


def staff_with(*codenames):
    user = grant_programs(
        User.objects.create_user(f"u{len(codenames)}", password="pw", is_staff=True)
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)


def accesses(what):
    return AuditEntry.objects.filter(action=ACCESS, additional_data__access=what)


def test_a_reject_file_needs_the_export_permission_and_is_recorded(client, program, tmp_path):
    rejects = tmp_path / "eligible.rejects.csv"
    rejects.write_text("line,column,reason\n7,phone,not a telephone number\n")
    run = ImportRun.objects.create(
        program=program, kind="accounts", file_name="eligible.csv", actor="ops", reject_file=rejects
    )
    url = reverse("admin:accounts_importrun_reject_file", args=[run.pk])
    client.force_login(staff_with("view_importrun"))
    assert client.get(url).status_code == 403
    assert not accesses("import reject file").exists()
    user = staff_with("view_importrun", "export_customer_data")
    client.force_login(user)
    served = client.get(url)
    assert served.status_code == 200 and b"telephone" in b"".join(served.streaming_content)
    e = accesses("import reject file").get()
    assert (e.actor, e.channel, e.object_pk) == (user, "admin", str(run.pk))
    assert e.timestamp is not None


def test_a_mail_batch_file_needs_the_download_permission_and_is_recorded(client, program, tmp_path):
    (tmp_path / "B1-data.csv").write_text("piece_id\n1\n")
    batch = MailBatch.objects.create(
        program=program,
        kind="pre_enrollment_1",
        mail_date=dt.date(2027, 3, 10),
        reference="B1",
        created_by="ops",
        folder=str(tmp_path),
        meta={"files": [{"name": "B1-data.csv", "type": "data"}]},
    )
    url = reverse("admin:cca_notices_mailbatch_download", args=[batch.pk, "B1-data.csv"])
    client.force_login(staff_with("view_mailbatch"))
    assert client.get(url).status_code == 403
    user = staff_with("view_mailbatch", "download_mailbatch")
    client.force_login(user)
    served = client.get(url)
    assert served.status_code == 200 and b"piece_id" in b"".join(served.streaming_content)
    e = accesses("mail batch file").get()
    assert e.actor == user and e.additional_data["file"] == "B1-data.csv"


def test_a_confirmation_letter_is_recorded_when_served(client, make_account, today):
    account = make_account(status=Status.NOTIFIED, email="")
    optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"))
    conf = Confirmation.objects.get(account=account)
    Confirmation.objects.filter(pk=conf.pk).update(letter_pdf=b"%PDF-1.4 x", letter_sha256="0" * 64)
    url = reverse("admin:optouts_confirmation_pdf", args=[conf.pk])
    client.force_login(staff_with())
    assert client.get(url).status_code == 403
    user = staff_with("view_confirmation")
    client.force_login(user)
    assert client.get(url).status_code == 200
    e = accesses("confirmation letter").get()
    assert e.actor == user and e.account_id == account.pk


def test_the_fee_and_notice_schedule_exports_are_recorded(make_account, program, today, tmp_path):
    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"))
    call_command("export_fees", "--program", program.slug, "--out", str(tmp_path / "fees.csv"))
    assert accesses("fee export file").get().additional_data["file"] == "fees.csv"
    call_command(
        "export_notice_schedule", "--program", program.slug, "--out", str(tmp_path / "n.csv")
    )
    assert accesses("notice schedule export").get().object_pk == str(program.pk)


def test_the_download_decorator_records_only_what_was_served(rf, make_account):
    """The letter preview and the notice certificate use it with their own permission check."""
    from django.core.exceptions import PermissionDenied
    from django.http import HttpResponse

    from accounts.admin_downloads import customer_data_download
    from accounts.models import ServiceAccount

    account = make_account()

    @customer_data_download("letter preview", model=ServiceAccount, pk_kwarg="account_id")
    def view(request, account_id, kind):
        return HttpResponse(status=200 if kind == "ok" else 404)

    request = rf.get("/x")
    request.user = staff_with()
    with pytest.raises(PermissionDenied):
        view(request, account_id=account.pk, kind="ok")
    request.user = staff_with("export_customer_data")
    view(request, account_id=account.pk, kind="missing")
    assert not accesses("letter preview").exists()  # a 404 sent nothing
    view(request, account_id=account.pk, kind="ok")
    e = accesses("letter preview").get()
    assert e.account_id == account.pk and e.additional_data["kind"] == "ok"


def test_the_reconciliation_csv_is_scoped_limited_and_recorded(client, program):
    """It lists account numbers: the export permission, the user's programs, an access entry."""
    from django.utils import timezone

    from optouts.models import EnrollmentReconciliation
    from tests.factories import ProgramFactory

    def reconciliation(of):
        return EnrollmentReconciliation.objects.create(
            program=of,
            file_name="enroll.x12",
            sha256="0" * 64,
            created_at=timezone.now(),
            actor_name="ops",
        )

    viewer = staff_with("view_enrollmentreconciliation")
    exporter = staff_with("view_enrollmentreconciliation", "export_customer_data")
    mine = reconciliation(program)
    theirs = reconciliation(ProgramFactory(slug="other"))  # granted to neither user

    def url(rec):
        return reverse("admin:optouts_reconciliation_csv", args=[rec.pk])

    client.force_login(viewer)
    assert client.get(url(mine)).status_code == 403  # viewing is not downloading
    assert not accesses("enrollment reconciliation CSV").exists()
    client.force_login(exporter)
    assert client.get(url(theirs)).status_code == 404  # not one of this user's programs
    assert client.get(url(mine)).status_code == 200
    (entry,) = accesses("enrollment reconciliation CSV")
    assert entry.object_pk == str(mine.pk) and entry.actor.username == "u2"
