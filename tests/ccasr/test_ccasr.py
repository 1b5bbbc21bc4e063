import datetime as dt
import hashlib
import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Channel, Status
from accounts.services.status import Actor
from optouts.models import ServiceRequest as SR
from optouts.services.ccasr import (
    DETAIL,
    RECORD_WIDTH,
    ccasr_connects_for_enrollment,
    ccasr_requeue,
)
from optouts.services.intake import optout_submit


def submit(account, **kw):
    return optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"), **kw).request


def export(program, tmp_path, capsys=None):
    call_command("export_ccasr", "--program", program.slug, "--out", str(tmp_path))
    files = sorted(tmp_path.glob("CCASR_*.txt"))
    return files


def detail_fields(line):
    out, pos = {}, 0
    for name, width in DETAIL:
        out[name] = line[pos : pos + width].strip()
        pos += width
    return out


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
    details = [
        detail_fields(line) for line in path.read_text().splitlines() if line.startswith("D")
    ]
    assert [
        (d["request_type"], d["account_number"], int(d["cancels_request_id"])) for d in details
    ] == [("X", sent.account_number, cancel.cancels_id)]


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


def test_export_file_layout_manifest_and_exactly_once(
    make_account, program, today, tmp_path, capsys
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
    lines = raw.decode("ascii").split("\r\n")[:-1]
    assert all(len(line) == RECORD_WIDTH for line in lines)
    assert lines[0].startswith("H" + program.slug.upper())
    assert lines[-1] == (
        "T" + "0000000004" + "0000000003" + "0000000001" + "0000000000" + "0000000000"
    ).ljust(RECORD_WIDTH)
    manifest = json.loads((tmp_path / (path.name + ".manifest.json")).read_text())
    assert manifest["sha256"] == hashlib.sha256(raw).hexdigest() and manifest["records"] == 4
    details = [detail_fields(line) for line in lines[1:-1]]
    assert [d["request_type"] for d in details] == ["D", "C", "C", "C"]
    assert details[0]["effective_date"] == "20270402" and details[1]["effective_date"] == "20270402"
    assert details[1]["customer_class"] == "residential" and details[1]["record_type"] == "D"
    assert SR.objects.filter(status="exported").count() == 4
    # A second run finds nothing to send.
    call_command("export_ccasr", "--program", program.slug, "--out", str(tmp_path / "again"))
    assert "0 service requests" in capsys.readouterr().out
    assert not list((tmp_path / "again").glob("CCASR_*"))


def write_responses(tmp_path, rows):
    path = tmp_path / "responses.csv"
    path.write_text(
        "request_id,result,reason_code,reason,utility_reference\n" + "".join(f"{r}\n" for r in rows)
    )
    return path


def test_responses_accept_reject_and_the_work_queue(make_account, program, today, tmp_path, client):
    from django.contrib.auth.models import User

    a = make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    b = make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    export(program, tmp_path)
    sa, sb = SR.objects.get(account=a), SR.objects.get(account=b)
    # An unknown id rejects the whole file, naming the line; nothing is recorded.
    bad = write_responses(tmp_path, [f"{sa.pk},ACCEPTED,,,U1", "999999,ACCEPTED,,,U2"])
    with pytest.raises(CommandError, match="line 3: request_id 999999 is unknown"):
        call_command("import_ccasr_responses", str(bad))
    assert SR.objects.get(pk=sa.pk).status == "exported"
    good = write_responses(
        tmp_path,
        [f"{sa.pk},ACCEPTED,,,U1", f"{sb.pk},REJECTED,E17,Account not found at the utility,"],
    )
    call_command("import_ccasr_responses", str(good))
    sa.refresh_from_db(), sb.refresh_from_db()
    assert (sa.status, sa.utility_reference) == ("accepted", "U1")
    assert (sb.status, sb.rejection_code, sb.rejection_reason) == (
        "rejected",
        "E17",
        "Account not found at the utility",
    )
    client.force_login(User.objects.create_superuser("root", password="pw"))
    page = client.get("/admin/optouts/servicerequest/?queue=rejected").content.decode()
    assert "Account not found at the utility" in page
    assert b.account_number in page and a.account_number not in page
    # Fixed and re-queued: sent again in the next file.
    client.post(
        "/admin/optouts/servicerequest/", {"action": "requeue", "_selected_action": [sb.pk]}
    )
    sb.refresh_from_db()
    assert sb.status == "queued" and "E17" in sb.note
    export(program, tmp_path / "next")
    sb.refresh_from_db()
    assert sb.status == "exported" and sb.times_sent == 2


def test_an_accepted_disconnect_returns_the_account_on_its_effective_date_exactly_once(
    make_account, program, today, tmp_path
):
    from optouts.tasks import optouts_daily

    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    optout = submit(account)
    account.refresh_from_db()
    opted_out = account.status
    assert opted_out == Status.OPTED_OUT_FREE
    export(program, tmp_path)
    sr = SR.objects.get(account=account)
    assert sr.effective_date == optout.effective_date and sr.effective_date > today
    call_command(
        "import_ccasr_responses", str(write_responses(tmp_path, [f"{sr.pk},ACCEPTED,,,U9"]))
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
    export(program, tmp_path)
    sr = SR.objects.get(account=account, type="disconnect")
    call_command("import_ccasr_responses", str(write_responses(tmp_path, [f"{sr.pk},ACCEPTED,,,"])))
    assert ccasr_disconnects_take_effect(today=sr.effective_date - dt.timedelta(days=1)) == {}
    account.refresh_from_db()
    assert account.status == Status.TERMINATED
    assert ccasr_disconnects_take_effect(today=sr.effective_date) == {"returned_bundled": 1}
    assert ccasr_disconnects_take_effect(today=sr.effective_date) == {}
    account.refresh_from_db()
    assert account.status == Status.RETURNED_BUNDLED


def test_requeue_leaves_non_rejected_requests_alone(make_account, program, today):
    make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    ccasr_connects_for_enrollment(program=program)
    assert ccasr_requeue(request_ids=SR.objects.values_list("pk", flat=True)) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_exports_at_once_send_each_request_once(make_account, program, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from optouts.services.ccasr import ccasr_export

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
    lines = [
        line
        for i in range(2)
        for f in (tmp_path / str(i)).glob("CCASR_*.txt")
        for line in f.read_text().splitlines()
        if line.startswith("D")
    ]
    assert len(lines) == len({line[1:11] for line in lines}) == 40
