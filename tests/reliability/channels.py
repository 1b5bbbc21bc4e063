"""Each opt-out channel driven as its user drives it, through the test client: the customer's web
form, a phone call to the IVR (signed as Twilio signs), the call-centre agent screen and the API.
Each returns the HTTP status of the step that records the opt-out."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from django.contrib.auth.models import Permission, User
from knox.models import AuthToken
from rest_framework.test import APIClient
from twilio.request_validator import RequestValidator

from tests.factories import grant_programs

TWILIO_TOKEN = "test-auth-token-0123456789abcdef"


def web_optout(client, account, *, email="me@example.net", addr="198.51.100.7") -> int:
    page = client.post(
        "/opt-out/",
        {"account_number": account.account_number, "zip_code": account.service_zip},
        REMOTE_ADDR=addr,
    )
    if page.status_code != 200:
        return page.status_code
    token = re.search(r'name="t" value="([^"]+)"', page.content.decode())
    assert token is not None, page.content.decode()[:500]
    done = client.post(
        "/opt-out/confirm/", {"t": token.group(1), "contact_email": email}, REMOTE_ADDR=addr
    )
    return done.status_code


class IvrCall:
    def __init__(self, client, program, caller) -> None:
        self.client = client
        self.base = {"CallSid": f"CA{caller[-6:]}", "From": caller, "To": program.ivr_phone}
        self.xml: ET.Element | None = None

    def post(self, path, **extra) -> int:
        data = {**self.base, **extra}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(
            f"http://testserver{path}", data
        )
        response = self.client.post(path, data, HTTP_X_TWILIO_SIGNATURE=signature)
        if response.status_code == 200:
            self.xml = ET.fromstring(response.content)
        return response.status_code

    def press(self, keys) -> int:
        assert self.xml is not None
        gather = self.xml.find("Gather")
        action = gather.get("action") if gather is not None else None
        if action is None:  # a redirect to the next prompt
            redirect = self.xml.find("Redirect")
            assert redirect is not None, ET.tostring(self.xml)
            self.post(redirect.text)
            return self.press(keys)
        return self.post(action, Digits=keys)

    @property
    def said(self) -> str:
        return " ".join(s.text or "" for s in self.xml.iter("Say")) if self.xml is not None else ""


def ivr_optout(client, program, account, *, caller="+14155550199") -> tuple[int, str]:
    """A whole call: language, account number, ZIP, confirm. Returns the last status and what
    the IVR said last (the confirmation code, digit by digit, when recorded)."""
    call = IvrCall(client, program, caller)
    status = 0
    for n, step in enumerate(
        (
            lambda: call.post("/ivr/voice/"),
            lambda: call.press("1"),
            lambda: call.press(f"{account.account_number}#"),
            lambda: call.press(account.service_zip),
            lambda: call.press("1"),
        )
    ):
        if n and call.xml is not None and call.xml.find("Gather") is None:
            break  # the call ended early (handed to an agent)
        status = step()
        if status != 200:
            return status, ""
    return status, call.said


def agent_optout(client, account, *, channel="phone") -> int:
    done = client.post(
        f"/admin/optouts/optoutrequest/agent/?account={account.pk}", {"channel": channel}
    )
    return done.status_code


def api_client(name="utility-feed") -> APIClient:
    user = grant_programs(User.objects.create_user(name))
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["record_optout", "view_optoutrequest"])
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return client


def api_optout(client, account, *, key="") -> int:
    body = {
        "program": account.program.slug,
        "account_number": account.account_number,
        "channel": "utility_transfer",
    }
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/opt-outs/", body, format="json", **extra).status_code
