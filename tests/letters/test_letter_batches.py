"""Confirmation letters and six-month advance notices reach the mail house as mail pieces."""

import csv
import datetime as dt
import hashlib
import io
import json

import pytest
from django.core.management import call_command
from pypdf import PdfReader

from cca_notices.models import ImbSerialCounter, MailBatch
from cca_notices.services.batches import (
    mail_batch_claim,
    mail_batch_rebuild,
    mail_batches_build_due,
)
from optouts.models import Confirmation
from optouts.services.confirmations import confirmations_send_due

from .conftest import TODAY

MAIL_DATE = dt.date(2027, 3, 12)


def build(program, kind, out, mail_date=MAIL_DATE):
    buf = io.StringIO()
    call_command(
        "build_mail_batch",
        "--program",
        program.slug,
        "--kind",
        kind,
        "--mail-date",
        mail_date.isoformat(),
        "--out",
        str(out),
        stdout=buf,
    )
    return buf.getvalue()


def read_folder(batch):
    from pathlib import Path

    folder = Path(batch.folder)
    manifest = json.loads((folder / f"{batch.reference}-manifest.json").read_text())
    with open(folder / f"{batch.reference}-data.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return folder, manifest, rows


def test_issued_letters_wait_for_a_batch_and_are_not_sent_yet(terminate):
    terminate()
    counts = confirmations_send_due()
    assert (counts["issued"], counts["emailed"]) == (2, 0)
    statuses = set(Confirmation.objects.values_list("kind", "status", "batch"))
    assert statuses == {("termination", "issued", None), ("reentry", "issued", None)}
    conf = Confirmation.objects.get(kind="termination")
    assert (
        conf.letter_pages >= 1
        and conf.issued_at is not None
        and conf.sent_on is None
        and conf.on_time is None
    )


def test_confirmation_batch_carries_the_stored_letters_with_imb_fields_and_a_manifest(
    terminate, mailing_program, tmp_path
):
    a = terminate(mailing_zip="94903")
    b = terminate(mailing_zip="94901", language="es")
    confirmations_send_due()
    issued = {c.pk: bytes(c.letter_pdf) for c in Confirmation.objects.filter(kind="termination")}
    out = build(mailing_program, "confirmation", tmp_path)
    batch = MailBatch.objects.get(kind="confirmation")
    assert f"built {batch.reference}: 2 " in out and "(0 past their due date)" in out
    assert batch.reference.startswith("CLEAN-CONF-20270312-") and batch.piece_count == 2
    # Only the termination letters: the six-month advance notices go in their own kind of batch.
    assert set(Confirmation.objects.filter(kind="reentry").values_list("status", flat=True)) == {
        "issued"
    }
    confs = list(Confirmation.objects.filter(batch=batch).order_by("piece_id"))
    assert [c.status for c in confs] == ["batched", "batched"]
    folder, manifest, rows = read_folder(batch)
    # ZIP order: 94901 first; serials consecutive from the batch's first serial.
    assert [r["account_numbers"] for r in rows] == [
        b.account.account_number,
        a.account.account_number,
    ]
    assert [int(r["serial"]) for r in rows] == [batch.first_serial, batch.first_serial + 1]
    by_piece = {c.piece_id: c for c in confs}
    for row in rows:
        conf = by_piece[row["piece_id"]]
        name, street, last = conf.mailing_address.splitlines()
        assert (row["name"], row["address"], f"{row['city']} {row['state']} {row['zip']}") == (
            name,
            street,
            last,
        )
        assert (row["kind"], row["language"], row["mailer_id"]) == (
            "termination",
            conf.language,
            "801234",
        )
        assert row["imb"] and row["routing_zip"] == row["zip"][:5]
    assert rows[0]["language"] == "es"
    # The manifest: counts, and a SHA-256 per file that matches the file.
    assert (
        manifest["kind"] == "confirmation"
        and manifest["counts"]["pieces"] == 2
        and manifest["counts"]["letters"] == 2
    )
    assert manifest["counts"]["pieces_by_kind_language"] == {"termination": {"en": 1, "es": 1}}
    for f in manifest["files"]:
        assert hashlib.sha256((folder / f["name"]).read_bytes()).hexdigest() == f["sha256"]
    # The print file is the issued letters concatenated: page count and page offsets add up.
    pdf_name = next(f["name"] for f in manifest["files"] if f["type"] == "letters")
    pages = len(PdfReader(folder / pdf_name).pages)
    assert (
        pages
        == sum(c.letter_pages for c in confs)
        == manifest["counts"]["pages"]
        == batch.page_count
    )
    assert [int(r["page_offset"]) for r in rows] == [1, 1 + int(rows[0]["pages"])]
    # Nothing was re-rendered: the stored PDFs are unchanged.
    assert {
        c.pk: bytes(c.letter_pdf) for c in Confirmation.objects.filter(kind="termination")
    } == issued
    # Written again from the database: the same bytes.
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    mail_batch_rebuild(reference=batch.reference, out_dir=tmp_path)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    # A second build finds nothing waiting; the advance notices get their own batch and serials.
    assert "no issued letters waiting" in build(mailing_program, "confirmation", tmp_path)
    build(mailing_program, "reentry_advance_notice", tmp_path)
    reentry = MailBatch.objects.get(kind="reentry_advance_notice")
    assert reentry.reference.startswith("CLEAN-REENTRY-") and reentry.piece_count == 2
    pieces = list(Confirmation.objects.exclude(piece_id="").values_list("piece_id", flat=True))
    assert len(set(pieces)) == 4
    assert ImbSerialCounter.objects.get(mailer_id="801234").next_value == 4


def test_a_letter_is_never_in_two_batches(terminate, mailing_program):
    from django.utils import timezone

    terminate()
    confirmations_send_due()
    first = mail_batch_claim(
        program=mailing_program,
        kind="confirmation",
        mail_date=MAIL_DATE,
        actor_name="a",
        via="command",
        now=timezone.now(),
    )
    second = mail_batch_claim(
        program=mailing_program,
        kind="confirmation",
        mail_date=MAIL_DATE,
        actor_name="b",
        via="command",
        now=timezone.now(),
    )
    assert first.batch is not None and second.batch is None
    assert Confirmation.objects.get(kind="termination").batch == first.batch


def test_a_tampered_stored_letter_is_not_printed(terminate, mailing_program, tmp_path):
    terminate()
    confirmations_send_due()
    Confirmation.objects.filter(kind="termination").update(letter_sha256="0" * 64)
    with pytest.raises(RuntimeError, match="does not match its SHA-256"):
        build(mailing_program, "confirmation", tmp_path)
    assert not any(tmp_path.iterdir())


def test_daily_build_batches_issued_letters_in_time(terminate, mailing_program, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    from cca_notices.tasks import mail_batches_daily

    terminate()
    confirmations_send_due()
    totals = mail_batches_daily()
    assert (totals["letter_batches"], totals["letters"]) == (2, 2)
    assert mail_batches_build_due(today=TODAY).get("letter_batches", 0) == 0
    for conf in Confirmation.objects.select_related("batch"):
        assert conf.status == "batched" and conf.batch.built_via == "beat"
        # Sent within confirmation_days: batched for a mail date on or before the due date.
        assert conf.sent_on == conf.batch.mail_date <= conf.due_date and conf.on_time is True
        assert (tmp_path / "batches" / mailing_program.slug / conf.batch.reference).is_dir()


def test_mail_house_report_round_trip(terminate, mailing_program, tmp_path):
    a = terminate()
    b = terminate()
    confirmations_send_due()
    build(mailing_program, "confirmation", tmp_path)
    ca = Confirmation.objects.get(account=a.account, kind="termination")
    cb = Confirmation.objects.get(account=b.account, kind="termination")
    report = tmp_path / "report.csv"
    report.write_text(
        "piece_id,event,date,reason\n"
        f"{ca.piece_id},mailed,2027-03-12,\n"
        f"{cb.piece_id}94901,returned,2027-03-20,insufficient address\n"
    )
    out = io.StringIO()
    call_command("import_mail_house_report", str(report), stdout=out)
    assert "letters mailed: 1" in out.getvalue() and "letters returned: 1" in out.getvalue()
    ca.refresh_from_db(), cb.refresh_from_db()
    assert (ca.status, ca.mailed_on) == ("mailed", dt.date(2027, 3, 12))
    # A returned piece was mailed on its batch's date, then came back; the address needs repair.
    assert (cb.status, cb.mailed_on, cb.returned_on, cb.return_reason) == (
        "returned",
        MAIL_DATE,
        dt.date(2027, 3, 20),
        "insufficient address",
    )
    b.account.refresh_from_db(), a.account.refresh_from_db()
    assert b.account.address_needs_repair and not a.account.address_needs_repair
    assert ca.batch.__class__.objects.get(pk=ca.batch_id).mailed_at is not None
    # The same report again changes nothing.
    out = io.StringIO()
    call_command("import_mail_house_report", str(report), stdout=out)
    assert "letters mailed: 0" in out.getvalue() and "already recorded: 2" in out.getvalue()


def test_admin_shows_method_status_batch_and_piece(
    terminate, make_account, mailing_program, tmp_path, client, django_user_model
):
    terminate()
    make_account(status="enrolled", enrollment_date=dt.date(2027, 2, 2), email="ana@example.com")
    from accounts.models import Channel
    from accounts.services.status import Actor
    from optouts.services.intake import optout_submit

    optout_submit(
        account=make_account(
            status="enrolled", enrollment_date=dt.date(2027, 2, 2), email="bo@example.com"
        ),
        channel=Channel.WEB,
        actor=Actor("web"),
    )
    confirmations_send_due()
    build(mailing_program, "confirmation", tmp_path)
    batch = MailBatch.objects.get()
    conf = Confirmation.objects.get(batch=batch)
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    page = client.get("/admin/optouts/confirmation/").content.decode()
    assert batch.reference in page and conf.piece_id in page
    assert "E-mail sent" in page and "Letter in a mail batch" in page
    page = client.get(f"/admin/cca_notices/mailbatch/{batch.pk}/change/").content.decode()
    assert f"?batch__id__exact={batch.pk}" in page and "1 letter(s)" in page
    page = client.get(f"/admin/optouts/confirmation/?batch__id__exact={batch.pk}").content.decode()
    assert conf.piece_id in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_builders_at_once_batch_each_letter_once(terminate, mailing_program, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from cca_notices.services.batches import mail_batch_build

    for _ in range(6):
        terminate()
    confirmations_send_due()

    def run(n):
        try:
            return mail_batch_build(
                program=mailing_program,
                kind="confirmation",
                mail_date=MAIL_DATE,
                out_dir=tmp_path / str(n),
                actor_name=f"builder{n}",
            ).batch
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        batches = [b for b in pool.map(run, range(2)) if b is not None]
    assert len(batches) >= 1
    confs = Confirmation.objects.filter(kind="termination")
    assert confs.filter(status="batched").count() == 6
    assert sum(b.piece_count for b in batches) == 6
    assert len(set(confs.values_list("piece_id", flat=True))) == 6
