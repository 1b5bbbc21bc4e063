"""Log records as one JSON object a line, and error reports without customer data.

Every record carries `time` (UTC, ISO 8601), `level`, `logger`, `message` and `request_id` (the
id of the web request or Celery task it belongs to, from accounts.audit_context), plus any
`extra`. Our own code logs row ids, never a customer's name, address, phone, e-mail or account
number (tests/audit/test_log_confidentiality.py). As a second line of defence, the formatter
masks e-mail addresses, long digit runs and credentials in query strings that a library may
put in a message or an exception.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from accounts import audit_context

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Ten digits or more (phones, account numbers), allowing the separators people type.
_LONG_NUMBER = re.compile(r"\+?\d(?:[\s().-]?\d){9,}")
# The mailer's personal code and the IVR's signed state must never reach a log (access lines).
_URL_SECRET = re.compile(r"([?&](?:code|s)=)[^&\s\"']+")
MASK = "[redacted]"


def redact(text: str) -> str:
    text = _EMAIL.sub(MASK, text)
    text = _URL_SECRET.sub(lambda m: m.group(1) + MASK, text)
    return _LONG_NUMBER.sub(MASK, text)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (blank outside a request or a task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = audit_context.current_request_id()
        return True


class JsonFormatter(_JsonFormatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", ["levelname", "name", "message", "request_id"])
        kwargs.setdefault(
            "rename_fields", {"levelname": "level", "name": "logger", "exc_info": "exception"}
        )
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("json_default", str)
        super().__init__(*args, **kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # django.request passes the request object: keep its method and path, never its query
        # string, body or headers.
        request = log_data.pop("request", None)
        if request is not None and hasattr(request, "path"):
            log_data["http_method"], log_data["path"] = request.method, request.path
        for key, value in log_data.items():
            # The request id is ours or checked on the way in (a hex id may hold ten digits).
            if isinstance(value, str) and key not in ("time", "level", "logger", "request_id"):
                log_data[key] = redact(value)
        return log_data


class CustomerDataReporterFilter(SafeExceptionReporterFilter):
    """A 500 report (the e-mail to ADMINS, the debug page) shows no POST value and no local
    variable: every view of this product handles customer data, so none is shown anywhere."""

    def is_active(self, request) -> bool:
        return True

    def get_post_parameters(self, request):
        if request is None:
            return {}
        return dict.fromkeys(request.POST, self.cleansed_substitute)

    def get_traceback_frame_variables(self, request, tb_frame):
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        if "QUERY_STRING" in meta:
            meta["QUERY_STRING"] = self.cleansed_substitute
        return meta


class CustomerDataExceptionReporter(ExceptionReporter):
    """Also leaves out the query string's values (the report lists GET items unfiltered)."""

    def get_traceback_data(self):
        data = super().get_traceback_data()
        # A database error quotes the offending value ("Key (account_number)=(…)").
        if data.get("exception_value"):
            data["exception_value"] = redact(str(data["exception_value"]))
        if self.request is not None:
            data["request_GET_items"] = [
                (key, self.filter.cleansed_substitute) for key in self.request.GET
            ]
            if "request_insecure_uri" in data:
                data["request_insecure_uri"] = redact(str(data["request_insecure_uri"]))
        return data
