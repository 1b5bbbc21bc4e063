import csv

import pytest

from accounts.models import CustomerClass, Phase
from tests.factories import PhaseFactory, ProductFactory, ProgramFactory, RateScheduleFactory

HEADER = [
    "account_number",
    "customer_name",
    "service_address",
    "service_city",
    "service_zip",
    "mailing_address",
    "mailing_city",
    "mailing_state",
    "mailing_zip",
    "customer_class",
    "rate_schedule",
    "read_cycle",
    "language",
    "email",
    "phone",
    "care",
    "nem",
    "medical_baseline",
    "direct_access",
    "phase",
]


def row(n=1, **over):
    base = {
        "account_number": f"30000000{n:02d}",
        "customer_name": f"Maria Lopez {n}",
        "service_address": f"{100 + n} North Main Street Apartment 4",
        "service_city": "San Rafael",
        "service_zip": "94901",
        "mailing_address": "",
        "mailing_city": "",
        "mailing_state": "",
        "mailing_zip": "",
        "customer_class": "residential",
        "rate_schedule": "D",
        "read_cycle": "3",
        "language": "es",
        "email": f"m{n}@example.org",
        "phone": f"(415) 555-01{n % 100:02d}",
        "care": "N",
        "nem": "N",
        "medical_baseline": "N",
        "direct_access": "N",
        "phase": "Phase 1",
    }
    base.update(over)
    return base


@pytest.fixture
def write_csv(tmp_path):
    def write(rows, name="eligible.csv", header=None):
        header = header or list(dict.fromkeys(HEADER + [k for r in rows for k in r]))
        path = tmp_path / name
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=header)
            w.writeheader()
            for r in rows:
                w.writerow(r)
        return path

    return write


@pytest.fixture
def program(db):
    prog = ProgramFactory(slug="marin")
    PhaseFactory(program=prog, name="Phase 1", number=1)
    PhaseFactory(
        program=prog,
        name="Phase 2",
        number=2,
        rule=Phase.Rule.CUSTOMER_CLASS,
        rule_values=["small_commercial"],
    )
    ProductFactory(program=prog, code="light-green", is_default=True)
    ProductFactory(program=prog, code="deep-green", name="Deep Green", is_default=False)
    for code, klass in [
        ("D", CustomerClass.RESIDENTIAL),
        ("D-CARE", CustomerClass.RESIDENTIAL),
        ("GS-1", CustomerClass.SMALL_COMMERCIAL),
    ]:
        RateScheduleFactory(utility=prog.utility, code=code, customer_class=klass)
    return prog
