import datetime as dt

import pytest

from accounts.models import ReadDate
from tests.factories import PhaseFactory, ProgramFactory, UtilityFactory


def monthly_reads(first: dt.date, count: int = 14, step: int = 30) -> list[dt.date]:
    return [first + dt.timedelta(days=step * i) for i in range(count)]


@pytest.fixture
def utility(db):
    return UtilityFactory()


@pytest.fixture
def program(utility):
    return ProgramFactory(slug="marin", utility=utility)


@pytest.fixture
def phase(program):
    return PhaseFactory(
        program=program,
        name="Phase 1",
        enrollment_start=dt.date(2027, 3, 1),
        enrollment_end=dt.date(2027, 3, 31),
    )


@pytest.fixture
def reads(utility):
    """Cycle 1 reads on 2027-03-02 then every 30 days; cycle 2 on 2027-03-16 …; cycle 3 has no
    read in March 2027 (it reads in February and April)."""
    rows = []
    for cycle, first in ((1, dt.date(2026, 12, 2)), (2, dt.date(2026, 12, 16))):
        rows += [
            ReadDate(utility=utility, read_cycle=cycle, read_date=d) for d in monthly_reads(first)
        ]
    rows += [
        ReadDate(utility=utility, read_cycle=3, read_date=d)
        for d in (dt.date(2027, 2, 20), dt.date(2027, 4, 3), dt.date(2027, 5, 3))
    ]
    ReadDate.objects.bulk_create(rows)
    return rows
