import datetime as dt
import hashlib
import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Channel, Status
from accounts.services.status import Actor
from optouts.models import ServiceRequest as SR
from optouts.services.ccasr import ccasr_connects_for_enrollment, ccasr_resend
from optouts.services.intake import optout_submit
from tests.ccasr.utility import committed, requests_in, response_set, write

pytestmark = pytest.mark.usefixtures("cca_sends")


def submit(account, **kw):
    return optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"), **kw).request


def export(program, tmp_path, capsys=None):
    with committed():
        call_command("export_ccasr", "--program", program.slug, "--out", str(tmp_path))
    files = sorted(tmp_path.glob("CCASR_*.x12"))
    return files


def test_mass_enrollment_queues_one_connect_per_account_within_the_lead_time(
    make_account, program, today
):
    soon = make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    enrolled = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 3, 2))
    make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 9, 2))  # too far ahead
    make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2), direct_access=True)
    assert ccasr_connects_for_enrollment(program=program) == 2
    assert ccasr_connects_for_enrollment(program=program) == 0  # set-based and idempotent
    assert set(SR.objects.values_list("account_id", "type", "effective_date")) == {
        (soon.pk, "connect", dt.date(2027, 4, 2)),
        (enrolled.pk, "connect", dt.date(2027, 3, 2)),
    }


def test_pre_enrollment_optout_withdraws_an_unsent_connect_and_cancels_a_sent_one(
    make_account, program, today, tmp_path
):
    unsent = make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    sent = make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    ccasr_connects_for_enrollment(program=program)
    SR.objects.filter(account=sent).update(status=SR.Status.EXPORTED)
    submit(unsent)
    submit(sent)
    assert SR.objects.get(account=unsent).status == "withdrawn"
    assert not SR.objects.filter(account=unsent, type="cancel").exists()
    cancel = SR.objects.get(account=sent, type="cancel")
    assert (
        cancel.cancels == SR.objects.get(account=sent, type="connect") and cancel.status == "queued"
    )
    # The withdrawn Connect is never in a file; the Cancel is, pointing at the Connect it cancels.
    (path,) = export(program, tmp_path)
    _, sets = requests_in(path)
    assert [(d["asi"], d["account"], d["cancels"]) for d in sets] == [
        (("7", "002"), sent.account_number, str(cancel.cancels_id))
    ]


def test_an_optout_after_enrollment_queues_a_disconnect_on_the_effective_read(make_account, today):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    optout = submit(account)
    sr = SR.objects.get(account=account)
    assert (sr.type, sr.source, sr.effective_date, sr.optout) == (
        "disconnect",
        "optout",
        optout.effective_date,
        optout,
    )
    assert sr.effective_date == dt.date(2027, 4, 2)


def test_the_retention_switch_queues_an_update(make_account, program, today):
    from accounts.models import Product
    from optouts.services.retention import retention_accept

    deep = Product.objects.get(code="deep-green")
    account = make_account(
        status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 6, 2), product=deep
    )
    retention_accept(account=account, channel=Channel.WEB)
    sr = SR.objects.get(account=account)
    assert (sr.type, sr.product_code, sr.source) == ("update", "light-green", "product_change")


