"""build_mail_batch by its data: which notices went in, exclusions, merges, order, serials,
manifest checksums, byte-identical rebuild; and one check that the PDF renders."""

import csv
import datetime as dt
import hashlib
import json

import pytest
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from accounts.models import Status
from accounts.services.status import SYSTEM, account_transition
from cca_notices.models import MailBatch, Notice, NoticeChange
from cca_notices.services.batches import MailBatchError, mail_batch_build, mail_batch_rebuild
from tests.batches.conftest import MAIL_DATE

pytestmark = pytest.mark.django_db
KIND = "pre_enrollment_1"


def build(program, out, **kw):
    kw.setdefault("kind", KIND)
    kw.setdefault("mail_date", MAIL_DATE)
    return mail_batch_build(program=program, out_dir=out, actor_name="tester", **kw)


def read_csv(result):
    path = result.folder / f"{result.batch.reference}-data.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def manifest(result):
    return json.loads(
        (result.folder / f"{result.batch.reference}-manifest.json").read_text(encoding="utf-8")
    )


@pytest.fixture
def mixed(make_account, notice_for):
    """Due, overdue, not yet due, another kind, direct access, opted out, and one customer with
    two accounts."""
    acc = {
        "due_b": make_account(
            customer_name="ANA B", mailing_address="9 ELM ST", mailing_zip="92592"
        ),
        "overdue": make_account(
            customer_name="CARL C", mailing_address="1 OAK AVE", mailing_zip="92590-1111"
        ),
        "later": make_account(
            customer_name="DORA D", mailing_address="2 OAK AVE", mailing_zip="92590"
        ),
        "other_kind": make_account(
            customer_name="ED E", mailing_address="3 OAK AVE", mailing_zip="92590"
        ),
        "direct": make_account(
            customer_name="FAY F",
            mailing_address="4 OAK AVE",
            mailing_zip="92590",
            direct_access=True,
        ),
        "opted": make_account(
            customer_name="GUS G", mailing_address="5 OAK AVE", mailing_zip="92590"
        ),
        "twin_1": make_account(
            customer_name="HAL H", mailing_address="7 PINE RD", mailing_zip="92591", language="es"
        ),
        "twin_2": make_account(
            customer_name="Hal  h",
            mailing_address="7 pine rd",
            mailing_zip="92591-2222",
            language="es",
        ),
    }
    n = {
        "due_b": notice_for(acc["due_b"]),
        "overdue": notice_for(acc["overdue"], mail_date=MAIL_DATE - dt.timedelta(days=9)),
        "later": notice_for(acc["later"], mail_date=MAIL_DATE + dt.timedelta(days=1)),
        "other_kind": notice_for(acc["other_kind"], kind="pre_enrollment_2"),
        "direct": notice_for(acc["direct"]),
        "opted": notice_for(acc["opted"]),
        "twin_1": notice_for(acc["twin_1"]),
        "twin_2": notice_for(acc["twin_2"]),
    }
    account_transition(
        account=acc["opted"],
        to_status=Status.OPTED_OUT_PRE,
        channel="web",
        actor=SYSTEM,
        reason="test",
    )
    return acc, n


def test_batch_takes_due_and_overdue_notices_and_leaves_out_the_rest(program, mixed, tmp_path):
    _, n = mixed
    result = build(program, tmp_path)
    batch = result.batch
    for key in ("due_b", "overdue", "twin_1", "twin_2"):
        n[key].refresh_from_db()
        assert n[key].status == Notice.Status.BATCHED and n[key].batch == batch, key
    for key in ("later", "other_kind"):
        n[key].refresh_from_db()
        assert n[key].status == Notice.Status.SCHEDULED and n[key].batch is None, key
    for key, reason in (("direct", "direct-access"), ("opted", "opted_out_pre")):
        n[key].refresh_from_db()
        assert n[key].status == Notice.Status.CANCELLED and n[key].batch is None
        assert reason in NoticeChange.objects.get(notice=n[key]).reason
    assert (batch.notice_count, batch.piece_count, batch.merged_count, batch.excluded_count) == (
        4,
        3,
        1,
        2,
    )
    assert batch.created_by == "tester" and batch.built_via == MailBatch.Via.COMMAND
    counts = manifest(result)["counts"]
    assert counts["excluded_by_reason"] == {"direct_access": 1, "opted_out_pre": 1}
    assert counts["pieces_by_kind_language"] == {KIND: {"en": 2, "es": 1}}
    assert counts["notices_by_language"] == {"en": 2, "es": 2}
    assert counts["due_dates"] == {str(MAIL_DATE - dt.timedelta(days=9)): 1, str(MAIL_DATE): 3}


