"""A utility that generates the mass-enrollment Connects (SCE, the default): pre-enrollment
opt-outs sent before the phase, its enrollment notifications reconciled after it."""

import csv
import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Channel, Status, TradingPartner
from accounts.services.status import Actor
from accounts.services.trading_partners import trading_partner_codes
from optouts.models import EnrollmentReconciliation, FeeEntry, PreEnrollmentOptOut
from optouts.models import ReconciliationItem as Item
from optouts.models import ServiceRequest as SR
from optouts.services.ccasr import ccasr_connects_for_enrollment
from optouts.services.intake import optout_submit
from tests.ccasr.utility import committed, requests_in, write
from tests.factories import PhaseFactory

ENROLLED_ON = dt.date(2027, 4, 2)


@pytest.fixture
def phase(program):
    return PhaseFactory(
        program=program,
        name="Phase 1",
        enrollment_start=dt.date(2027, 4, 1),
        enrollment_end=dt.date(2027, 4, 30),
    )


@pytest.fixture
def accounts(make_account, phase, today, partner):
    kept = make_account(status=Status.NOTIFIED, phase=phase)
    opted = make_account(status=Status.NOTIFIED, phase=phase)
    optout_submit(account=opted, channel=Channel.WEB, actor=Actor("web"))
    missing = make_account(status=Status.NOTIFIED, phase=phase)
    make_account(status=Status.NOTIFIED, phase=phase, direct_access=True)  # never enrolled
    opted.refresh_from_db()
    return kept, opted, missing


def enrollment_csv(tmp_path, numbers):
    path = tmp_path / "enrolled.csv"
    path.write_text(
        "account_number,enrollment_date,utility_reference\n"
        + "".join(f"{n},{ENROLLED_ON},E{i}\n" for i, n in enumerate(numbers))
    )
    return path


def test_the_utility_generates_connects_so_the_cca_queues_none(accounts, program):
    assert program.trading_partner.utility_generates_connects
    assert ccasr_connects_for_enrollment(program=program) == 0
    assert not SR.objects.filter(type="connect").exists()


@pytest.mark.parametrize("form", ["csv", "edi"])
def test_preenrollment_optouts_go_once_per_phase_in_the_profile_form(
    accounts, program, tmp_path, form, capsys
):
    _, opted, _ = accounts
    program.trading_partner.preenrollment_optouts = form
    program.trading_partner.save()
    args = ["--program", program.slug, "--phase", "Phase 1", "--out", str(tmp_path)]
    with committed():
        call_command("export_preenrollment_optouts", *args)
    assert "1 pre-enrollment opt-outs written" in capsys.readouterr().out
    (path,) = [p for p in tmp_path.glob("OPTOUTS_*") if not p.name.endswith(".json")]
    if form == "csv":
        rows = list(csv.DictReader(path.read_text().splitlines()))
        assert [r["account_number"] for r in rows] == [opted.account_number]
    else:
        _, (req,) = requests_in(path)
        codes = trading_partner_codes(program.trading_partner)
        assert (req["account"], req["asi"]) == (
            opted.account_number,
            codes.pair("preenrollment_optout"),
        )
    assert PreEnrollmentOptOut.objects.get().account == opted
    call_command("export_preenrollment_optouts", *args[:4], "--out", str(tmp_path / "2"))
    assert "0 pre-enrollment opt-outs" in capsys.readouterr().out


def test_reconciliation_disconnects_flags_and_reports(accounts, program, phase, tmp_path, capsys):
    kept, opted, missing = accounts
    path = enrollment_csv(tmp_path, [kept.account_number, opted.account_number, "9999999999"])
    report = tmp_path / "report.csv"
    call_command(
        "reconcile_enrollment",
        str(path),
        "--program",
        program.slug,
        "--phase",
        "Phase 1",
        "--report",
        str(report),
    )
    out = capsys.readouterr().out
    assert (
        "3 enrolled by the utility: 1 matched, 1 opted out and disconnected (no fee), "
        "1 unknown; 1 eligible not enrolled" in out
    )
    rec = EnrollmentReconciliation.objects.get()
    items = {i.kind: i for i in rec.items.all()}
    # opted out in time, enrolled anyway: a Disconnect at once, no fee, the reason recorded
    disconnect = items[Item.Kind.OPTED_OUT_ENROLLED].service_request
    assert (disconnect.type, disconnect.source, disconnect.status, disconnect.effective_date) == (
        "disconnect",
        "reconciliation",
        "queued",
        ENROLLED_ON,
    )
    assert "opted out in time" in disconnect.note and "no fee" in disconnect.note
    assert not FeeEntry.objects.filter(account=opted).exists()
    opted.refresh_from_db()
    assert opted.status == Status.OPTED_OUT_PRE  # the registry was right
    # unknown to us, and eligible but not enrolled: flagged
    assert items[Item.Kind.UNKNOWN_ACCOUNT].account_number == "9999999999"
    assert items[Item.Kind.NOT_ENROLLED].account == missing
    # the utility's Connect is recorded for the matched account
    connect = SR.objects.get(account=kept, type="connect")
    assert (connect.source, connect.status, connect.utility_reference) == (
        "utility",
        "accepted",
        "E0",
    )
    rows = list(csv.reader(report.read_text().splitlines()))
    assert rows[0] == ["kind", "account_number", "utility_date", "service_request", "note"]
    assert {r[0] for r in rows[1:]} == {"opted_out_enrolled", "unknown_account", "not_enrolled"}
    # The same file again records nothing.
    call_command("reconcile_enrollment", str(path), "--program", program.slug)
    assert "already reconciled" in capsys.readouterr().out
    assert EnrollmentReconciliation.objects.count() == 1


