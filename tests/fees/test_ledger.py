import csv
import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from accounts.models import Channel, Status
from accounts.services.status import Actor
from optouts.models import FeeEntry, OptOutRequest
from optouts.services.fees import fee_entry_waive
from optouts.services.intake import optout_submit
from optouts.services.waivers import optout_fee_waive


def submit(account, **kw):
    return optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"), **kw).request


def test_after_free_window_assesses_one_entry_from_the_schedule_in_force(terminate, program):
    optout = terminate()
    entry = FeeEntry.objects.get()
    assert entry.optout == optout and entry.kind == "termination" and entry.status == "assessed"
    assert (
        entry.amount == Decimal("6.25")
        and entry.admin_fee == Decimal("5.00")
        and entry.cost_recovery_charge == Decimal("1.25")
    )
    assert entry.fee_schedule.effective_from == dt.date(2027, 1, 1)
    assert entry.assessed_on == optout.request_date


@pytest.mark.parametrize(
    "status,enrolled,moving_out",
    [
        (Status.NOTIFIED, None, False),  # before enrollment
        (Status.ENROLLED, dt.date(2027, 2, 2), False),  # inside the free window
        (Status.PARTICIPANT, dt.date(2026, 6, 2), True),  # moving out
    ],
)
def test_no_fee_before_enrollment_in_the_free_window_or_on_a_move_out(
    make_account, today, status, enrolled, moving_out
):
    account = make_account(status=status, enrollment_date=enrolled)
    optout = submit(account, moving_out=moving_out)
    assert optout.outcome in ("before_enrollment", "free_window", "moved_out")
    assert not FeeEntry.objects.exists()


def test_the_database_allows_one_entry_per_optout(terminate):
    entry = FeeEntry.objects.get(optout=terminate())
    entry.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        entry.save()


def test_an_agent_cannot_waive_a_supervisor_can_with_a_reason(terminate, staff):
    optout = terminate()
    entry = FeeEntry.objects.get()
    with pytest.raises(PermissionDenied):
        fee_entry_waive(entry=entry, user=staff["agent"], reason="goodwill")
    with pytest.raises(ValueError, match="reason"):
        fee_entry_waive(entry=entry, user=staff["supervisor"], reason="  ")
    optout_fee_waive(
        optout=optout, user=staff["supervisor"], reason="moved in with a relative, hardship"
    )
    entry.refresh_from_db()
    assert (
        entry.status == "waived"
        and entry.waived_by == staff["supervisor"]
        and entry.waiver_reason.startswith("moved")
    )
    assert OptOutRequest.objects.get(
        pk=optout.pk
    ).fee_waived  # the agent screen's view stays in step


def read_export(path):
    lines = path.read_text().splitlines()
    rows = list(csv.reader(lines))
    return lines, rows


def test_export_fees_writes_each_entry_once_with_a_trailer(
    terminate, program, staff, tmp_path, capsys, django_capture_on_commit_callbacks
):
    from accounts.models import FeeSchedule

    FeeSchedule.objects.create(
        program=program,
        customer_class="large_commercial",
        effective_from=dt.date(2026, 1, 1),
        admin_fee=Decimal("25.00"),
    )
    first, second, waived = terminate(), terminate(customer_class="large_commercial"), terminate()
    fee_entry_waive(entry=waived.fee_entry, user=staff["supervisor"], reason="billing error")
    out = tmp_path / "fees.csv"
    with django_capture_on_commit_callbacks(execute=True):  # the file takes its name on commit
        call_command("export_fees", "--program", program.slug, "--out", str(out))
    assert "2 fee entries, total $31.25" in capsys.readouterr().out
    lines, rows = read_export(out)
    assert rows[0][:4] == ["record_type", "entry_id", "account_number", "customer_class"]
    data = [r for r in rows if r[0] == "D"]
    assert {r[2] for r in data} == {first.account.account_number, second.account.account_number}
    assert next(r for r in data if r[2] == second.account.account_number)[3:9] == [
        "large_commercial",
        "termination",
        "25.00",
        "25.00",
        "0.00",
        "2026-01-01",
    ]
    assert next(r for r in data if r[2] == first.account.account_number)[5] == "6.25"
    trailer = rows[-1]
    assert trailer[0] == "T" and trailer[1] == "2"
    assert Decimal(trailer[2]) == sum(Decimal(r[5]) for r in data)
    body = "".join(line + "\n" for line in lines[1:-1])
    assert trailer[3] == hashlib.sha256(body.encode()).hexdigest()
    assert set(FeeEntry.objects.values_list("status", flat=True)) == {"exported", "waived"}
    # Running again exports nothing new and writes no file.
    again = tmp_path / "again.csv"
    call_command("export_fees", "--program", program.slug, "--out", str(again))
    assert not again.exists()
    assert "0 fee entries" in capsys.readouterr().out


