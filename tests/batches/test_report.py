"""import_mail_house_report: mailed confirmations and returns by piece ID."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ServiceAccount, Status
from cca_notices.models import MailBatch, Notice
from cca_notices.services.batches import mail_batch_build
from tests.batches.conftest import MAIL_DATE

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(program, make_account, notice_for, tmp_path):
    a = make_account(customer_name="ANA A", mailing_address="1 ELM ST")
    b = make_account(customer_name="BEN B", mailing_address="2 ELM ST")
    twin = make_account(customer_name="BEN B", mailing_address="2 ELM ST")
    for acc in (a, b, twin):
        notice_for(acc)
    result = mail_batch_build(
        program=program,
        kind="pre_enrollment_1",
        mail_date=MAIL_DATE,
        out_dir=tmp_path,
        actor_name="t",
    )
    return result.batch


def pieces(batch):
    return dict(
        Notice.objects.filter(batch=batch, merged_into__isnull=True).values_list(
            "account__customer_name", "piece_id"
        )
    )


def write(tmp_path, lines, name="report.csv"):
    path = tmp_path / name
    path.write_text(
        "piece_id,event,date,reason\n" + "".join(line + "\n" for line in lines), encoding="utf-8"
    )
    return str(path)


def test_mailed_and_returned_update_the_notices_and_flag_address_repair(batch, tmp_path, capsys):
    p = pieces(batch)
    report = write(
        tmp_path,
        [
            f"{p['ANA A']},mailed,2027-01-08,",
            f"{p['BEN B']},mailed,2027-01-08,",
            f"{p['BEN B']},returned,2027-01-20,insufficient address",
        ],
    )
    call_command("import_mail_house_report", report)
    assert "notices mailed: 3" in capsys.readouterr().out
    ana = Notice.objects.get(piece_id=p["ANA A"])
    assert ana.status == Notice.Status.MAILED and ana.mailed_on == dt.date(2027, 1, 8)
    assert ana.account.status == Status.NOTIFIED and not ana.account.address_needs_repair
    # Both notices of the merged piece came back; both accounts need their address repaired.
    ben = Notice.objects.filter(piece_id=p["BEN B"])
    assert ben.count() == 2
    for notice in ben:
        assert notice.status == Notice.Status.RETURNED and notice.mailed_on == dt.date(2027, 1, 8)
        assert notice.return_reason == "insufficient address" and notice.return_date == dt.date(
            2027, 1, 20
        )
        assert notice.account.address_needs_repair
    assert MailBatch.objects.get(pk=batch.pk).mailed_at is not None


def test_importing_again_and_repeated_lines_change_nothing(batch, tmp_path, capsys):
    p = pieces(batch)
    line = f"{p['ANA A']},mailed,2027-01-08,"
    report = write(
        tmp_path, [line, line, f"{p['ANA A']},returned,2027-01-21,moved left no address"]
    )
    call_command("import_mail_house_report", report)
    first = capsys.readouterr().out
    assert "repeated lines: 1" in first
    before = list(
        Notice.objects.order_by("pk").values_list(
            "status", "mailed_on", "return_date", "updated_at"
        )
    )
    call_command("import_mail_house_report", report)
    out = capsys.readouterr().out
    assert (
        "notices mailed: 0" in out and "notices returned: 0" in out and "already recorded: 2" in out
    )
    assert (
        list(
            Notice.objects.order_by("pk").values_list(
                "status", "mailed_on", "return_date", "updated_at"
            )
        )
        == before
    )


def test_unknown_piece_ids_are_listed_with_line_numbers_and_nothing_is_applied(batch, tmp_path):
    p = pieces(batch)
    report = write(
        tmp_path,
        [
            f"{p['ANA A']},mailed,2027-01-08,",
            "00270901234999999999,mailed,2027-01-08,",
            "12345,returned,2027-01-09,vacant",
        ],
    )
    with pytest.raises(CommandError) as err:
        call_command("import_mail_house_report", report)
    assert "line 3: unknown piece_id '00270901234999999999'" in str(err.value)
    assert "line 4: unknown piece_id '12345'" in str(err.value)
    assert not Notice.objects.filter(status=Notice.Status.MAILED).exists()
    assert not ServiceAccount.objects.filter(status=Status.NOTIFIED).exists()


def test_allow_unknown_applies_the_known_pieces(batch, tmp_path, capsys):
    p = pieces(batch)
    report = write(
        tmp_path, [f"{p['ANA A']},mailed,2027-01-08,", "00270901234999999999,mailed,2027-01-08,"]
    )
    call_command("import_mail_house_report", report, "--allow-unknown")
    captured = capsys.readouterr()
    assert "line 3: unknown piece_id" in captured.err and "unknown piece IDs: 1" in captured.out
    assert Notice.objects.get(piece_id=p["ANA A"]).status == Notice.Status.MAILED


def test_a_return_without_confirmation_counts_as_mailed_on_the_batch_date(batch, tmp_path):
    p = pieces(batch)
    # Full IMb digits (tracking + ZIP) as some mail houses report them.
    call_command(
        "import_mail_house_report",
        write(tmp_path, [f"{p['ANA A']}92590,returned,2027-01-20,no such number"]),
    )
    notice = Notice.objects.get(piece_id=p["ANA A"])
    assert notice.status == Notice.Status.RETURNED and notice.mailed_on == MAIL_DATE


def test_bad_lines_are_named_and_nothing_is_applied(batch, tmp_path):
    p = pieces(batch)
    report = write(
        tmp_path,
        [
            f"{p['ANA A']},mailed,2027-01-08,",
            f"{p['BEN B']},delivered,2027-01-08,",
            f"{p['BEN B']},returned,20/01/2027,",
            f"{p['BEN B']},returned,2027-01-20,",
        ],
    )
    with pytest.raises(CommandError) as err:
        call_command("import_mail_house_report", report)
    message = str(err.value)
    assert "line 3: event 'delivered'" in message
    assert "line 4: date '20/01/2027' is not YYYY-MM-DD" in message
    assert "line 5: reason is required" in message
    assert not Notice.objects.filter(status=Notice.Status.MAILED).exists()
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("piece,when\n1,2\n", encoding="utf-8")
    with pytest.raises(CommandError, match="missing column"):
        call_command("import_mail_house_report", str(bad_header))
