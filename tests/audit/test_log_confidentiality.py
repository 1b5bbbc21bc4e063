"""No customer name, address, phone, e-mail or account number in any log record.

Every record of a full opt-out in each channel (web, IVR, agent screen, API, reply cards), a
refused one, an import with bad rows and an IVR call is captured at DEBUG, then searched: its
message, arguments, exception and stack text, every `extra` attribute, and the JSON line the
production formatter writes.
"""

import datetime as dt
import logging
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.log_format import JsonFormatter, RequestIdFilter
from accounts.models import Status
from optouts.models import OptOutRequest
from tests.audit.conftest import CUSTOMER, NEEDLES
from tests.factories import grant_programs
from tests.importing.conftest import HEADER, row
from tests.optouts.test_ivr import TOKEN, Call

pytestmark = pytest.mark.django_db

_STANDARD = set(vars(logging.LogRecord("n", 10, "p", 1, "m", None, None))) | {"message"}
_plain = logging.Formatter()
_json = JsonFormatter()
_request_id = RequestIdFilter()


def record_texts(record: logging.LogRecord) -> list[str]:
    texts = [record.getMessage(), repr(record.args), str(record.msg)]
    if record.exc_info:
        texts.append(_plain.formatException(record.exc_info))
    if record.exc_text:
        texts.append(record.exc_text)
    if record.stack_info:
        texts.append(record.stack_info)
    texts += [f"{k}={v!r}" for k, v in vars(record).items() if k not in _STANDARD]
    _request_id.filter(record)
    texts.append(_json.format(record))
    return texts


def leaks(records) -> list[str]:
    found = []
    for record in records:
        for text in record_texts(record):
            for needle in NEEDLES:
                if needle in text.lower():
                    found.append(f"{record.name} {record.levelname}: {needle!r} in {text[:300]!r}")
    return found


@pytest.fixture
def logs(caplog):
    """Every record at DEBUG, Django's request logger included."""
    for name in ("", "django", "django.request", "accounts", "cca_notices", "optouts", "celery"):
        caplog.set_level(logging.DEBUG, logger=name)
    django_request = logging.getLogger("django.request")
    django_request.addHandler(caplog.handler)
    yield caplog
    django_request.removeHandler(caplog.handler)


def assert_no_customer_data(caplog):
    assert caplog.records, "nothing was logged: the capture is not working"
    problems = leaks(caplog.records)
    assert not problems, "\n".join(problems)


def test_the_search_finds_a_customer_field_in_message_extra_and_exception(logs):
    log = logging.getLogger("optouts.test")
    log.info("recorded for %s", CUSTOMER["customer_name"])
    log.info("ok", extra={"contact": CUSTOMER["email"]})
    try:
        raise ValueError(f"bad number {CUSTOMER['account_number']}")
    except ValueError:
        log.exception("failed")
    assert len(leaks(logs.records)) >= 3


def _web_optout(client, account, **extra):
    page = client.post(
        "/opt-out/",
        {"account_number": account.account_number, "zip_code": account.service_zip},
    )
    token = re.search(r'name="t" value="([^"]+)"', page.content.decode())
    assert token, page.content.decode()[:500]
    return client.post("/opt-out/confirm/", {"t": token.group(1), **extra})


def test_web_opt_out(client, customer, today, logs, django_capture_on_commit_callbacks):
    account = customer()
    with django_capture_on_commit_callbacks(execute=True):
        done = _web_optout(client, account, contact_email=CUSTOMER["email"])
    assert done.status_code == 302
    client.get(done["Location"])
    assert OptOutRequest.objects.get().channel == "web"
    logging.getLogger("optouts").debug("web opt-out %s done", OptOutRequest.objects.get().pk)
    assert_no_customer_data(logs)


def test_ivr_call_and_opt_out(client, customer, program, today, settings, logs):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    account = customer()
    call = Call(client, program)
    call.base["From"] = CUSTOMER["phone"]
    call.start().press("1").press(f"{account.account_number}#").press(account.service_zip)
    call.press("1")
    assert OptOutRequest.objects.get().channel == "ivr"
    # And a call refused for its signature (logged as a warning).
    assert client.post("/ivr/voice/", {"From": CUSTOMER["phone"]}).status_code == 403
    assert_no_customer_data(logs)