def test_same_name_and_address_is_one_letter_and_each_notice_keeps_its_piece(
    program, mixed, tmp_path
):
    acc, n = mixed
    result = build(program, tmp_path)
    t1, t2 = (Notice.objects.get(pk=n[k].pk) for k in ("twin_1", "twin_2"))
    assert t1.piece_id == t2.piece_id != ""
    assert (
        t1.merged_into is None and t2.merged_into == t1
    )  # the lower account number is the addressee
    rows = {r["piece_id"]: r for r in read_csv(result)}
    row = rows[t1.piece_id]
    assert (
        row["account_numbers"] == f"{acc['twin_1'].account_number};{acc['twin_2'].account_number}"
    )
    assert row["accounts"] == "2" and row["name"] == "HAL H"
    assert len(rows) == 3


def test_pieces_are_in_zip_order_with_consecutive_unique_serials(program, mixed, tmp_path):
    result = build(program, tmp_path)
    rows = read_csv(result)
    assert [r["zip"] for r in rows] == ["92590-1111", "92591", "92592"]
    assert [r["sequence"] for r in rows] == ["1", "2", "3"]
    serials = [int(r["serial"]) for r in rows]
    assert serials == list(range(serials[0], serials[0] + 3))
    first = rows[0]
    assert first["piece_id"] == f"00270801234{first['serial']}" and len(first["piece_id"]) == 20
    assert first["routing_zip"] == "925901111" and len(first["imb"]) == 65
    assert first["page_offset"] == "1" and rows[1]["page_offset"] == "4" and first["pages"] == "3"


def test_two_batches_never_share_a_serial_or_a_notice(program, make_account, notice_for, tmp_path):
    for i in range(3):
        notice_for(make_account(customer_name=f"P {i}", mailing_address=f"{i} A ST"))
    first = build(program, tmp_path)
    for i in range(3):
        notice_for(make_account(customer_name=f"Q {i}", mailing_address=f"{i} B ST"))
    second = build(program, tmp_path)
    assert first.batch.reference.endswith("-01") and second.batch.reference.endswith("-02")
    ids_1 = set(first.batch.notices.values_list("pk", flat=True))
    ids_2 = set(second.batch.notices.values_list("pk", flat=True))
    assert len(ids_1) == len(ids_2) == 3 and not ids_1 & ids_2
    pieces = list(Notice.objects.exclude(piece_id="").values_list("piece_id", flat=True))
    assert len(pieces) == len(set(pieces)) == 6
    # Nothing left: a third run builds nothing.
    assert build(program, tmp_path).batch is None