def test_export_interchange_manifest_and_exactly_once(
    make_account, program, today, tmp_path, capsys, cca_sends
):
    for _ in range(3):
        make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    submit(make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2)))
    (path,) = export(program, tmp_path)
    assert (
        "4 service requests (3 connect, 1 disconnect, 0 update, 0 cancel)"
        in capsys.readouterr().out
    )
    raw = path.read_bytes()
    ic, sets = requests_in(path)
    assert (ic.sender_id, ic.receiver_id, ic.usage) == ("CLEAN", "SCE", "T")
    assert ic.control_number == "000000001" and ic.groups[0].version == "004010"
    manifest = json.loads((tmp_path / (path.name + ".manifest.json")).read_text())
    assert manifest["sha256"] == hashlib.sha256(raw).hexdigest() and manifest["records"] == 4
    assert manifest["interchange_control_number"] == 1
    assert [d["asi"] for d in sets] == [("7", "024")] + [("7", "021")] * 3
    assert sets[0]["effective"] == "20270402" and sets[1]["effective"] == "20270402"
    assert [d["reference"] for d in sets] == [
        str(pk) for pk in SR.objects.order_by("pk").values_list("pk", flat=True)
    ]
    assert sets[1]["product"] is None or sets[1]["product"] == "LIGHT-GREEN"
    assert SR.objects.filter(status="exported").count() == 4
    # A second run finds nothing to send.
    call_command("export_ccasr", "--program", program.slug, "--out", str(tmp_path / "again"))
    assert "0 service requests" in capsys.readouterr().out
    assert not list((tmp_path / "again").glob("CCASR_*"))


def test_responses_accept_reject_and_the_work_queue(
    make_account, program, today, tmp_path, client, cca_sends
):
    from django.contrib.auth.models import User

    a = make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    b = make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    (path,) = export(program, tmp_path)
    _, (ra, rb) = requests_in(path)
    sa, sb = SR.objects.get(account=a), SR.objects.get(account=b)
    assert (ra["reference"], rb["reference"]) == (str(sa.pk), str(sb.pk))
    # An unknown reference rejects the whole file, naming the segment; nothing is recorded.
    bad = write(
        tmp_path,
        "bad.x12",
        cca_sends,
        "GE",
        [response_set(cca_sends, ra), response_set(cca_sends, rb, ref="999999")],
    )
    with pytest.raises(CommandError, match=r"segment \d+ \(REF\): reference '999999' is unknown"):
        call_command("import_ccasr_responses", str(bad))
    assert SR.objects.get(pk=sa.pk).status == "exported"
    good = write(
        tmp_path,
        "good.x12",
        cca_sends,
        "GE",
        [
            response_set(cca_sends, ra),
            response_set(cca_sends, rb, accept=False, code="A13", text="Account not found"),
        ],
        icn=502,
    )
    call_command("import_ccasr_responses", str(good))
    sa.refresh_from_db(), sb.refresh_from_db()
    assert (sa.status, sa.utility_reference) == ("accepted", f"U{sa.pk}")
    assert (sb.status, sb.rejection_code, sb.rejection_reason) == (
        "rejected",
        "A13",
        "Account not found",
    )
    client.force_login(User.objects.create_superuser("root", password="pw"))
    page = client.get("/admin/optouts/servicerequest/?queue=rejected").content.decode()
    assert "Account not found" in page
    assert b.account_number in page and a.account_number not in page
    # Corrected and sent again: a new request superseding the rejected one, in the next file.
    confirm = client.post(
        "/admin/optouts/servicerequest/", {"action": "resend", "_selected_action": [sb.pk]}
    )
    assert "Send again" in confirm.content.decode() and "A13" in confirm.content.decode()
    client.post(
        "/admin/optouts/servicerequest/",
        {"action": "resend", "_selected_action": [sb.pk], "apply": "1", "note": "fixed"},
    )
    new = SR.objects.get(resends=sb)
    assert (new.status, new.type, new.account_id, new.effective_date) == (
        "queued",
        "connect",
        b.pk,
        sb.effective_date,
    )
    assert "A13" in new.note and f"#{new.pk}" in SR.objects.get(pk=sb.pk).note
    page = client.get("/admin/optouts/servicerequest/?queue=rejected").content.decode()
    assert b.account_number not in page  # sent again: off the work queue
    (nxt,) = export(program, tmp_path / "next")
    _, (again,) = requests_in(nxt)
    assert again["reference"] == str(new.pk) and again["account"] == b.account_number
    new.refresh_from_db()
    assert new.status == "exported" and new.times_sent == 1


