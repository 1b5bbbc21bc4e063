import datetime as dt
from pathlib import Path

import pytest

from accounts.models import DEFAULT_ADMIN_FEES, FeeSchedule, Product
from accounts.services.jrc import jrc_import
from tests.factories import PhaseFactory, ProgramFactory, ServiceAccountFactory

DEMO = Path(__file__).resolve().parents[2] / "accounts" / "demo"


@pytest.fixture
def demo_program(db):
    """The demo program's letter-relevant parts, with the demo JRC and power content loaded."""
    program = ProgramFactory(
        slug="demo",
        name="Inland Valley Clean Energy",
        short_name="IVCE",
        phone="+19515550100",
        ivr_phone="+19515550101",
        tty_phone="+19515550102",
        website="https://ivce.example.org",
        email="info@ivce.example.org",
        return_address="Inland Valley Clean Energy\nPO Box 1000\nTemecula CA 92593-1000",
        free_window_days=60,
        cutoff_days=5,
        cutoff_unit="business",
    )
    program.utility.phone = "+18006554555"
    program.utility.save()
    Product.objects.create(
        program=program,
        code="light-green",
        name="Light Green",
        renewable_pct=50,
        carbon_free_pct=75,
        is_default=True,
    )
    Product.objects.create(
        program=program,
        code="deep-green",
        name="Deep Green",
        renewable_pct=100,
        carbon_free_pct=100,
    )
    for klass, fee in DEFAULT_ADMIN_FEES.items():
        FeeSchedule.objects.create(
            program=program, customer_class=klass, effective_from=dt.date(2025, 1, 1), admin_fee=fee
        )
    jrc_import(jrc_file=DEMO / "jrc.csv", power_content_file=DEMO / "power_content.csv")
    return program


@pytest.fixture
def make_account(demo_program):
    phase = PhaseFactory(
        program=demo_program,
        name="Phase 1",
        number=1,
        enrollment_start=dt.date(2027, 3, 1),
        enrollment_end=dt.date(2027, 3, 31),
    )

    def make(**kw):
        kw.setdefault("program", demo_program)
        kw.setdefault("phase", phase)
        kw.setdefault("customer_name", "MARIA L GONZALEZ")
        kw.setdefault("mailing_address", "41250 WINCHESTER RD APT 12")
        kw.setdefault("mailing_city", "TEMECULA")
        kw.setdefault("mailing_zip", "92590-4807")
        kw.setdefault("enrollment_date", dt.date(2027, 3, 9))
        return ServiceAccountFactory(**kw)

    return make
