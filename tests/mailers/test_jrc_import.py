import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from accounts.models import JrcRow, PowerContentLabel
from accounts.services.jrc import (
    JrcImportError,
    jrc_derive,
    jrc_import,
    jrc_rows_in_force,
    power_content_in_force,
)
from tests.mailers.conftest import DEMO

HEADER = (
    "program,rate_schedule,customer_class,effective_from,product,avg_monthly_kwh,"
    "utility_generation_rate,delivery_rate,pcia,franchise_fee,cca_generation_rate,"
    "utility_monthly_bill,cca_monthly_bill,difference,difference_pct\n"
)
GOOD = (
    "demo,D,residential,2027-01-01,light-green,500,0.17000,0.20000,0.02000,0.00076,0.14500,"
    "185.00,182.88,-2.12,-1.1\n"
)


def test_demo_tables_load_with_every_derived_column_consistent(demo_program):
    rows = jrc_rows_in_force(program=demo_program, on=dt.date(2027, 1, 4))
    assert len(rows) == 34  # 17 schedules x 2 products
    for r in rows:
        d = jrc_derive(
            kwh=r.avg_monthly_kwh,
            utility_generation_rate=r.utility_generation_rate,
            delivery_rate=r.delivery_rate,
            pcia=r.pcia,
            franchise_fee=r.franchise_fee,
            cca_generation_rate=r.cca_generation_rate,
        )
        assert (
            r.utility_monthly_bill,
            r.cca_monthly_bill,
            r.difference,
            r.difference_pct,
        ) == tuple(d.values())
    labels = power_content_in_force(program=demo_program, on=dt.date(2027, 1, 4))
    assert [p.source for p in labels] == ["deep-green", "light-green", "utility"]


def test_derived_columns_blank_are_computed_and_later_effective_date_wins(demo_program):
    jrc_import(
        jrc_file=io.StringIO(
            HEADER
            + "demo,D,residential,2027-01-01,light-green,500,0.17000,0.20000,0.02000,0.00076,"
            "0.14500,,,,\n"
        )
    )
    row = JrcRow.objects.get(
        rate_schedule="D", effective_from=dt.date(2027, 1, 1), product__code="light-green"
    )
    assert (row.utility_monthly_bill, row.cca_monthly_bill, row.difference, row.difference_pct) == (
        Decimal("185.00"),
        Decimal("182.88"),
        Decimal("-2.12"),
        Decimal("-1.1"),
    )
    on_new = [
        r
        for r in jrc_rows_in_force(
            program=demo_program, on=dt.date(2027, 1, 2), customer_class="residential"
        )
        if r.rate_schedule == "D"
    ]
    assert {r.effective_from for r in on_new} == {
        dt.date(2027, 1, 1),
        dt.date(2026, 1, 1),
    }  # deep-green has no 2027 row
    jrc_import(jrc_file=io.StringIO(HEADER + GOOD))  # again: updated, not duplicated
    assert JrcRow.objects.filter(rate_schedule="D", effective_from=dt.date(2027, 1, 1)).count() == 1


@pytest.mark.parametrize(
    "line, field",
    [
        (
            "demo,D,residential,2027-01-01,light-green,500,0.17000,0.20000,0.02000,0.00076,0.14500,185.00,190.00,-2.12,-1.1\n",
            "cca_monthly_bill",
        ),
        (
            "demo,D,residential,2027-01-01,light-green,500,0.17000,0.20000,0.02000,0.00076,0.14500,185.00,182.88,-2.12,-4.0\n",
            "difference_pct",
        ),
        (
            "demo,D,residential,2027-13-01,light-green,500,0.17000,0.20000,0.02000,0.00076,0.14500,,,,\n",
            "effective_from",
        ),
        (
            "demo,D,residential,2027-01-01,ultra-green,500,0.17000,0.20000,0.02000,0.00076,0.14500,,,,\n",
            "product",
        ),
        (
            "demo,D,retail,2027-01-01,light-green,500,0.17000,0.20000,0.02000,0.00076,0.14500,,,,\n",
            "customer_class",
        ),
        (
            "demo,D,residential,2027-01-01,light-green,abc,0.17000,0.20000,0.02000,0.00076,0.14500,,,,\n",
            "avg_monthly_kwh",
        ),
        (
            "demo,D,residential,2027-01-01,light-green,500,-0.1,0.20000,0.02000,0.00076,0.14500,,,,\n",
            "utility_generation_rate",
        ),
        (
            "nowhere,D,residential,2027-01-01,light-green,500,0.17000,0.20000,0.02000,0.00076,0.14500,,,,\n",
            "program",
        ),
    ],
)
def test_bad_row_rejected_with_line_and_field_and_nothing_written(demo_program, line, field):
    before = JrcRow.objects.count()
    with pytest.raises(JrcImportError) as err:
        jrc_import(jrc_file=io.StringIO(HEADER + GOOD.replace("2027-01-01", "2027-02-01") + line))
    assert err.value.errors[0].line == 3 and err.value.errors[0].field == field
    assert JrcRow.objects.count() == before


def test_duplicate_rows_and_bad_power_content_are_rejected(demo_program):
    with pytest.raises(JrcImportError, match="line 3: duplicate of line 2"):
        jrc_import(jrc_file=io.StringIO(HEADER + GOOD + GOOD))
    pc = (
        "program,year,source,name,renewable_pct,carbon_free_pct,ghg_lbs_per_mwh\n"
        "demo,2026,light-green,X,60,50,300\n"
    )
    with pytest.raises(JrcImportError, match="line 2: carbon_free_pct"):
        jrc_import(jrc_file=io.StringIO(HEADER + GOOD), power_content_file=io.StringIO(pc))
    assert not JrcRow.objects.filter(
        effective_from=dt.date(2027, 1, 1)
    ).exists()  # the good JRC file was not written either
    assert not PowerContentLabel.objects.filter(year=2026).exists()


def test_command_summary_and_error_exit(demo_program, tmp_path):
    out = io.StringIO()
    call_command(
        "import_jrc",
        str(DEMO / "jrc.csv"),
        "--power-content",
        str(DEMO / "power_content.csv"),
        stdout=out,
    )
    assert (
        "JRC rows: 0 created, 34 updated; power content labels: 0 created, 3 updated"
        in out.getvalue()
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + GOOD.replace(",500,", ",0,"))
    with pytest.raises(CommandError, match="line 2: avg_monthly_kwh"):
        call_command("import_jrc", str(bad))
