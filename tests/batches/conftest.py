import datetime as dt

import pytest

from cca_notices.models import Notice
from tests.mailers.conftest import demo_program, make_account  # noqa: F401  (fixtures)

MAIL_DATE = dt.date(2027, 1, 8)
TODAY = dt.date(2027, 1, 6)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    """Business 'today' is fixed so the mail-date limits hold whatever day the suite runs."""
    monkeypatch.setattr("cca_notices.services.batches.business_today", lambda: TODAY)


@pytest.fixture
def program(demo_program):  # noqa: F811  (the imported fixture)
    demo_program.mailer_id = "801234"
    demo_program.save()
    return demo_program


@pytest.fixture
def notice_for(program):
    def make(
        account, *, kind="pre_enrollment_1", mail_date=MAIL_DATE, status=Notice.Status.SCHEDULED
    ):
        return Notice.objects.create(
            account=account,
            program=program,
            kind=kind,
            rule_set="ca_rule23",
            enrollment_date=dt.date(2027, 3, 9),
            mail_date=mail_date,
            status=status,
        )

    return make
