"""Error reports and log lines carry no customer data: the 500 e-mail to ADMINS (and the debug
page) shows no POST value, local variable or query string; log lines are JSON with the fields
operations reads."""

import json
import logging

import pytest
from django.core import mail

from accounts.audit_context import audit_context
from accounts.log_format import JsonFormatter, RequestIdFilter
from tests.audit.conftest import CUSTOMER, NEEDLES

pytestmark = pytest.mark.django_db


def _post(account):
    return {
        "account_number": account.account_number,
        "zip_code": account.service_zip,
        "contact_email": CUSTOMER["email"],
        "contact_phone": CUSTOMER["phone"],
        "customer_name": CUSTOMER["customer_name"],
    }


@pytest.fixture
def failing_site(settings, client):
    settings.ROOT_URLCONF = "tests.audit.urls"
    settings.ADMINS = [("Ops", "ops@cca.example")]
    settings.DEBUG = False
    client.raise_request_exception = False
    return client


def test_the_500_email_to_admins_shows_no_customer_data(failing_site, customer, caplog):
    account = customer()
    response = failing_site.post(
        f"/boom/?code={account.opt_out_code}&phone=4155559173", _post(account)
    )
    assert response.status_code == 500
    assert len(mail.outbox) == 1
    report = mail.outbox[0]
    body = report.body + "".join(str(a[0]) for a in report.alternatives)
    assert "RuntimeError" in body and "account_number" in body  # the report is there…
    for needle in [*NEEDLES, account.opt_out_code.lower()]:  # …without the values
        assert needle not in body.lower(), needle
        assert needle not in report.subject.lower(), needle


def test_the_debug_page_shows_no_customer_data_either(failing_site, customer, settings):
    settings.DEBUG = True
    account = customer()
    page = failing_site.post("/boom/", _post(account)).content.decode().lower()
    assert "runtimeerror" in page
    for needle in NEEDLES:
        assert needle not in page, needle


def test_a_log_line_is_json_with_time_level_logger_message_and_request_id():
    formatter, request_id = JsonFormatter(), RequestIdFilter()
    record = logging.LogRecord("optouts.ivr", logging.WARNING, "f.py", 1, "call %s", (42,), None)
    with audit_context(channel="ivr", request_id="req-0123456789"):
        request_id.filter(record)
    line = json.loads(formatter.format(record))
    assert line["level"] == "WARNING" and line["logger"] == "optouts.ivr"
    assert line["message"] == "call 42" and line["request_id"] == "req-0123456789"
    assert line["time"].startswith("20") and "+00:00" in line["time"]


def test_the_formatter_masks_what_a_library_may_put_in_a_message(rf):
    formatter = JsonFormatter()
    try:
        raise ValueError(f"recipient refused: {CUSTOMER['email']}")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "django.request",
        logging.ERROR,
        "f.py",
        1,
        "GET /opt-out/?code=ABC123XYZ failed for %s",
        ("415-555-9173 x",),
        exc_info,
    )
    record.request = rf.get("/opt-out/?code=ABC123XYZ")
    line = json.loads(formatter.format(record))
    text = json.dumps(line)
    assert "ABC123XYZ" not in text and CUSTOMER["email"] not in text and "555-9173" not in text
    assert line["path"] == "/opt-out/" and line["http_method"] == "GET"
    assert "ValueError" in line["exception"]
