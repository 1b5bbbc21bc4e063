"""hypothesis over the customer's two channels, as a browser and as Twilio send them.

Web form: the find step (account number, ZIP, personal code) and the confirm step (the signed
token, return path, e-mail), in English and Spanish. IVR: every step with any Digits, CallSid,
From and To, properly signed, with the state the IVR itself issued, a forged one or none.
Whatever is sent: no 500, no traceback, and at most one opt-out for the account."""

import datetime as dt
import re
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from accounts.models import Status
from optouts.models import OptOutRequest

pytestmark = pytest.mark.django_db
FAST = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
TOKEN = "fuzz-auth-token-0123456789abcdef"
ACCOUNT, ZIP = "3012345678", "94901"

# Text a person or a script might type: anything, including a NUL, plus the real values.
typed = st.one_of(
    st.text(max_size=40), st.text(alphabet="0123456789#* ", max_size=14), st.just("x" * 5000)
)


def field(real: str):
    return st.one_of(st.just(real), typed)


@pytest.fixture
def account(make_account, today):
    return make_account(
        status=Status.ENROLLED,
        enrollment_date=dt.date(2027, 2, 2),
        account_number=ACCOUNT,
        service_zip=ZIP,
    )


def no_server_error(response):
    assert response.status_code < 500, response.content[:500]
    assert b"Traceback" not in response.content


@FAST
@given(
    lang=st.sampled_from(["", "/es"]),
    number=field(ACCOUNT),
    zip_code=field(ZIP),
    code=st.one_of(st.just(""), typed),
    return_path=st.one_of(st.sampled_from(["advance_notice", "transitional", ""]), typed),
    email=st.one_of(st.just(""), st.just("a@example.org"), typed),
    forged=st.one_of(st.none(), typed),
)
def test_the_web_form_answers_every_input_without_a_server_error(
    account, lang, number, zip_code, code, return_path, email, forged
):
    cache.clear()  # the rate limit would otherwise answer every later example
    client = Client(raise_request_exception=False)
    found = client.post(
        f"{lang}/opt-out/", {"account_number": number, "zip_code": zip_code, "code": code}
    )
    no_server_error(found)
    match = re.search(rb'name="t" value="([^"]+)"', found.content)
    token = match.group(1).decode() if match and forged is None else (forged or "")
    confirmed = client.post(
        f"{lang}/opt-out/confirm/",
        {"t": token, "return_path": return_path, "contact_email": email},
    )
    no_server_error(confirmed)
    no_server_error(client.get(f"{lang}/opt-out/done/", {"t": token}))
    no_server_error(client.get(f"{lang}/opt-out/", {"code": code}))
    assert OptOutRequest.objects.filter(account=account).count() <= 1


class Call:
    """A signed Twilio call that follows the action URLs the IVR gives back."""

    def __init__(self, client, fields):
        self.client, self.fields = client, fields

    def post(self, path, **extra):
        data = {**self.fields, **extra}
        url = f"http://testserver{path}"
        signature = RequestValidator(TOKEN).compute_signature(url, data)
        response = self.client.post(path, data, HTTP_X_TWILIO_SIGNATURE=signature)
        no_server_error(response)
        return response

    @staticmethod
    def next_url(response) -> str | None:
        if response.status_code != 200:
            return None
        xml = ET.fromstring(response.content)
        gather, redirect = xml.find("Gather"), xml.find("Redirect")
        if gather is not None:
            return gather.get("action")
        return redirect.text if redirect is not None else None


STEPS = ["voice", "language", "account", "zip", "path", "confirm", "agent"]


@FAST
@given(
    presses=st.lists(st.one_of(st.sampled_from(["1", "2", ACCOUNT + "#", ZIP]), typed), max_size=6),
    call_sid=field("CA123"),
    caller=field("+14155550199"),
    step=st.sampled_from(STEPS),
    state=st.one_of(st.none(), typed),
    digits=typed,
)
def test_the_ivr_answers_every_input_without_a_server_error(
    settings, account, program, presses, call_sid, caller, step, state, digits
):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    cache.clear()
    call = Call(Client(raise_request_exception=False), {"CallSid": call_sid, "From": caller})
    call.fields["To"] = program.ivr_phone
    # A call that follows the IVR: each press posted to the URL the last answer gave.
    url = call.next_url(call.post("/ivr/voice/"))
    for keys in presses:
        if url is None:
            break
        url = call.next_url(call.post(url, Digits=keys))
    # A request to any step with a forged or missing state.
    query = "" if state is None else "?" + urlencode({"s": state})
    call.post(f"/ivr/{step}/{query}", Digits=digits)
    assert OptOutRequest.objects.filter(account=account).count() <= 1