def test_a_later_preenrollment_optout_cancels_the_utilitys_connect(accounts, program, tmp_path):
    kept, _, _ = accounts
    path = enrollment_csv(tmp_path, [kept.account_number])
    call_command("reconcile_enrollment", str(path), "--program", program.slug)
    optout_submit(account=kept, channel=Channel.WEB, actor=Actor("web"))
    cancel = SR.objects.get(account=kept, type="cancel")
    assert cancel.cancels == SR.objects.get(account=kept, type="connect", source="utility")


def test_the_utilitys_814_enrollment_notifications(accounts, program, tmp_path, capsys, client):
    from django.contrib.auth.models import User

    kept, opted, _ = accounts
    partner = program.trading_partner
    codes = trading_partner_codes(partner)

    def connect(a, n):
        return [
            ("814",),
            ("BGN", codes["bgn_request"], f"SCE{n}", "20270402"),
            ("LIN", f"SCE{n}", *codes["lin_service"]),
            ("ASI", *codes.pair("connect")),
            ("REF", codes["ref_account"], a.account_number),
            ("DTM", codes["dtm_effective"], f"{ENROLLED_ON:%Y%m%d}"),
        ]

    path = write(tmp_path, "enroll.x12", partner, "GE", [connect(kept, 1), connect(opted, 2)])
    call_command("reconcile_enrollment", str(path), "--program", program.slug, "--phase", "Phase 1")
    assert "2 enrolled by the utility: 1 matched, 1 opted out" in capsys.readouterr().out
    rec = EnrollmentReconciliation.objects.get()
    client.force_login(User.objects.create_superuser("root", password="pw"))
    page = client.get(f"/admin/optouts/enrollmentreconciliation/{rec.pk}/change/").content.decode()
    assert opted.account_number in page and "opted out in time" in page
    csv_page = client.get(f"/admin/optouts/enrollmentreconciliation/{rec.pk}/report.csv")
    assert csv_page.status_code == 200 and opted.account_number in csv_page.content.decode()
    bad = write(tmp_path, "bad.x12", partner, "GE", [connect(kept, 1)[:-1]], icn=9)
    with pytest.raises(CommandError, match=r"segment 5 \(LIN\): no DTM\*007"):
        call_command("reconcile_enrollment", str(bad), "--program", program.slug)
    assert EnrollmentReconciliation.objects.count() == 1


def test_a_bad_enrollment_list_is_refused_naming_the_line(accounts, program, tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("account_number,enrollment_date\n1,2027-04-02\n2,04/02/2027\n")
    with pytest.raises(CommandError, match="line 3: enrollment_date '04/02/2027'"):
        call_command("reconcile_enrollment", str(path), "--program", program.slug)
    assert not EnrollmentReconciliation.objects.exists()
    assert TradingPartner.objects.count() == 1


def test_the_utility_answers_the_edi_optout_list(accounts, program, tmp_path, capsys):
    """An 814 opt-out list is acknowledged by a 997 and answered per opt-out, quoting OPT<id>."""
    from tests.ccasr.utility import ack_set, response_set

    _, opted, _ = accounts
    partner = program.trading_partner
    partner.preenrollment_optouts = "edi"
    partner.save()
    with committed():
        call_command(
            "export_preenrollment_optouts", "--program", program.slug, "--out", str(tmp_path)
        )
    (path,) = tmp_path.glob("OPTOUTS_*.x12")
    _, (req,) = requests_in(path)
    sent = PreEnrollmentOptOut.objects.get()
    assert sent.account == opted and req["account"] == opted.account_number
    assert req["reference"] == sent.reference == f"OPT{sent.optout_id}"
    ack = write(tmp_path, "997.x12", partner, "FA", [ack_set(sent.export)], icn=800)
    call_command("import_ccasr_responses", str(ack))
    sent.export.refresh_from_db()
    assert sent.export.ack_status == "A"
    answer = write(
        tmp_path, "r.x12", partner, "GE", [response_set(partner, req, accept=False)], icn=801
    )
    call_command("import_ccasr_responses", str(answer))
    assert "pre-enrollment opt-outs: 0 accepted, 1 rejected" in capsys.readouterr().out
    sent.refresh_from_db()
    assert (sent.accepted, sent.rejection_code, sent.response_file) == (False, "A13", "r.x12")
