import csv
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from accounts.services.status import Actor
from cca_notices.certificate import notice_certificate_data, notice_certificate_generate
from cca_notices.models import MailBatch, Notice
from cca_notices.services.lifecycle import (
    notice_mark_batched,
    notice_mark_mailed,
    notice_mark_returned,
)
from tests.factories import ServiceAccountFactory

D = dt.date


@pytest.fixture
def accounts(program, phase, reads):
    return [
        ServiceAccountFactory(
            program=program, phase=phase, read_cycle=1, account_number="3000000001"
        ),
        ServiceAccountFactory(
            program=program, phase=phase, read_cycle=2, account_number="3000000002"
        ),
    ]


def test_schedule_notices_prints_counts(program, accounts):
    out = io.StringIO()
    call_command("schedule_notices", "--program", "marin", stdout=out)
    assert out.getvalue().startswith("marin: 8 notices created, 0 rescheduled, 0 cancelled")
    out = io.StringIO()
    call_command("schedule_notices", "--program", "marin", "--phase", "Phase 1", stdout=out)
    assert out.getvalue().startswith("marin: 0 notices created, 0 rescheduled")


def test_schedule_notices_exits_non_zero_naming_what_is_wrong(program, accounts, phase):
    with pytest.raises(
        CommandError, match=r"--program: no program with slug 'nope' \(known: marin\)"
    ):
        call_command("schedule_notices", "--program", "nope")
    with pytest.raises(
        CommandError, match=r"--phase: program marin has no phase 'Phase 9' \(known: Phase 1\)"
    ):
        call_command("schedule_notices", "--program", "marin", "--phase", "Phase 9")
    ServiceAccountFactory(program=program, phase=phase, read_cycle=3)
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 accounts could not be scheduled"):
        call_command("schedule_notices", "--program", "marin", stdout=io.StringIO(), stderr=err)
    assert "phase Phase 1, read cycle 3 (1 accounts): no meter read for cycle 3" in err.getvalue()
    # The others were scheduled all the same.
    assert Notice.objects.count() == 8


def test_export_notice_schedule(program, accounts, tmp_path):
    call_command("schedule_notices", "--program", "marin", stdout=io.StringIO())
    out = tmp_path / "schedule.csv"
    msg = io.StringIO()
    call_command("export_notice_schedule", "--program", "marin", "--out", str(out), stdout=msg)
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["account_number", "enrollment_date", "kind", "mail_date", "status"]
    assert rows[1:5] == [
        ["3000000001", "2027-03-02", "pre_enrollment_1", "2027-01-04", "scheduled"],
        ["3000000001", "2027-03-02", "pre_enrollment_2", "2027-02-01", "scheduled"],
        ["3000000001", "2027-03-02", "post_enrollment_1", "2027-03-05", "scheduled"],
        ["3000000001", "2027-03-02", "post_enrollment_2", "2027-04-05", "scheduled"],
    ]
    assert len(rows) == 9
    assert msg.getvalue().strip() == f"{out}: 8 notices of marin"
    with pytest.raises(CommandError, match=r"--out: folder .* does not exist"):
        call_command(
            "export_notice_schedule", "--program", "marin", "--out", str(tmp_path / "no" / "x.csv")
        )


def _mail_and_return(program, account):
    notice = Notice.objects.get(account=account, kind="pre_enrollment_1")
    batch = MailBatch.objects.create(
        program=program,
        kind="pre_enrollment_1",
        mail_date=D(2027, 1, 4),
        reference="MB-2027-0001",
        created_by="ops",
    )
    notice_mark_batched(
        batch=batch, notice_ids=[notice.pk], piece_ids={notice.pk: "00700901234567000001"}
    )
    notice_mark_mailed(notice_ids=[notice.pk], mailed_on=D(2027, 1, 4), actor=Actor("mail house"))
    notice_mark_returned(
        notice_ids=[notice.pk],
        return_date=D(2027, 1, 18),
        reason="Vacant",
        actor=Actor("mail house"),
    )


def test_certificate_data_and_pdf(program, accounts):
    call_command("schedule_notices", "--program", "marin", stdout=io.StringIO())
    a = accounts[0]
    _mail_and_return(program, a)
    data = notice_certificate_data(account=a, issued_by="clerk")
    assert [(n.kind, n.status, n.piece_id) for n in data["notices"]][:2] == [
        ("pre_enrollment_1", "returned", "00700901234567000001"),
        ("pre_enrollment_2", "scheduled", ""),
    ]
    assert (data["enrollment_date"], data["mailed"], data["returned"], data["violations"]) == (
        D(2027, 3, 2),
        1,
        1,
        [],
    )
    assert data["rule_set"].code == "ca_rule23"
    doc = notice_certificate_generate(account=a, issued_by="clerk")
    assert doc.content.startswith(b"%PDF")
    assert doc.name.startswith("notice-certificate-marin-3000000001-")
    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(doc.content)).pages[0].extract_text()
    assert (
        "MB-2027-0001" in text
        and "Vacant" in text
        and "Every notice meets California Rule 23" in text
    )


def test_admin_shows_notices_and_serves_the_certificate(program, accounts, admin_client):
    call_command("schedule_notices", "--program", "marin", stdout=io.StringIO())
    a = accounts[0]
    _mail_and_return(program, a)
    page = admin_client.get("/admin/cca_notices/notice/?status__exact=returned")
    assert page.status_code == 200
    assert b"00700901234567000001" in page.content and b"3000000002" not in page.content
    page = admin_client.get(f"/admin/cca_notices/accountnotices/{a.pk}/change/")
    assert page.status_code == 200
    assert b"MB-2027-0001" in page.content and b"Vacant" in page.content
    pdf = admin_client.get(f"/admin/cca_notices/notice/certificate/{a.pk}/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_certificate_needs_staff(client, accounts):
    response = client.get(f"/admin/cca_notices/notice/certificate/{accounts[0].pk}/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
