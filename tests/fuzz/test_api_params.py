"""hypothesis over the API's own parameters, where schemathesis' generic strategies rarely go:
date-times with each part out of range, cursors that are not ours, a NUL anywhere. The answer
is 200 or a 4xx JSON naming the parameter; never a 500."""

import base64

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db
FAST = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def api(db):
    from django.contrib.auth.models import User
    from knox.models import AuthToken

    user = User.objects.create_superuser("fuzz-params", password="unused-pw")
    key = AuthToken.objects.create(user=user)[1]
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {key}")


# Each part of an ISO 8601 date-time, over and past its range (day 30 of February, hour 25,
# offset +99:00, year 0 or 9999 next to an offset).
datetimes = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}".format,
    st.sampled_from([0, 1, 1970, 2027, 9999]),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from(
        ["", "Z", "+00:00", "-08:00", "+14:00", "-14:00", "+23:03", "+99:00", "+24:00"]
    ),
)
values = st.one_of(datetimes, st.text(max_size=30))


@FAST
@given(since=values)
def test_since_is_a_date_time_or_a_400_naming_it(api, since):
    response = api.get("/api/v1/opt-outs/", {"since": since})
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert set(response.json()) <= {"since", "detail"}


cursors = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda text: base64.b64encode(text.encode()).decode(),
        st.one_of(
            st.text(max_size=40),
            st.builds("p={}".format, values),
            st.builds("o={}&r={}&p={}".format, st.text(max_size=5), st.text(max_size=3), values),
        ),
    ),
)


@FAST
@given(cursor=cursors)
def test_a_cursor_is_ours_or_a_400_naming_it(api, cursor):
    response = api.get("/api/v1/opt-outs/", {"cursor": cursor})
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert set(response.json()) <= {"cursor", "detail"}


with_nul = st.builds(lambda a, b: f"{a}\x00{b}", st.text(max_size=8), st.text(max_size=8))


@FAST
@given(value=with_nul, where=st.sampled_from(["path", "program", "since", "key", "body"]))
def test_a_nul_anywhere_is_a_400(api, program, value, where):
    if where == "path":
        response = api.get(f"/api/v1/accounts/{value}/opt-out-status/", {"program": "clean"})
    elif where in ("program", "since"):
        response = api.get("/api/v1/opt-outs/", {where: value})
    else:
        response = api.post(
            "/api/v1/opt-outs/",
            {"program": "clean", "account_number": value if where == "body" else "1"},
            content_type="application/json",
            **({"HTTP_IDEMPOTENCY_KEY": value} if where == "key" else {}),
        )
    # A NUL the path cannot carry may end the route (404); never a server error.
    assert response.status_code in (400, 404), response.content
    assert response.json()