def test_an_accepted_disconnect_returns_the_account_on_its_effective_date_exactly_once(
    make_account, program, today, tmp_path
):
    from optouts.tasks import optouts_daily

    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    optout = submit(account)
    account.refresh_from_db()
    opted_out = account.status
    assert opted_out == Status.OPTED_OUT_FREE
    sr = SR.objects.get(account=account)
    assert sr.effective_date == optout.effective_date and sr.effective_date > today
    _, (req,) = requests_in(export(program, tmp_path)[0])
    call_command(
        "import_ccasr_responses",
        str(
            write(
                tmp_path,
                "r.x12",
                program.trading_partner,
                "GE",
                [response_set(program.trading_partner, req)],
            )
        ),
    )
    # The utility's acceptance is only recorded: the account keeps its status until the read.
    account.refresh_from_db()
    sr.refresh_from_db()
    assert (sr.status, sr.took_effect_at, account.status) == ("accepted", None, opted_out)
    optouts_daily()  # today (2027-03-10) is before the effective date
    account.refresh_from_db()
    assert account.status == opted_out
    # The beat missed the effective day itself: the first run after it catches up, once.
    later = sr.effective_date + dt.timedelta(days=3)
    from unittest import mock

    with mock.patch("accounts.services.calendar.today", lambda: later):
        first = optouts_daily()
        second = optouts_daily()
    account.refresh_from_db()
    assert account.status == Status.RETURNED_BUNDLED
    assert (first["disconnects_took_effect"], second["disconnects_took_effect"]) == (1, 0)
    changes = account.status_changes.filter(to_status=Status.RETURNED_BUNDLED)
    assert changes.count() == 1
    change = changes.get()
    assert (
        change.channel == "system"
        and f"disconnect {sr.pk}" in change.reason
        and str(sr.effective_date) in change.reason
    )


def test_a_disconnect_of_a_terminated_account_waits_for_its_read_date(
    terminate, program, today, tmp_path
):
    from optouts.services.ccasr import ccasr_disconnects_take_effect

    optout = terminate()
    account = optout.account
    (path,) = export(program, tmp_path)
    sr = SR.objects.get(account=account, type="disconnect")
    _, (req,) = requests_in(path)
    partner = program.trading_partner
    call_command(
        "import_ccasr_responses",
        str(write(tmp_path, "r.x12", partner, "GE", [response_set(partner, req)])),
    )
    assert ccasr_disconnects_take_effect(today=sr.effective_date - dt.timedelta(days=1)) == {}
    account.refresh_from_db()
    assert account.status == Status.TERMINATED
    assert ccasr_disconnects_take_effect(today=sr.effective_date) == {"returned_bundled": 1}
    assert ccasr_disconnects_take_effect(today=sr.effective_date) == {}
    account.refresh_from_db()
    assert account.status == Status.RETURNED_BUNDLED


def test_resend_leaves_non_rejected_requests_alone(make_account, program, today):
    make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    ccasr_connects_for_enrollment(program=program)
    assert ccasr_resend(request_ids=SR.objects.values_list("pk", flat=True), actor_name="t") == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_exports_at_once_send_each_request_once(make_account, program, tmp_path, cca_sends):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from optouts.services.edi_export import ccasr_export

    for _ in range(40):
        make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    ccasr_connects_for_enrollment(program=program, today=dt.date(2027, 3, 10))

    def run(i):
        try:
            return ccasr_export(
                program=program,
                out_dir=tmp_path / str(i),
                actor_name=f"t{i}",
                today=dt.date(2027, 3, 10),
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, range(2)))
    sent = sum(r.counts.get("total", 0) for r in results)
    assert sent == 40
    refs = [
        d["reference"]
        for i in range(2)
        for f in (tmp_path / str(i)).glob("CCASR_*.x12")
        for d in requests_in(f)[1]
    ]
    assert len(refs) == len(set(refs)) == 40
    numbers = [r.export.interchange_control_number for r in results if r.export]
    assert len(numbers) == len(set(numbers))
