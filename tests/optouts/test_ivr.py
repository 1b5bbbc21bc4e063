"""The IVR, driven as Twilio drives it: signed POSTs following each Gather's action URL."""

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone
from twilio.request_validator import RequestValidator

from accounts.models import Status, StatusChange
from optouts.ivr import STATE_MAX_AGE, digits
from optouts.models import IvrCall, OptOutRequest

pytestmark = pytest.mark.django_db
TOKEN = "test-auth-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def twilio_token(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN


class Call:
    """One phone call: remembers where the last TwiML sends the next keypress."""

    def __init__(self, client, program):
        self.client, self.program = client, program
        self.base = {"CallSid": "CA123", "From": "+14155550199", "To": program.ivr_phone}
        self.xml = None

    def post(self, path, **extra):
        data = {**self.base, **extra}
        signature = RequestValidator(TOKEN).compute_signature(f"http://testserver{path}", data)
        response = self.client.post(path, data, HTTP_X_TWILIO_SIGNATURE=signature)
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/xml")
        self.xml = ET.fromstring(response.content)
        return self

    def start(self):
        return self.post("/ivr/voice/")

    def press(self, keys):
        return self.post(self.action, Digits=keys)

    @property
    def action(self):
        return self.xml.find("Gather").get("action")

    @property
    def said(self):
        return " ".join(s.text for s in self.xml.iter("Say"))


def test_english_opt_out_end_to_end(client, make_account, program, today):
    account = make_account(
        status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2), account_number="3012345678"
    )
    call = Call(client, program).start()
    assert "For English, press 1" in call.said and "Para español" in call.said
    call.press("1")
    assert "account number" in call.said
    call.press("3012345678#")
    assert "ZIP code" in call.said
    call.press(account.service_zip)
    assert (
        digits("3012345678") in call.said and "April 2, 2027" in call.said and "no fee" in call.said
    )
    assert not OptOutRequest.objects.exists()  # nothing recorded before the caller confirms
    call.press("1")
    r = OptOutRequest.objects.get()
    assert r.channel == "ivr" and r.language == "en"
    assert digits(r.confirmation_code) in call.said  # spoken digit by digit
    assert call.xml.find("Hangup") is not None
    account.refresh_from_db()
    assert account.status == Status.OPTED_OUT_FREE


def test_spanish_after_free_window_with_the_choice_of_return(client, make_account, program, today):
    account = make_account(
        status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2), account_number="3099999999"
    )
    call = Call(client, program).start().press("2")
    assert "número de cuenta" in call.said
    assert call.xml.find("Gather/Say").get("language") == "es-US"
    call.press("3099999999#").press(account.service_zip)
    assert "6 dólares con 25 centavos" in call.said and "oprima 2" in call.said
    call.press("2")
    assert "servicio de transición" in call.said
    call.press("1")
    r = OptOutRequest.objects.get()
    assert (r.return_path, r.language, str(r.fee_amount)) == ("transitional", "es", "6.25")
    assert "Su baja quedó registrada" in call.said


def test_cancel_records_nothing(client, make_account, program, today):
    account = make_account(account_number="3011111111")
    Call(client, program).start().press("1").press("3011111111#").press(account.service_zip).press(
        "2"
    )
    assert not OptOutRequest.objects.exists() and not StatusChange.objects.exists()


def test_bad_input_retries_then_transfers_to_an_agent(client, make_account, program, today):
    call = Call(client, program).start().press("1")
    call.press("12#")
    assert "not a valid account number" in call.said and call.xml.find("Gather") is not None
    call.press("12#")
    call.press("12#")
    assert call.xml.find("Dial").text == program.call_centre_phone


def test_unknown_account_and_wrong_zip_sound_the_same(client, make_account, program, today):
    make_account(account_number="3022222222", service_zip="94901")
    wrong_zip = Call(client, program).start().press("1").press("3022222222#").press("90210").said
    unknown = Call(client, program).start().press("1").press("3000000001#").press("94901").said
    assert wrong_zip == unknown and "could not find an account" in unknown


def test_star_reaches_an_agent(client, program):
    call = Call(client, program).start().press("1").press("*")
    assert call.xml.find("Dial").text == program.call_centre_phone


def test_a_repeat_call_hears_the_first_code(client, make_account, program, today):
    account = make_account(account_number="3033333333")
    Call(client, program).start().press("1").press("3033333333#").press(account.service_zip).press(
        "1"
    )
    code = OptOutRequest.objects.get().confirmation_code
    again = Call(client, program).start().press("1").press("3033333333#").press(account.service_zip)
    assert "already opted out" in again.said and digits(code) in again.said
    assert OptOutRequest.objects.count() == 1


@pytest.mark.parametrize("signature", ["", "bm90IHRoZSByaWdodCBvbmU="])
def test_unsigned_or_badly_signed_requests_are_refused_in_debug_too(
    client, program, settings, signature
):
    settings.DEBUG = True
    headers = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
    assert client.post("/ivr/voice/", {"To": program.ivr_phone}, **headers).status_code == 403


def test_tampered_parameters_are_refused(client, program):
    data = {"To": program.ivr_phone, "Digits": "1"}
    signature = RequestValidator(TOKEN).compute_signature("http://testserver/ivr/voice/", data)
    assert (
        client.post(
            "/ivr/voice/", {**data, "Digits": "2"}, HTTP_X_TWILIO_SIGNATURE=signature
        ).status_code
        == 403
    )


