"""Every customer-facing page, letter, e-mail, SMS and IVR prompt, rendered in Spanish, carries
no English word (names, addresses and product names aside), and differs from the English one."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core import mail

from accounts.models import Channel, ServiceAccount, Status
from accounts.services.status import Actor
from cca_notices.mailers.context import KINDS, LetterRequest
from cca_notices.mailers.render import letter_html
from optouts.models import Confirmation, OptOutRequest
from optouts.services.confirmations import confirmation_send
from optouts.services.intake import optout_submit
from optouts.services.letters import letter_html as confirmation_letter_html
from tests.i18n.english import english_in, visible_text
from tests.optouts.conftest import TODAY

pytestmark = pytest.mark.django_db


def proper_names(account) -> tuple[str, ...]:
    p = account.program
    products = tuple(p.products.values_list("name", flat=True))
    return (
        p.name,
        p.short_name,
        p.utility.name,
        p.utility.code,
        account.customer_name,
        account.mailing_address,
        account.mailing_city,
        account.service_address,
        account.service_city,
        *products,
    )


def assert_spanish(text: str, account, what: str):
    found = english_in(visible_text(text), allowed=proper_names(account))
    assert not found, f"English in the Spanish {what}: " + "; ".join(found[:8])


def _token(html: str) -> str:
    found = re.search(r'name="t" value="([^"]+)"', html)
    assert found is not None, "no signed token on the page"
    return found.group(1)


def lookup(client, account, lang):
    return client.post(
        f"{lang}/opt-out/",
        {"account_number": account.account_number, "zip_code": account.service_zip},
    )


# --- web pages -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "enrolled"),
    [
        (Status.NOTIFIED, None),  # before enrollment
        (Status.ENROLLED, dt.date(2027, 2, 2)),  # in the free window
        (Status.PARTICIPANT, dt.date(2026, 6, 2)),  # after it: a fee and two ways back
    ],
)
def test_the_opt_out_walk_through_in_spanish(
    client, make_account, today, status, enrolled, django_capture_on_commit_callbacks
):
    account = make_account(status=status, enrollment_date=enrolled, language="es")
    en = lookup(client, account, "").content.decode()
    form = client.get("/es/opt-out/").content.decode()
    assert_spanish(form, account, "form")
    page = lookup(client, account, "/es").content.decode()
    assert_spanish(page, account, "review page")
    assert visible_text(page) != visible_text(en)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/es/opt-out/confirm/", {"t": _token(page), "contact_email": "a@b.org"})
    final = client.get(done["Location"]).content.decode()
    assert OptOutRequest.objects.get().confirmation_code in final
    assert_spanish(final, account, "confirmation page")
    assert mail.outbox, "no confirmation e-mail"
    assert_spanish(mail.outbox[-1].subject + "\n" + mail.outbox[-1].body, account, "e-mail")
    again = lookup(client, account, "/es").content.decode()  # already opted out
    assert_spanish(again, account, "already-opted-out page")


def test_spanish_errors_expiry_and_throttle(client, make_account, today, settings):
    account = make_account(language="es")
    unknown = client.post("/es/opt-out/", {"account_number": "9999999999", "zip_code": "90210"})
    assert unknown.status_code == 400
    assert_spanish(unknown.content.decode(), account, "not-found page")
    invalid = client.post("/es/opt-out/", {"account_number": "", "zip_code": "12"})
    assert_spanish(invalid.content.decode(), account, "field errors")
    expired = client.post("/es/opt-out/confirm/", {"t": "forged:token"})
    assert_spanish(expired.content.decode(), account, "expired page")
    settings.OPTOUT_RATE_LIMITS = {"web_ip": (1, 600)}
    client.post("/es/opt-out/", {"account_number": "1234567", "zip_code": "94901"})
    limited = client.post("/es/opt-out/", {"account_number": "7654321", "zip_code": "94901"})
    assert limited.status_code == 429
    assert_spanish(limited.content.decode(), account, "rate-limited page")


def test_spanish_refusals_and_retention(client, make_account, today):
    account = make_account(status=Status.NOTIFIED, language="es")
    token = _token(lookup(client, account, "/es").content.decode())
    ServiceAccount.objects.filter(pk=account.pk).update(status=Status.MOVED_OUT)
    refused = client.post("/es/opt-out/confirm/", {"t": token})
    assert refused.status_code == 409
    assert_spanish(refused.content.decode(), account, "refusal page")
    assert "Esta cuenta está cerrada" in refused.content.decode()

    early = make_account(status=Status.ELIGIBLE, language="es")
    page = lookup(client, early, "/es").content.decode()
    assert_spanish(page, early, "before-notice page")

    other = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2), language="es")
    other.product = other.program.products.get(code="deep-green")
    other.save()
    page = lookup(client, other, "/es").content.decode()
    if "/es/opt-out/stay/" in page:
        stayed = client.post("/es/opt-out/stay/", {"t": _token(page)})
        assert_spanish(stayed.content.decode(), other, "retention page")


# --- SMS and letters -----------------------------------------------------------------------
def test_spanish_sms(make_account, today, settings, caplog):
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM_NUMBER = ""
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2), phone="")
    optout_submit(
        account=account,
        channel=Channel.WEB,
        actor=Actor("web"),
        language="es",
        contact_phone="+14155550123",
    )
    sms = Confirmation.objects.get(method="sms")
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override("es"):
        text = render_to_string(
            "optouts/sms/confirmation.txt",
            {"r": sms.optout, "program": sms.program, "account": sms.account},
        )
    assert_spanish(text, account, "SMS")


@pytest.mark.parametrize("path", ["advance_notice", "transitional"])
def test_spanish_confirmation_letters(make_account, today, path):
    account = make_account(
        status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 6, 2), email="", language="es"
    )
    optout_submit(
        account=account, channel=Channel.WEB, actor=Actor("web"), language="es", return_path=path
    )
    letters = Confirmation.objects.filter(method="letter")
    assert letters.exists()
    for conf in letters:
        assert_spanish(confirmation_letter_html(confirmation=conf), account, f"{conf.kind} letter")


@pytest.mark.parametrize("kind", KINDS)
def test_spanish_notices(make_account, today, kind):
    account = make_account(
        status=Status.NOTIFIED, enrollment_date=dt.date(2027, 4, 2), language="es"
    )
    html = letter_html(LetterRequest(account=account, kind=kind, mail_date=TODAY))
    assert_spanish(html, account, f"{kind} notice")


def test_money_and_dates_follow_the_language(make_account, today):
    from django.utils import translation

    from accounts.services.display import long_date, money

    with translation.override("es"):
        assert long_date(dt.date(2027, 1, 5)) == "5 de enero de 2027"
        assert money(Decimal("1234.5")) == "$1,234.50"
    with translation.override("en"):
        assert long_date(dt.date(2027, 1, 5)) == "January 5, 2027"
        assert money(Decimal("-6.25")) == "−$6.25"


def test_spanish_rejoin_e_mail_and_letter(make_account, today):
    from optouts.services.rejoin import rejoin_submit

    account = make_account(status=Status.NOTIFIED, language="es", email="")
    optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"), language="es")
    rejoin = rejoin_submit(
        account=account, channel=Channel.PHONE, actor=Actor("agent"), contact_email="a@b.org"
    )
    for conf in Confirmation.objects.filter(rejoin=rejoin, method="email"):
        confirmation_send(confirmation_id=conf.pk)
    sent = [m for m in mail.outbox if "a@b.org" in m.to]
    assert sent, "no rejoin e-mail"
    assert_spanish(sent[-1].subject + "\n" + sent[-1].body, account, "rejoin e-mail")
    for conf in Confirmation.objects.filter(rejoin=rejoin, method="letter"):
        assert_spanish(confirmation_letter_html(confirmation=conf), account, "rejoin letter")
