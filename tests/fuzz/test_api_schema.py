"""schemathesis over the OpenAPI schema the app serves at /api/schema/, every operation, against
the Django app in-process (WSGI), with a token and without: whatever the values (valid, invalid,
odd Unicode, NUL), no answer is a server error or shows a traceback, and every 4xx is JSON that
says what was wrong."""

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from cca_notices.wsgi import application

pytestmark = pytest.mark.django_db
# Bounded so the whole file runs in seconds; derandomized so CI sees the same cases every run.
EXAMPLES = settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def api_auth_headers(db):
    """The Authorization header of an API user allowed everything (all API roles). The one place
    to change when the token scheme changes."""
    from django.contrib.auth.models import User
    from knox.models import AuthToken

    user = User.objects.create_superuser("fuzz-api", password="unused-pw")
    return {"Authorization": f"Token {AuthToken.objects.create(user=user)[1]}"}


@pytest.fixture
def _keep_the_test_connection():
    """Django closes the database connection after each request; the test's transaction lives
    on it. Django's own test client turns this off the same way while it calls the app."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(api_auth_headers, program, _keep_the_test_connection):
    # Fetched as a signed-in API user: the schema may be open to staff only.
    return schemathesis.openapi.from_wsgi("/api/schema/", application, headers=api_auth_headers)


def no_traceback_and_a_reason(ctx, response, case):
    """A refusal names what was wrong, in JSON; no answer carries a traceback."""
    body = response.content.decode("utf-8", "replace")
    assert "Traceback" not in body and 'File "/' not in body, "a traceback in the response"
    if 400 <= response.status_code < 500 and response.status_code != 405:
        assert response.headers.get("content-type", [""])[0].startswith("application/json")
        assert json.loads(body), f"{response.status_code} with an empty body"
    return None


def fuzz_every_operation(schema, headers):
    """Valid and invalid values for every operation of the schema (schemathesis' strategies,
    driven by hypothesis here: the pytest plugin of this schemathesis release does not run under
    pytest 9)."""
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "GET /api/v1/programs/",
        "GET /api/v1/opt-outs/",
        "POST /api/v1/opt-outs/",
        "GET /api/v1/accounts/{account_number}/opt-out-status/",
    }
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @EXAMPLES
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):
                response = case.call(headers=headers)
                case.validate_response(
                    response, checks=[not_a_server_error, no_traceback_and_a_reason]
                )

            try:
                check()
            except Unsatisfiable:
                # An operation that takes nothing (GET /programs/) has no invalid input.
                assert mode == GenerationMode.NEGATIVE, operation.label


def test_api_with_a_token_never_answers_a_server_error(api_schema, api_auth_headers):
    fuzz_every_operation(api_schema, api_auth_headers)


def test_api_without_a_token_never_answers_a_server_error(api_schema):
    fuzz_every_operation(api_schema, {})
