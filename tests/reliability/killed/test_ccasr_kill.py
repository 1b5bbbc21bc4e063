"""A CCASR export survives a killed worker: real Celery workers run the export task
(`optouts.tasks.ccasr_export`: the X12 814 written, then delivered to the partner's outbound
folder), are stopped at the worst points (tests/reliability/killed/edi_hooks.py) and killed with
SIGKILL; another worker takes the redelivered task. Whatever the point, every queued request
ends in exactly one interchange, that interchange is delivered whole, no control number is in
two files, no partial file is left where the utility reads, and no request is recorded as
exported in anything but the delivered file."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path

import pytest

from accounts.models import Status, TradingPartner
from accounts.services.calendar import today
from accounts.services.trading_partners import trading_partner_for
from optouts.models import CcasrExport, EdiTransfer
from optouts.models import ServiceRequest as SR
from optouts.services.ccasr import ccasr_connects_for_enrollment
from optouts.services.edi_utility import requests_in
from tests.reliability.killed.workers import send, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SETTINGS = "tests.reliability.killed.edi_worker_settings"
TASK = "optouts.tasks.ccasr_export"


@pytest.fixture
def queued(program, make_account, tmp_path):
    """Five Connects queued for accounts enrolling within the lead time, the partner's exchange
    folder in the test's directory (the CCA sends the mass-enrollment Connects)."""
    partner = trading_partner_for(program=program)
    partner.sender_id, partner.receiver_id = "CLEAN", "SCE"
    partner.folder = str(tmp_path / "exchange")
    partner.mass_enrollment_connects = TradingPartner.ConnectsBy.CCA
    partner.save()
    day = today()
    for i in range(5):
        make_account(
            status=Status.NOTIFIED,
            customer_name=f"CUSTOMER {i}",
            enrollment_date=day + dt.timedelta(days=20),
        )
    assert ccasr_connects_for_enrollment(program=program, today=day) == 5
    return partner


def folders(partner) -> tuple[Path, Path]:
    root = Path(partner.folder)
    return root / "exported", root / "outbound"


def visible(folder: Path) -> list[str]:
    return (
        sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        if folder.exists()
        else []
    )


def delivered_transfer():
    return EdiTransfer.objects.filter(
        direction="out", method="folder", result="ok", file_name__startswith="CCASR_"
    ).first()


def assert_delivered_once(program, partner):
    """The end state, whatever was killed: one interchange, delivered whole, holding every
    request once; nothing else recorded as exported; nothing staged or partial left."""
    exported, outbound = folders(partner)
    export = CcasrExport.objects.get(program=program, kind="ccasr")  # one interchange
    assert export.interchange_control_number == 1 and export.requests == 5
    partner.refresh_from_db()
    assert partner.last_interchange_control_number == 1  # no number drawn for a second file
    # Every request is in it, exported by it, and nothing else is marked exported.
    assert set(SR.objects.values_list("status", "export_id", "times_sent")) == {
        ("exported", export.pk, 1)
    }
    assert visible(outbound) == [export.file_name]  # no .part beside it
    assert not [p for p in outbound.iterdir() if p.name.startswith(".")]
    data = (outbound / export.file_name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == export.sha256
    assert data == (exported / export.file_name).read_bytes()
    ic, sets = requests_in(outbound / export.file_name)
    assert ic.control_number == "000000001"
    refs = [s["reference"] for s in sets]
    assert sorted(refs) == sorted(str(pk) for pk in SR.objects.values_list("pk", flat=True))
    assert len(refs) == len(set(refs)) == 5
    assert visible(exported) == [export.file_name, export.file_name + ".manifest.json"]
    assert not [p.name for p in exported.iterdir() if p.name.startswith(".")]  # nothing staged
    time.sleep(1.5)  # a second delivery of the task, if any, would have sent it again by now
    transfers = EdiTransfer.objects.filter(direction="out", file_name=export.file_name)
    assert list(transfers.values_list("method", "result")) == [("folder", "ok")]
    assert CcasrExport.objects.count() == 1


def stopped_at(point: str, program, workers, redis_url, tmp_path):
    """A worker running the export task, stopped for good at `point` (edi_hooks.py): "staged"
    or "delivery". Returns the worker, for the test to kill."""
    workers.env["DJANGO_SETTINGS_MODULE"] = SETTINGS
    (tmp_path / f"block-ccasr-{point}").touch()
    worker = workers.start()
    send(redis_url, TASK, [program.pk])
    wait_for(lambda: (tmp_path / f"reached-ccasr-{point}").exists(), f"the export at {point}", 60)
    return worker


def test_an_export_killed_before_its_commit_leaves_no_file_and_gives_its_numbers_back(
    program, queued, workers, redis_url, tmp_path
):
    partner = queued
    exported, outbound = folders(partner)
    first = stopped_at("staged", program, workers, redis_url, tmp_path)
    # The worst point: control number drawn, file written whole, requests claimed — uncommitted.
    staged = [p.name for p in exported.iterdir()]
    assert len(staged) == 2 and all(n.startswith(".CCASR_") for n in staged), staged
    assert visible(exported) == [] and visible(outbound) == []
    workers.kill(first)

    # PostgreSQL rolled the transaction back with the dead connection.
    assert set(SR.objects.values_list("status", "export_id")) == {("queued", None)}
    assert not CcasrExport.objects.exists()
    partner.refresh_from_db()
    assert partner.last_interchange_control_number == 0  # the number went back to the counter
    assert visible(exported) == [] and visible(outbound) == []  # nothing a reader would take

    (tmp_path / "block-ccasr-staged").unlink()
    time.sleep(2.5)  # the visibility timeout (2 s)
    workers.start()
    wait_for(delivered_transfer, "the second worker's delivery\n" + workers.logs(), 60)
    # The number drawn before the kill is used once, by the one file delivered.
    assert_delivered_once(program, partner)


def test_an_export_killed_half_way_through_its_delivery_is_delivered_as_it_was(
    program, queued, workers, redis_url, tmp_path
):
    partner = queued
    exported, outbound = folders(partner)
    first = stopped_at("delivery", program, workers, redis_url, tmp_path)
    workers.kill(first)

    # Committed: one interchange holding every request, its file complete where it was written;
    # in the outbound folder only the partial copy, under its temporary name.
    export = CcasrExport.objects.get()
    assert set(SR.objects.values_list("status", "export_id")) == {("exported", export.pk)}
    data = (exported / export.file_name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == export.sha256
    assert visible(outbound) == [export.file_name + ".part"]
    assert (outbound / (export.file_name + ".part")).stat().st_size < len(data)
    assert not EdiTransfer.objects.exists()

    (tmp_path / "block-ccasr-delivery").unlink()
    time.sleep(2.5)  # the visibility timeout (2 s)
    workers.start()
    wait_for(delivered_transfer, "the second worker's delivery\n" + workers.logs(), 60)
    # The same file, same control numbers: no second interchange for those requests.
    assert_delivered_once(program, partner)