def test_no_token_configured_refuses_everything(client, program, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    signature = RequestValidator("").compute_signature(
        "http://testserver/ivr/voice/", {"To": program.ivr_phone}
    )
    assert (
        client.post(
            "/ivr/voice/", {"To": program.ivr_phone}, HTTP_X_TWILIO_SIGNATURE=signature
        ).status_code
        == 403
    )


def test_the_called_number_picks_the_program(client, make_account, program, today):
    from tests.factories import ProgramFactory

    other = ProgramFactory(
        slug="other",
        name="Other Community Power",
        utility=program.utility,
        ivr_phone="+18005559999",
    )
    call = Call(client, other).start()
    assert "Other Community Power" in call.said


SHARED_KEY_ID = "webhooks_sharedkey_0123"
SHARED_SECRET = "shared-secret-fedcba9876543210"


def _post_signed(client, program, *, secret, settings_header, algorithm="HMAC_SHA256"):
    data = {"To": program.ivr_phone}
    signature = RequestValidator(secret).compute_signature(
        "http://testserver/ivr/voice/", data, algorithm
    )
    headers = {"HTTP_X_TWILIO_SIGNATURE": signature}
    if settings_header:
        headers["HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS"] = settings_header
    return client.post("/ivr/voice/", data, **headers)


def test_a_webhook_signed_with_a_configured_shared_key_is_accepted(client, program, settings):
    settings.TWILIO_WEBHOOK_SHARED_KEYS = {SHARED_KEY_ID: SHARED_SECRET}
    header = f"key={SHARED_KEY_ID},algorithm=HMAC_SHA256"
    response = _post_signed(client, program, secret=SHARED_SECRET, settings_header=header)
    assert response.status_code == 200 and b"<Gather" in response.content


@pytest.mark.parametrize(
    "keys, secret",
    [
        ({}, SHARED_SECRET),  # the key it names is not configured (or was retired)
        ({SHARED_KEY_ID: SHARED_SECRET}, TOKEN),  # names the key, signed with the auth token
        ({SHARED_KEY_ID: SHARED_SECRET}, "another-secret"),
    ],
)
def test_a_shared_key_signature_is_checked_with_that_key_only(
    client, program, settings, keys, secret
):
    settings.TWILIO_WEBHOOK_SHARED_KEYS = keys
    header = f"key={SHARED_KEY_ID},algorithm=HMAC_SHA256"
    assert _post_signed(client, program, secret=secret, settings_header=header).status_code == 403


def test_the_auth_token_signs_with_sha256_when_the_header_names_only_the_algorithm(client, program):
    response = _post_signed(client, program, secret=TOKEN, settings_header="algorithm=HMAC_SHA256")
    assert response.status_code == 200


# --- call state stays on the server -----------------------------------------------------------


def _urls(xml) -> list[str]:
    return [g.get("action") for g in xml.iter("Gather")] + [r.text for r in xml.iter("Redirect")]


def test_no_url_carries_what_the_caller_keyed(client, make_account, program, today):
    """The carrier logs every URL it calls: the account number and ZIP (readable in the old
    signed `s=` state) must not be in any of them."""
    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    call = Call(client, program).start()
    seen = _urls(call.xml)
    for keys in ("1", f"{account.account_number}#", account.service_zip, "1", "1"):
        call.press(keys)
        seen += _urls(call.xml)
    assert OptOutRequest.objects.get().return_path == "advance_notice"
    assert seen and all("?" not in url for url in seen), seen
    assert not IvrCall.objects.exists()  # the call ended: its state is gone


def test_a_state_for_one_step_posted_to_another_step_gets_a_spoken_error(
    client, make_account, program, today
):
    """A genuine (signed) request for a step the call was not sent to: it used to raise KeyError
    (a 500) when the state of the account step reached the confirm step."""
    make_account(account_number="3044444444")
    call = Call(client, program).start().press("1")
    query = call.action.partition("?")[2]
    assert call.action.startswith("/ivr/account/")
    call.post("/ivr/confirm/" + (f"?{query}" if query else ""), Digits="1")
    assert "something went wrong" in call.said
    assert call.xml.find("Redirect").text == "/ivr/voice/"
    assert not OptOutRequest.objects.exists()
    # The call goes on from the step it was sent to.
    call.post("/ivr/account/", Digits="3044444444#")
    assert "ZIP code" in call.said


def test_another_call_cannot_continue_this_one(client, make_account, program, today):
    account = make_account(account_number="3055555555")
    call = Call(client, program).start().press("1").press("3055555555#")
    stranger = Call(client, program)
    stranger.base = {**stranger.base, "CallSid": "CA-other"}
    stranger.post("/ivr/zip/", Digits=account.service_zip)
    assert stranger.xml.find("Redirect").text == "/ivr/voice/" and not stranger.said
    call.press(account.service_zip)  # the real call is unaffected
    assert digits("3055555555") in call.said


def test_a_call_state_expires(client, make_account, program, today):
    make_account(account_number="3066666666")
    call = Call(client, program).start().press("1")
    IvrCall.objects.update(updated_at=timezone.now() - dt.timedelta(seconds=STATE_MAX_AGE + 1))
    call.press("3066666666#")
    assert call.xml.find("Redirect").text == "/ivr/voice/" and "ZIP" not in call.said
    Call(client, program).start()  # a new call purges the stale row
    assert list(IvrCall.objects.values_list("steps", flat=True)) != []
    assert (
        IvrCall.objects.filter(updated_at__lt=timezone.now() - dt.timedelta(minutes=1)).count() == 0
    )