def test_export_fees_names_a_bad_program(db):
    with pytest.raises(CommandError, match="--program"):
        call_command("export_fees", "--program", "nope", "--out", "x.csv")


def test_an_exported_entry_cannot_be_waived_only_credited(terminate, program, staff, tmp_path):
    terminate()
    call_command("export_fees", "--program", program.slug, "--out", str(tmp_path / "f.csv"))
    with pytest.raises(ValueError, match="credit"):
        fee_entry_waive(entry=FeeEntry.objects.get(), user=staff["supervisor"], reason="x")


def test_billing_confirmation_marks_billed_and_bad_lines_are_named(terminate, program, tmp_path):
    optout = terminate()
    call_command("export_fees", "--program", program.slug, "--out", str(tmp_path / "f.csv"))
    entry = FeeEntry.objects.get()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"entry_id,account_number,amount,billed_on,billing_reference\n{entry.pk},{optout.account.account_number},9.99,2027-04-01,B1\n"
    )
    with pytest.raises(CommandError, match="line 2: amount"):
        call_command("import_fee_billing", str(bad))
    assert FeeEntry.objects.get().status == "exported"
    good = tmp_path / "good.csv"
    good.write_text(
        f"entry_id,account_number,amount,billed_on,billing_reference\n{entry.pk},{optout.account.account_number},6.25,2027-04-01,B1\n"
    )
    call_command("import_fee_billing", str(good))
    entry.refresh_from_db()
    assert (
        entry.status == "billed"
        and entry.billed_on == dt.date(2027, 4, 1)
        and entry.billing_reference == "B1"
    )


def test_a_rejoining_large_customer_gets_an_entry_fee_in_the_ledger(make_account, program, today):
    from optouts.services.rejoin import rejoin_submit

    program.large_customer_entry_fee = Decimal("150.00")
    program.save()
    account = make_account(status=Status.OPTED_OUT_PRE, customer_class="industrial")
    rejoin = rejoin_submit(account=account, channel=Channel.PHONE, actor=Actor("agent"))
    entry = FeeEntry.objects.get(rejoin=rejoin)
    assert entry.kind == "entry" and entry.amount == Decimal("150.00")


def test_admin_ledger_and_queues_render(client, terminate, staff, today):
    from django.contrib.auth.models import User

    terminate()
    admin_user = User.objects.create_superuser("root", password="pw")
    client.force_login(admin_user)
    for url in (
        "/admin/optouts/feeentry/",
        "/admin/optouts/servicerequest/?queue=rejected",
        "/admin/optouts/confirmation/",
        "/admin/optouts/reentryrequest/",
        "/admin/optouts/rejoinrequest/",
        "/admin/optouts/optoutrequest/",
        "/admin/optouts/move/",
        "/admin/optouts/feeexport/",
    ):
        assert client.get(url).status_code == 200, url
    body = client.get("/admin/optouts/optoutrequest/").content.decode()
    assert "Termination: e-mail" in body  # which confirmation went out, how
    client.force_login(staff["agent"])
    assert "mark_billed" not in client.get("/admin/optouts/feeentry/").content.decode()


def test_a_fee_file_appears_only_once_its_claim_committed(
    terminate, program, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    from optouts.services import fees

    terminate()
    out = tmp_path / "fees.csv"
    # The run fails after the file is staged: no file the billing system reads, nothing claimed.
    staged = fees.stage_for_commit

    def stage_then_fail(path, data):
        staged(path, data)
        raise OSError("disk gone")

    monkeypatch.setattr(fees, "stage_for_commit", stage_then_fail)
    with pytest.raises(OSError), django_capture_on_commit_callbacks(execute=True):
        fees.fees_export(program=program, out=out, actor_name="t")
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    assert (tmp_path / ".fees.csv.part").exists()  # left hidden; no committed export names it
    assert FeeEntry.objects.get().status == "assessed"
    monkeypatch.undo()
    # Committed but killed before the rename (the commit callbacks never ran): staged, hidden.
    result = fees.fees_export(program=program, out=out, actor_name="t")
    assert not out.exists() and FeeEntry.objects.get().status == "exported"
    # The next run publishes it, byte for byte what was recorded, and exports nothing twice.
    again = fees.fees_export(program=program, out=tmp_path / "next.csv", actor_name="t")
    assert again.export is None and out.exists()
    lines, rows = read_export(out)
    assert rows[-1][3] == result.export.sha256
    assert hashlib.sha256("".join(x + "\n" for x in lines[1:-1]).encode()).hexdigest() == (
        result.export.sha256
    )
