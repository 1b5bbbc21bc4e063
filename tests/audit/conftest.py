"""Fixtures for the logs and audit tests: the intake fixtures, and one customer whose every field
is distinctive enough to be found in any text."""

import datetime as dt

import pytest

from accounts.models import Status
from tests.optouts.conftest import (  # noqa: F401  (fixtures)
    _clear_cache,
    groups,
    make_account,
    program,
    staff,
    today,
)

CUSTOMER = {
    "account_number": "8675309123",
    "customer_name": "ZEBULON QUIXOTIC-FARNSWORTH",
    "service_address": "7319 XYLOPHONE CRESCENT",
    "mailing_address": "PO BOX 90817 UMBRAGE LANE",
    "email": "zebulon.q@farnsworth-mail.example",
    "phone": "+14155559173",
}
# What must appear in no log record: each field, and the forms people write them in.
NEEDLES = [
    "8675309123",
    "zebulon",
    "quixotic",
    "farnsworth",
    "xylophone",
    "umbrage",
    "90817",
    "4155559173",
    "555-9173",
    "5559173",
]


@pytest.fixture
def customer(make_account):  # noqa: F811 (the imported fixture)
    def make(**kw):
        kw.setdefault("status", Status.ENROLLED)
        kw.setdefault("enrollment_date", dt.date(2027, 2, 2))
        return make_account(**{**CUSTOMER, **kw})

    return make
