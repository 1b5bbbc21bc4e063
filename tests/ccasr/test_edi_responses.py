"""814 out for every request type, read back; 997s and 814 responses in, every kind; each
refusal names the segment and records nothing; re-import records nothing."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Channel, Product, Status
from accounts.services import files
from accounts.services.status import Actor
from optouts.models import CcasrExport, EdiInterchangeIn
from optouts.models import ServiceRequest as SR
from optouts.services import edi_responses
from optouts.services.ccasr import ccasr_connects_for_enrollment
from optouts.services.edi_delivery import partner_folder
from optouts.services.edi_export import ccasr_export, ccasr_export_send
from optouts.services.edi_x12 import interchange_read
from optouts.services.intake import optout_submit
from optouts.services.retention import retention_accept
from tests.ccasr.utility import ack_set, committed, requests_in, response_set, write


@pytest.fixture
def sent(make_account, program, today, tmp_path, cca_sends):
    """One interchange with a request of each type: Connect, Disconnect, Update, Cancel."""
    make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))  # Connect
    optout_submit(  # Disconnect
        account=make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2)),
        channel=Channel.WEB,
        actor=Actor("web"),
    )
    deep = Product.objects.get(code="deep-green")
    retention_accept(  # Update
        account=make_account(
            status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 6, 2), product=deep
        ),
        channel=Channel.WEB,
    )
    cancelled = make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    ccasr_connects_for_enrollment(program=program)
    SR.objects.filter(account=cancelled).update(status=SR.Status.EXPORTED)
    optout_submit(account=cancelled, channel=Channel.WEB, actor=Actor("web"))  # Cancel
    with committed():
        result = ccasr_export(program=program, out_dir=tmp_path / "out", actor_name="t")
    ic, sets = requests_in(result.path)
    return result.export, ic, sets


def test_every_request_type_round_trips(sent):
    export, ic, sets = sent
    by_type = {SR.objects.get(pk=int(d["reference"])).type: d for d in sets}
    assert set(by_type) == {"connect", "disconnect", "update", "cancel"}
    assert by_type["connect"]["asi"] == ("7", "021")
    assert by_type["disconnect"]["asi"] == ("7", "024")
    assert (
        by_type["update"]["asi"] == ("7", "001") and by_type["update"]["product"] == "LIGHT-GREEN"
    )
    cancel = SR.objects.get(pk=int(by_type["cancel"]["reference"]))
    assert by_type["cancel"]["asi"] == ("7", "002")
    assert by_type["cancel"]["cancels"] == str(cancel.cancels_id)
    for d in sets:
        sr = SR.objects.get(pk=int(d["reference"]))
        assert d["account"] == sr.account.account_number
        assert d["effective"] == f"{sr.effective_date:%Y%m%d}"
        assert d["customer"].get(2) == sr.account.customer_name.upper()
    assert [d["control"] for d in sets] == ["0001", "0002", "0003", "0004"]
    assert int(ic.control_number) == export.interchange_control_number


def test_control_numbers_increase_per_partner(sent, make_account, program, tmp_path):
    export, *_ = sent
    make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    second = ccasr_export(program=program, out_dir=tmp_path / "2", actor_name="t").export
    assert second.interchange_control_number == export.interchange_control_number + 1
    assert second.group_control_number == export.group_control_number + 1
    program.trading_partner.refresh_from_db()
    assert program.trading_partner.last_interchange_control_number == 2


def test_every_response_kind_is_recorded_once(sent, tmp_path, capsys):
    export, _, sets = sent
    partner = export.program.trading_partner
    ack = write(tmp_path, "997.x12", partner, "FA", [ack_set(export)], icn=700)
    call_command("import_ccasr_responses", str(ack))
    export.refresh_from_db()
    assert (export.ack_status, export.ack_file) == ("A", "997.x12")
    answers = [response_set(partner, sets[0])] + [
        response_set(partner, d, accept=False, code="A76", text="Account not eligible")
        for d in sets[1:]
    ]
    responses = write(tmp_path, "814.x12", partner, "GE", answers, icn=701)
    with committed():
        call_command("import_ccasr_responses", str(responses))
    assert "1 accepted, 3 rejected, 0 already answered" in capsys.readouterr().out
    statuses = {d["reference"]: SR.objects.get(pk=int(d["reference"])) for d in sets}
    assert statuses[sets[0]["reference"]].status == "accepted"
    rejected = [statuses[d["reference"]] for d in sets[1:]]
    assert {(r.status, r.rejection_code, r.rejection_reason) for r in rejected} == {
        ("rejected", "A76", "Account not eligible")
    }
    # We acknowledge the utility's responses with our own 997 (not its 997: never an ack of one).
    (ours,) = (tmp_path / "exchange" / "outbound").glob("997_*.x12")
    (ic,) = interchange_read(ours.read_bytes())
    (group,) = ic.groups
    (ts,) = group.sets
    segs = {s.id: s.elements[1:] for s in ts.segments}
    assert (ic.sender_id, ic.receiver_id, group.functional_id) == ("CLEAN", "SCE", "FA")
    assert segs["AK1"] == ["GE", "501"] and segs["AK9"] == ["A", "4", "4", "4"]
    assert int(ic.control_number) == export.interchange_control_number + 1
    assert CcasrExport.objects.filter(kind="997").count() == 1
    # The same file again records nothing; a new file answering the same requests is counted.
    call_command("import_ccasr_responses", str(responses))
    assert "already imported" in capsys.readouterr().out
    again = write(tmp_path, "814b.x12", partner, "GE", [response_set(partner, sets[0])], icn=702)
    call_command("import_ccasr_responses", str(again))
    assert "0 accepted, 0 rejected, 1 already answered" in capsys.readouterr().out
    assert EdiInterchangeIn.objects.count() == 3


def test_a_997_rejecting_a_set_rejects_its_request(sent, tmp_path):
    export, _, sets = sent
    partner = export.program.trading_partner
    path = write(tmp_path, "997.x12", partner, "FA", [ack_set(export, rejected_sets=[2])])
    call_command("import_ccasr_responses", str(path))
    export.refresh_from_db()
    assert export.ack_status == "P" and "set 0002 rejected" in export.ack_note
    second = SR.objects.get(pk=int(sets[1]["reference"]))
    assert second.status == "rejected" and second.rejection_code.startswith("997")
    assert SR.objects.filter(export=export, status="exported").count() == 3


def _refused(path, match):
    before = (
        list(SR.objects.order_by("pk").values_list("status", flat=True)),
        list(CcasrExport.objects.values_list("ack_status", flat=True)),
        EdiInterchangeIn.objects.count(),
    )
    with pytest.raises(CommandError, match=match):
        call_command("import_ccasr_responses", str(path))
    after = (
        list(SR.objects.order_by("pk").values_list("status", flat=True)),
        list(CcasrExport.objects.values_list("ack_status", flat=True)),
        EdiInterchangeIn.objects.count(),
    )
    assert before == after  # nothing recorded


def test_refusals_name_the_segment_and_record_nothing(sent, tmp_path):
    export, _, sets = sent
    partner = export.program.trading_partner
    good = [response_set(partner, d) for d in sets]

    def case(name, mutate=None, sets_=None, fid="GE"):
        return write(tmp_path, name, partner, fid, sets_ or good, mutate=mutate)

    # an unknown reference (the first answer is fine: nothing of it is recorded either)
    unknown = [good[0], response_set(partner, sets[1], ref="424242")]
    _refused(case("u.x12", sets_=unknown), r"segment 15 \(REF\): reference '424242' is unknown")
    # a broken envelope: the IEA quotes another control number
    _refused(
        case("iea.x12", mutate=lambda t: t.replace("IEA*1*000000501", "IEA*1*000000999")),
        r"\(IEA\): IEA id=000000999 does not match ISA id=000000501",
    )
    # a missing trailer
    _refused(
        case("cut.x12", mutate=lambda t: t[: t.index("GE*")]),
        r"GE=501\) missing|IEA=000000501\) missing",
    )
    # counts that do not match: SE01, GE01, IEA01
    _refused(
        case("se.x12", mutate=lambda t: t.replace("SE*7*0001", "SE*9*0001", 1)),
        r"segment 9 \(SE\): SE count of 9 for SE02=0001 is wrong",
    )
    _refused(
        case("ge.x12", mutate=lambda t: t.replace("GE*4*501", "GE*3*501")),
        r"\(GE\): GE count of 3 for GE02=501 is wrong",
    )
    _refused(
        case("ieacount.x12", mutate=lambda t: t.replace("IEA*1*", "IEA*2*")),
        r"\(IEA\): IEA count for IEA02=000000501 is wrong",
    )
    # a 997 whose AK9 count does not match the group we sent, or a group we never sent
    bad_ak9 = ack_set(export)
    bad_ak9[-1] = ("AK9", "A", 9, 9, 9)
    _refused(case("ak9.x12", sets_=[bad_ak9], fid="FA"), r"\(AK9\): AK903 says 9")
    never = ack_set(export)
    never[1] = ("AK1", "GE", 99999)
    _refused(case("ak1.x12", sets_=[never], fid="FA"), r"segment 4 \(AK1\): group control number")
    # not X12 at all, and an unknown sender
    junk = tmp_path / "junk.x12"
    junk.write_text("request_id,result\n1,ACCEPTED\n")
    _refused(junk, r"segment 1: the file does not begin with an ISA segment")
    _refused(
        case("who.x12", mutate=lambda t: t.replace("SCE            ", "PGE            ", 1)),
        r"segment 1 \(ISA\): no trading partner sends as 'PGE'",
    )
    # a rejection without its reason; an answer for another request type
    no_reason = [response_set(partner, sets[0], accept=False)]
    no_reason[0] = [s for s in no_reason[0] if s[:2] != ("REF", "7G")]
    _refused(case("nr.x12", sets_=no_reason), r"\(ASI\): a rejection needs REF\*7G")
    wrong = response_set(partner, sets[0])
    wrong[3] = ("ASI", "WQ", "024" if sets[0]["asi"][1] != "024" else "021")
    _refused(case("asi.x12", sets_=[wrong]), r"\(ASI\): ASI02 '0\d\d' does not answer request")


def test_malformed_bytes_are_refused_not_crashed(sent, tmp_path):
    """Cases a fuzzer found: each is a refusal naming where, never an unhandled error."""
    export, _, sets = sent
    partner = export.program.trading_partner
    good = write(tmp_path, "g.x12", partner, "GE", [response_set(partner, sets[0])]).read_text()
    cases = {
        "nul.x12": (good.replace("BGN", "B\x00GN", 1), r"byte \d+ is a NUL"),
        "seg.x12": (
            good.replace("\nLIN*", "\nL*", 1),
            r"segment 5 \(L\): Segment identifier \"L\" is invalid",
        ),
        "huge.x12": (
            good.replace(f"REF*TN*{sets[0]['reference']}", "REF*TN*" + "9" * 40),
            r"segment 8 \(REF\): reference '9{40}' is unknown",
        ),
        "latin.x12": (good.replace("BGN", "BGÑ", 1), r"byte \d+ is not ASCII"),
    }
    for name, (text, match) in cases.items():
        path = tmp_path / name
        path.write_bytes(text.encode("latin-1"))
        _refused(path, match)


def test_the_version_comes_from_the_profile(make_account, program, today, tmp_path, cca_sends):
    cca_sends.x12_version, cca_sends.usage = "005010", "P"
    cca_sends.save()
    make_account(status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2))
    with committed():
        path = ccasr_export(program=program, out_dir=tmp_path, actor_name="t").path
    ic, (req,) = requests_in(path)
    assert (ic.groups[0].version, ic.usage, req["asi"]) == ("005010", "P", ("7", "021"))
    assert path.read_text().split("*")[11:13] == ["^", "00501"]  # ISA11 repetition, ISA12


# --- our 997: published only once the import that it acknowledges has committed --------------


def outbound(partner):
    folder = partner_folder(partner) / "outbound"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_our_997_appears_only_once_the_import_commits(sent, tmp_path):
    export, _, sets = sent
    partner = export.program.trading_partner
    responses = write(tmp_path, "814.x12", partner, "GE", [response_set(partner, d) for d in sets])
    with committed():
        result = edi_responses.edi_responses_import(path=responses)
        assert result.ack_path is not None
        assert outbound(partner) == [f".{result.ack_path.name}.part"]  # staged, hidden
    assert outbound(partner) == [result.ack_path.name] == ["997_CLEAN_000000002.x12"]
    assert CcasrExport.objects.get(kind="997").sha256 == files.file_sha256(result.ack_path)


def test_an_import_rolled_back_after_staging_its_997_sends_none_and_records_nothing(
    sent, tmp_path, monkeypatch
):
    export, _, sets = sent
    partner = export.program.trading_partner
    responses = write(tmp_path, "814.x12", partner, "GE", [response_set(partner, d) for d in sets])
    staged = []
    ack_997_write = edi_responses.ack_997_write

    def write_then_fail(**kw):
        staged.append(ack_997_write(**kw))
        raise RuntimeError("the import fails after its 997 was staged")

    monkeypatch.setattr(edi_responses, "ack_997_write", write_then_fail)
    with committed(), pytest.raises(RuntimeError, match="after its 997"):
        edi_responses.edi_responses_import(path=responses)
    assert staged  # the 997 was staged, then rolled back with the import
    assert [n for n in outbound(partner) if not n.startswith(".")] == []  # nothing to send
    assert not CcasrExport.objects.filter(kind="997").exists()
    assert not EdiInterchangeIn.objects.exists()
    assert set(SR.objects.values_list("status", flat=True)) == {"exported"}
    partner.refresh_from_db()
    assert partner.last_interchange_control_number == 1  # the 997's number went back

    # The next import removes the staged leftover (another program's is left alone) and sends
    # its own 997, with the number the rolled-back one had drawn.
    other = partner_folder(partner) / "outbound" / ".997_OTHER_000000002.x12.part"
    other.write_bytes(b"ISA*not ours")
    monkeypatch.undo()
    with committed():
        result = edi_responses.edi_responses_import(path=responses)
    assert outbound(partner) == [other.name, "997_CLEAN_000000002.x12"]
    assert result.ack_path is not None and CcasrExport.objects.get(kind="997").sha256 == (
        files.file_sha256(result.ack_path)
    )


def test_a_committed_997_left_staged_is_published_by_the_next_export_run(
    sent, tmp_path, monkeypatch
):
    export, _, sets = sent
    partner = export.program.trading_partner
    responses = write(tmp_path, "814.x12", partner, "GE", [response_set(partner, d) for d in sets])
    # What an import killed between its commit and the rename leaves.
    monkeypatch.setattr(files, "publish", lambda path: None)
    with committed():
        result = edi_responses.edi_responses_import(path=responses)
    assert result.ack_path is not None
    assert outbound(partner) == [f".{result.ack_path.name}.part"]
    monkeypatch.undo()
    # The export task finishes it: the utility does not wait for another file of answers.
    send = ccasr_export_send(program=export.program, actor_name="t")
    assert send.acks_finished == (result.ack_path,)
    assert outbound(partner) == [result.ack_path.name]
    assert CcasrExport.objects.get(kind="997").sha256 == files.file_sha256(result.ack_path)
