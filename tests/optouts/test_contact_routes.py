"""Every route takes a contact through the one rule (accounts.services.contact, R-CONTACT): the
area code 911 the admin refuses is refused by the API, the agent screen, moves and the service."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Status
from accounts.services.status import Actor
from accounts.services.values import InvalidValue
from optouts.models import OptOutRequest
from optouts.services.intake import optout_submit
from tests.factories import grant_programs
from tests.optouts.test_admin import staff

pytestmark = pytest.mark.django_db
BAD_PHONES = ["(911) 555-0123", "555-234-5678", "(415) 155-0123"]


@pytest.fixture
def api(db, program):
    user = grant_programs(User.objects.create_user("utility-feed"))
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["record_optout", "view_optoutrequest"])
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return client


def _body(account, **extra):
    return {"program": account.program.slug, "account_number": account.account_number, **extra}


@pytest.mark.parametrize("phone", BAD_PHONES)
def test_api_refuses_a_phone_the_admin_refuses(api, make_account, today, phone):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    response = api.post(
        "/api/v1/opt-outs/",
        _body(account, contact_phone=phone),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 400 and "contact_phone" in response.json()
    assert not OptOutRequest.objects.exists()


def test_api_stores_contacts_in_their_one_form(api, make_account, today):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    response = api.post(
        "/api/v1/opt-outs/",
        _body(account, contact_phone="(415) 555-0123", contact_email="Maria@Example.ORG"),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert response.status_code == 201, response.json()
    r = OptOutRequest.objects.get()
    assert (r.contact_phone, r.contact_email) == ("+14155550123", "Maria@example.org")


@pytest.mark.parametrize("phone", BAD_PHONES)
def test_agent_screen_refuses_a_phone_the_admin_refuses(client, groups, make_account, today, phone):
    client.force_login(staff("agent", "Call-centre agent"))
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    page = client.post(
        f"/admin/optouts/optoutrequest/agent/?account={account.pk}",
        {"channel": "phone", "contact_phone": phone},
    )
    assert page.status_code == 200 and "not a valid telephone number" in page.content.decode()
    assert not OptOutRequest.objects.exists()


@pytest.mark.parametrize("phone", BAD_PHONES)
def test_the_service_refuses_a_bad_phone_from_any_channel(make_account, today, phone):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    with pytest.raises(InvalidValue):
        optout_submit(account=account, channel="phone", actor=Actor("x"), contact_phone=phone)
    assert not OptOutRequest.objects.exists()


@pytest.mark.parametrize(
    "column, value", [("phone", "(911) 555-0123"), ("email", "maria..lopez@example.org")]
)
def test_move_file_refuses_what_the_import_refuses(
    make_account, program, tmp_path, today, column, value
):
    old = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    header = (
        "old_account_number,new_account_number,move_type,move_date,customer_name,service_address,"
        "service_city,service_zip,mailing_address,mailing_city,mailing_state,mailing_zip,"
        "customer_class,rate_schedule,read_cycle,language,email,phone\n"
    )
    email, phone = ("", value) if column == "phone" else (value, "")
    path = tmp_path / "moves.csv"
    path.write_text(
        header + f"{old.account_number},9100000001,within,2027-03-15,,"
        f"20 Oak Avenue,San Rafael,94903,,,,,,,,,{email},{phone}\n"
    )
    with pytest.raises(CommandError) as exc:
        call_command("import_moves", str(path), "--program", program.slug)
    assert f"line 2, {column}" in str(exc.value)