@pytest.mark.needs("harfbuzz-subset")
def test_manifest_checksums_match_the_files_and_rebuild_is_byte_identical(
    program, mixed, tmp_path, settings
):
    settings.MAIL_BATCH_LETTERS_PER_FILE = 2
    result = build(program, tmp_path / "a")
    m = manifest(result)
    names = sorted(p.name for p in result.folder.iterdir())
    assert names == sorted(
        [f["name"] for f in m["files"]] + [f"{result.batch.reference}-manifest.json"]
    )
    assert [f["letters"] for f in m["files"] if f["type"] == "letters"] == [2, 1]
    for f in m["files"]:
        data = (result.folder / f["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]
    again = mail_batch_rebuild(reference=result.batch.reference, out_dir=tmp_path / "b")
    for name in names:
        assert (again.folder / name).read_bytes() == (result.folder / name).read_bytes(), name
    # Written again into the same place, too.
    mail_batch_rebuild(reference=result.batch.reference, out_dir=tmp_path / "a")
    assert sorted(p.name for p in result.folder.iterdir()) == names
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]


def test_pdf_renders_every_letter_in_order(program, mixed, tmp_path, settings):
    settings.MAIL_BATCH_LETTERS_PER_FILE = 2
    result = build(program, tmp_path)
    rows = read_csv(result)
    first_file = result.folder / rows[0]["file"]
    reader = PdfReader(first_file)
    assert len(reader.pages) == 6
    text = reader.pages[int(rows[1]["page_offset"]) - 1].extract_text()
    assert rows[1]["piece_id"] in text and "HAL H" in text
    assert len(PdfReader(result.folder / rows[2]["file"]).pages) == 3
    assert result.batch.page_count == 9


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"kind": "rate_change"}, "unknown notice kind"),
        ({"kind": "post_enrollment_3"}, "no letter template"),
        ({"mail_date": dt.date(2026, 12, 1)}, "in the past"),
        ({"mail_date": dt.date(2027, 6, 1)}, "days ahead"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(program, mixed, tmp_path, kw, message):
    with pytest.raises(MailBatchError, match=message):
        build(program, tmp_path / "out", **kw)
    assert not MailBatch.objects.exists()
    assert not Notice.objects.filter(status=Notice.Status.CANCELLED).exists()
    assert not (tmp_path / "out").exists()


def test_program_without_mailer_id_is_refused(program, mixed, tmp_path):
    program.mailer_id = ""
    program.save()
    with pytest.raises(MailBatchError, match="mailer_id"):
        build(program, tmp_path)
    assert not MailBatch.objects.exists()


def test_command_builds_rebuilds_and_names_bad_arguments(program, mixed, tmp_path, capsys):
    call_command(
        "build_mail_batch",
        "--program",
        "demo",
        "--kind",
        KIND,
        "--mail-date",
        str(MAIL_DATE),
        "--out",
        str(tmp_path),
    )
    out = capsys.readouterr().out
    batch = MailBatch.objects.get()
    assert (
        f"built {batch.reference}: 3 letters for 4 notices (1 merged" in out and "2 excluded" in out
    )
    assert batch.created_by and batch.built_via == "command"
    call_command(
        "build_mail_batch", "--reference", batch.reference, "--out", str(tmp_path / "again")
    )
    assert f"rewrote {batch.reference}" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--program: no program with slug 'nope'"):
        call_command(
            "build_mail_batch",
            "--program",
            "nope",
            "--kind",
            KIND,
            "--mail-date",
            str(MAIL_DATE),
            "--out",
            str(tmp_path),
        )
    with pytest.raises(CommandError, match="--mail-date"):
        call_command(
            "build_mail_batch",
            "--program",
            "demo",
            "--kind",
            KIND,
            "--mail-date",
            "08/01/2027",
            "--out",
            str(tmp_path),
        )
    with pytest.raises(CommandError, match="no mail batch with reference"):
        call_command("build_mail_batch", "--reference", "NOPE-1", "--out", str(tmp_path))


@pytest.mark.needs("harfbuzz-subset")
def test_rebuild_in_a_later_process_is_byte_identical(program, mixed, tmp_path, monkeypatch):
    """Fonts are subset again in another process: nothing time-dependent may reach the files."""
    from cca_notices.mailers.stamp import stamp_font

    result = build(program, tmp_path / "a")
    stamp_font.cache_clear()
    monkeypatch.setattr("fontTools.ttLib.tables._h_e_a_d.timestampNow", lambda: 4_000_000_000)
    again = mail_batch_rebuild(reference=result.batch.reference, out_dir=tmp_path / "b")
    stamp_font.cache_clear()
    for path in result.folder.iterdir():
        assert (again.folder / path.name).read_bytes() == path.read_bytes(), path.name


def test_data_csv_carries_names_and_addresses_exactly_as_stored(
    program, make_account, notice_for, tmp_path
):
    """The mail house's software reads the data CSV, not a spreadsheet: a leading = + - @ is
    part of the customer's name or address and must reach the printer without a quote."""
    stored = [
        ("=SUM(A1)", "1 OAK AVE", "TEMECULA"),
        ("ANA B", "+1 Main St", "TEMECULA"),
        ("-Smith Family Trust", "2 OAK AVE", "-MURRIETA"),
        ("CARL C", "@Home Apts", "@TEMECULA"),
    ]
    accounts = []
    for i, (name, address, city) in enumerate(stored):
        account = make_account(
            customer_name=name,
            mailing_address=address,
            mailing_city=city,
            mailing_zip=f"9259{i}",
        )
        notice_for(account)
        accounts.append(account)
    rows = read_csv(build(program, tmp_path))
    by_account = {r["account_numbers"]: r for r in rows}
    assert len(by_account) == len(accounts)
    for account in accounts:
        r = by_account[account.account_number]
        assert (r["name"], r["address"], r["city"], r["state"], r["zip"]) == (
            account.customer_name,
            account.mailing_address,
            account.mailing_city,
            account.mailing_state,
            account.mailing_zip,
        )
    assert not any(v.startswith("'") for r in rows for v in r.values())
