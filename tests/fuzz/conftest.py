"""Shared set-up for the bad-input tests: one program, and the files each command reads."""

import pytest

from tests.factories import PhaseFactory, RateScheduleFactory
from tests.optouts import conftest as optouts

# The opt-out tests' fixtures, shared.
_clear_cache, groups, make_account = optouts._clear_cache, optouts.groups, optouts.make_account
program, staff, today = optouts.program, optouts.staff, optouts.today

# A valid header for every file the app reads (docs/formats/), so a test can put one bad thing
# after it and see the reader name the line.
HEADERS = {
    "import_accounts": (
        "account_number,customer_name,service_address,service_city,service_zip,"
        "mailing_address,mailing_city,mailing_state,mailing_zip,customer_class,rate_schedule,"
        "read_cycle,language,email,phone,care,nem,medical_baseline,direct_access,phase"
    ),
    "import_read_schedule": "read_cycle,read_date",
    "import_jrc": (
        "program,rate_schedule,customer_class,effective_from,product,avg_monthly_kwh,"
        "utility_generation_rate,delivery_rate,pcia,franchise_fee,cca_generation_rate"
    ),
    "import_moves": "old_account_number,new_account_number,move_type,move_date",
    "import_ccasr_responses": "request_id,result,reason_code,reason,utility_reference",
    "import_mail_house_report": "piece_id,event,date,reason",
    "import_fee_billing": "entry_id,account_number,amount,billed_on,billing_reference",
    "load_program": '[program]\nslug = "clean"',
}
# The commands that take --program.
WITH_PROGRAM = {"import_accounts", "import_read_schedule", "import_moves"}


@pytest.fixture
def file_program(program):
    """The opt-out tests' program, with what an eligible-customer file names."""
    PhaseFactory(program=program, name="Phase 1", number=1)
    RateScheduleFactory(utility=program.utility, code="D")
    return program


def command_args(command: str, path) -> list[str]:
    return [command, str(path), *(["--program", "clean"] if command in WITH_PROGRAM else [])]
