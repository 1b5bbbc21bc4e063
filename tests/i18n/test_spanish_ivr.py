"""Every IVR prompt a Spanish caller hears after pressing 2 is Spanish."""

import datetime as dt

import pytest

from accounts.models import Status
from tests.i18n.test_spanish_everywhere import assert_spanish
from tests.optouts.test_ivr import Call

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("status", "enrolled", "keys"),
    [
        (Status.NOTIFIED, None, ["1"]),  # before enrollment, confirmed
        (Status.ENROLLED, dt.date(2027, 2, 2), ["2"]),  # in the free window, cancelled
        (Status.PARTICIPANT, dt.date(2026, 1, 2), ["1", "1"]),  # a fee, advance notice
        (Status.PARTICIPANT, dt.date(2026, 1, 2), ["2", "1"]),  # a fee, transitional service
        (Status.PARTICIPANT, dt.date(2026, 1, 2), ["9", "*"]),  # not understood, then an agent
        (Status.OPTED_OUT_FREE, None, []),  # already opted out
        (Status.MOVED_OUT, None, []),  # closed
    ],
)
def test_a_spanish_call_hears_only_spanish(
    client, make_account, program, today, status, enrolled, keys
):
    account = make_account(status=status, enrollment_date=enrolled, account_number="3055555555")
    call = Call(client, program).start().press("2")
    heard = [call.said]
    for step in ["12#", "3055555555#", "00000", "3055555555#", account.service_zip, *keys]:
        if call.xml.find("Gather") is None:
            break
        heard.append(call.press(step).said)
    for text in heard:
        assert_spanish(text, account, "IVR prompt")
