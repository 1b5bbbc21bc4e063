"""Programs (phases, products, fee schedule), tariffs, read dates and import runs in the admin."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import FeeSchedule, ImportRun
from accounts.services.calendar import today
from accounts.services.importing import accounts_import
from accounts.services.status import Actor
from tests.admin.formdata import form_data
from tests.factories import (
    PhaseFactory,
    ProductFactory,
    ProgramFactory,
    RateScheduleFactory,
    ReadDateFactory,
    UtilityFactory,
)
from tests.importing.conftest import HEADER
from tests.importing.conftest import row as import_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    program = ProgramFactory(slug="marin", name="Marin Clean Energy")
    PhaseFactory(program=program, name="Phase 1")
    ProductFactory(program=program)
    FeeSchedule.objects.create(
        program=program,
        customer_class="residential",
        effective_from=dt.date(2020, 1, 1),
        admin_fee=Decimal("5.00"),
    )
    return program


def program_url(program):
    return reverse("admin:accounts_program_change", args=[program.pk])


@pytest.mark.parametrize(
    "name",
    [
        "utility",
        "program",
        "rateschedule",
        "readdate",
        "importrun",
        "serviceaccount",
        "statuschange",
    ],
)
def test_every_list_renders(admin_client, program, name):
    RateScheduleFactory()
    ReadDateFactory()
    ImportRun.objects.create(program=program, kind="accounts", file_name="/tmp/x.csv", actor="ops")
    assert admin_client.get(reverse(f"admin:accounts_{name}_changelist")).status_code == 200


def test_program_page_shows_phases_products_and_fees(admin_client, program):
    html = admin_client.get(program_url(program)).content.decode()
    assert "Phase 1" in html and "Light Green" in html
    assert "in force" in html and "5.00" in html


def test_fee_rows_in_force_are_read_only_and_a_change_is_a_new_row(admin_client, program):
    response = admin_client.get(program_url(program))
    data = form_data(response.content.decode(), "program_form")
    # The in-force row is shown but offers no inputs for its amounts.
    assert not any(k.startswith("fee_schedules-0-admin_fee") for k in data)
    start = today() + dt.timedelta(days=30)
    data.update(
        {
            "fee_schedules-2-TOTAL_FORMS": "1",
            "fee_schedules-2-0-customer_class": "residential",
            "fee_schedules-2-0-effective_from": start.isoformat(),
            "fee_schedules-2-0-admin_fee": "7.50",
            "fee_schedules-2-0-cost_recovery_charge": "0.00",
            "fee_schedules-2-0-note": "board resolution 2027-04",
        }
    )
    response = admin_client.post(program_url(program), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    rows = list(
        FeeSchedule.objects.filter(program=program)
        .order_by("effective_from")
        .values_list("effective_from", "admin_fee")
    )
    assert rows == [(dt.date(2020, 1, 1), Decimal("5.00")), (start, Decimal("7.50"))]


def test_posting_a_changed_in_force_fee_does_not_change_it(admin_client, program):
    data = form_data(admin_client.get(program_url(program)).content.decode(), "program_form")
    row = FeeSchedule.objects.get(program=program)
    data.update({"fee_schedules-0-id": str(row.pk), "fee_schedules-0-admin_fee": "99.00"})
    admin_client.post(program_url(program), data)
    row.refresh_from_db()
    assert row.admin_fee == Decimal("5.00")


def test_a_fee_row_cannot_be_back_dated(admin_client, program):
    data = form_data(admin_client.get(program_url(program)).content.decode(), "program_form")
    data.update(
        {
            "fee_schedules-2-TOTAL_FORMS": "1",
            "fee_schedules-2-0-customer_class": "residential",
            "fee_schedules-2-0-effective_from": (today() - dt.timedelta(days=1)).isoformat(),
            "fee_schedules-2-0-admin_fee": "9.00",
            "fee_schedules-2-0-cost_recovery_charge": "0.00",
        }
    )
    response = admin_client.post(program_url(program), data)
    assert response.status_code == 200
    assert "applies from today" in response.content.decode()
    assert FeeSchedule.objects.filter(program=program).count() == 1


def test_rate_schedule_and_read_date_filters(admin_client):
    sce = UtilityFactory()
    RateScheduleFactory(utility=sce, code="TOU-D-4-9PM")
    RateScheduleFactory(utility=sce, code="TOU-GS-1", customer_class="small_commercial")
    response = admin_client.get(
        reverse("admin:accounts_rateschedule_changelist"),
        {"customer_class__exact": "small_commercial"},
    )
    assert [r.code for r in response.context["cl"].result_list] == ["TOU-GS-1"]
    ReadDateFactory(utility=sce, read_cycle=1, read_date=dt.date(2027, 3, 2))
    ReadDateFactory(utility=sce, read_cycle=7, read_date=dt.date(2027, 3, 10))
    response = admin_client.get(reverse("admin:accounts_readdate_changelist"), {"read_cycle": "7"})
    assert [r.read_date for r in response.context["cl"].result_list] == [dt.date(2027, 3, 10)]


def test_import_run_is_read_only_and_serves_its_reject_file(admin_client, program, tmp_path):
    rejects = tmp_path / "eligible.rejects.csv"
    rejects.write_text("line,column,reason\n7,phone,not a telephone number\n")
    run = ImportRun.objects.create(
        program=program,
        kind="accounts",
        file_name=str(tmp_path / "eligible.csv"),
        actor="ops@mce",
        outcome="partial",
        rows=10,
        created=9,
        rejected=1,
        reject_file=str(rejects),
    )
    url = reverse("admin:accounts_importrun_change", args=[run.pk])
    html = admin_client.get(url).content.decode()
    assert (
        "ops@mce" in html and "eligible.rejects.csv" in html and "Loaded, bad rows skipped" in html
    )
    assert admin_client.post(url, {"actor": "someone else"}).status_code == 403
    assert admin_client.get(reverse("admin:accounts_importrun_add")).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:accounts_importrun_delete", args=[run.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    download = admin_client.get(reverse("admin:accounts_importrun_reject_file", args=[run.pk]))
    assert download.status_code == 200
    assert b"not a telephone number" in b"".join(download.streaming_content)
    rejects.unlink()
    assert (
        admin_client.get(reverse("admin:accounts_importrun_reject_file", args=[run.pk])).status_code
        == 404
    )


def test_reject_file_needs_staff_login(client, program, tmp_path):
    rejects = tmp_path / "r.csv"
    rejects.write_text("x")
    run = ImportRun.objects.create(
        program=program, kind="accounts", file_name="f.csv", actor="ops", reject_file=str(rejects)
    )
    response = client.get(reverse("admin:accounts_importrun_reject_file", args=[run.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_reject_file_download_carries_the_spreadsheet_guard(admin_client, program, tmp_path):
    """The admin's one staff CSV download is the reject file the import wrote: a planted
    formula in a rejected row reaches the spreadsheet as text."""
    planted = '=HYPERLINK("http://evil.example","click")'
    path = tmp_path / "eligible.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=HEADER)
        w.writeheader()
        w.writerow(import_row(1, phase=""))
        w.writerow(import_row(2, phase="", service_address=planted, care="maybe"))
    accounts_import(
        program=program, path=path, actor=Actor("ops"), progress=False, skip_invalid=True
    )
    run = ImportRun.objects.get()
    download = admin_client.get(reverse("admin:accounts_importrun_reject_file", args=[run.pk]))
    assert download.status_code == 200
    text = b"".join(download.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["service_address"] for r in rows] == ["'" + planted]
