import pytest

from tests.factories import ProgramFactory, ServiceAccountFactory, staff_user
from tests.optouts import conftest as intake

# The intake tests' fixtures: a program with its read dates and fees, accounts, the roles' groups.
program = intake.program
make_account = intake.make_account
today = intake.today
groups = intake.groups
_clear_cache = intake._clear_cache


@pytest.fixture
def other_program(program):
    return ProgramFactory(slug="other", name="Other Community Power", utility=program.utility)


@pytest.fixture
def other_account(other_program):
    return ServiceAccountFactory(program=other_program, account_number="4000000001")


@pytest.fixture
def role(groups, program, other_program):
    """role("Supervisor") → a staff user in that group, granted the `program` fixture only."""

    def make(group, username=None, **extra):
        return staff_user(
            username or group.lower().replace(" ", "-"), group, programs=[program], **extra
        )

    return make