def test_agent_screen_opt_out_with_sms(
    client, customer, staff, today, logs, django_capture_on_commit_callbacks
):
    account = customer(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    client.force_login(staff["agent"])
    client.get("/admin/optouts/optoutrequest/agent/", {"q": CUSTOMER["customer_name"]})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/admin/optouts/optoutrequest/agent/?account={account.pk}",
            {
                "channel": "phone",
                "return_path": "transitional",
                "contact_phone": CUSTOMER["phone"],
                "contact_email": CUSTOMER["email"],
            },
        )
    assert OptOutRequest.objects.get().channel == "phone"
    assert_no_customer_data(logs)


def _api_client():
    user = grant_programs(User.objects.create_user("utility-feed"))
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["record_optout", "view_optoutrequest"])
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return api


def test_api_opt_out_and_refusal(
    customer, program, today, logs, django_capture_on_commit_callbacks
):
    account = customer()
    api = _api_client()
    body = {
        "program": program.slug,
        "account_number": account.account_number,
        "channel": "utility_transfer",
        "contact_email": CUSTOMER["email"],
        "contact_phone": CUSTOMER["phone"],
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/opt-outs/", body, format="json").status_code in (200, 201)
    # A refused one: opt-outs before the first notice are closed for this program.
    program.accept_optouts_before_notice = False
    program.save()
    refused = customer(account_number="8675309124", status=Status.ELIGIBLE, enrollment_date=None)
    answer = api.post(
        "/api/v1/opt-outs/", {**body, "account_number": refused.account_number}, format="json"
    )
    assert answer.status_code == 409
    unknown = api.post("/api/v1/opt-outs/", {**body, "account_number": "8675309999"}, format="json")
    assert unknown.status_code == 404
    assert_no_customer_data(logs)


def test_refused_web_opt_out_and_wrong_zip(client, customer, program, today, logs):
    program.accept_optouts_before_notice = False
    program.save()
    account = customer(status=Status.ELIGIBLE, enrollment_date=None)
    client.post("/opt-out/", {"account_number": account.account_number, "zip_code": "00000"})
    client.post("/opt-out/", {"account_number": account.account_number, "zip_code": "94901"})
    assert not OptOutRequest.objects.exists()
    assert_no_customer_data(logs)


def test_reply_card_batch(client, customer, staff, today, logs):
    account = customer(status=Status.NOTIFIED, enrollment_date=None)
    client.force_login(staff["agent"])
    client.post(
        "/admin/optouts/optoutrequest/reply-cards/",
        {"lines": f"{account.account_number}\n{CUSTOMER['customer_name']}\n"},
    )
    assert OptOutRequest.objects.get().channel == "reply_card"
    assert_no_customer_data(logs)


def test_import_with_bad_rows(tmp_path, logs):
    import csv

    from accounts.models import CustomerClass, ServiceAccount
    from tests.factories import PhaseFactory, ProductFactory, ProgramFactory, RateScheduleFactory

    prog = ProgramFactory(slug="marin")
    PhaseFactory(program=prog, name="Phase 1", number=1)
    ProductFactory(program=prog, code="light-green", is_default=True)
    RateScheduleFactory(utility=prog.utility, code="D", customer_class=CustomerClass.RESIDENTIAL)
    good = row(
        1,
        account_number=CUSTOMER["account_number"],
        customer_name=CUSTOMER["customer_name"],
        service_address=CUSTOMER["service_address"],
        mailing_address=CUSTOMER["mailing_address"],
        mailing_city="SAN RAFAEL",
        mailing_state="CA",
        mailing_zip="94901",
        email=CUSTOMER["email"],
        phone=CUSTOMER["phone"],
    )
    bad = [
        {**good, "account_number": "8675309125", "customer_class": "martian"},
        {**good, "account_number": "8675309126", "phone": "555-9173 ZEBULON"},
        {**good, "account_number": "", "email": "zebulon@@farnsworth"},
    ]
    path = tmp_path / "eligible.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=HEADER)
        w.writeheader()
        for r in [good, *bad]:
            w.writerow(r)
    call_command("import_accounts", str(path), "--program", "marin", "--skip-invalid")
    assert ServiceAccount.objects.filter(account_number=CUSTOMER["account_number"]).exists()
    logging.getLogger("accounts").info("import test done")
    assert_no_customer_data(logs)
