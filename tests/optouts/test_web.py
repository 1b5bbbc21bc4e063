import datetime as dt
import os
import re
import uuid

import pytest
import redis
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ServiceAccount, Status
from optouts.models import OptOutRequest, RetentionAcceptance
from optouts.services.lookup import account_for_customer
from optouts.services.ratelimit import REDIS_CACHE, rate_limit_hit, rate_limits_hit

pytestmark = pytest.mark.django_db


def _token(html: str) -> str:
    found = re.search(r'name="t" value="([^"]+)"', html)
    assert found is not None, "no signed token on the page"
    return found.group(1)


def lookup(client, account, lang="", zip_code=None):
    return client.post(
        f"{lang}/opt-out/",
        {"account_number": account.account_number, "zip_code": zip_code or account.service_zip},
    )


def test_walk_through_in_the_free_window(
    client, make_account, today, django_capture_on_commit_callbacks
):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    page = lookup(client, account)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Review your opt-out" in html and "April 2, 2027" in html and "None" in html
    assert account.customer_name not in html  # the preview shows only the last four digits
    assert OptOutRequest.objects.count() == 0  # nothing recorded before confirming
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            "/opt-out/confirm/", {"t": _token(html), "contact_email": "me@example.net"}
        )
    assert done.status_code == 302
    final = client.get(done["Location"])
    r = OptOutRequest.objects.get()
    assert r.confirmation_code in final.content.decode()
    assert mail.outbox[0].to == ["me@example.net"]
    account.refresh_from_db()
    assert account.status == Status.OPTED_OUT_FREE
    # The history says it in words a supervisor reads, not the outcome's code.
    reason = account.status_changes.get().reason
    assert reason == "opt-out: In the free window (no fee), effective 2027-04-02"


def test_confirming_twice_gives_the_first_code(client, make_account, today):
    account = make_account(status=Status.NOTIFIED)
    token = _token(lookup(client, account).content.decode())
    first = client.get(client.post("/opt-out/confirm/", {"t": token})["Location"]).content.decode()
    second = client.get(client.post("/opt-out/confirm/", {"t": token})["Location"]).content.decode()
    code = OptOutRequest.objects.get().confirmation_code
    assert code in first and code in second


def test_after_free_window_shows_fee_and_two_ways_back_and_records_the_choice(
    client, make_account, today
):
    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 6, 2))
    html = lookup(client, account).content.decode()
    assert "$6.25" in html
    assert "Six-month advance notice" in html and "transitional bundled service" in html
    assert "October 2, 2027" in html
    client.post("/opt-out/confirm/", {"t": _token(html), "return_path": "transitional"})
    assert OptOutRequest.objects.get().return_path == "transitional"


def test_wrong_zip_and_unknown_account_get_the_same_answer(client, make_account, today):
    account = make_account()
    wrong_zip = client.post(
        "/opt-out/", {"account_number": account.account_number, "zip_code": "90210"}
    )
    unknown = client.post(
        "/opt-out/", {"account_number": "9999999999", "zip_code": account.service_zip}
    )
    assert wrong_zip.status_code == unknown.status_code == 400

    def strip(r):
        return re.sub(
            r'name="csrfmiddlewaretoken" value="[^"]+"|value="[^"]*"', "", r.content.decode()
        )

    assert strip(wrong_zip) == strip(unknown)
    assert "could not find an account" in unknown.content.decode()


def test_field_errors_are_tied_to_their_inputs(client, program):
    html = client.post("/opt-out/", {"account_number": "", "zip_code": "12"}).content.decode()
    assert 'id="id_account_number_error"' in html and 'id="id_zip_code_error"' in html
    field = re.search(r'<input[^>]+id="id_zip_code"[^>]*>', html, re.S).group(0)
    assert "id_zip_code_error" in field and 'aria-invalid="true"' in field
    assert 'href="#id_account_number"' in html  # the error summary links to the field


def test_spanish_form_and_preview(client, make_account, today):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    form = client.get("/es/opt-out/")
    assert form["Content-Language"] == "es" and 'lang="es"' in form.content.decode()
    assert "Número de cuenta" in form.content.decode()
    html = lookup(client, account, lang="/es").content.decode()
    assert "Revise su solicitud" in html and "abril" in html
    client.post("/es/opt-out/confirm/", {"t": _token(html)})
    assert OptOutRequest.objects.get().language == "es"


def test_personal_code_from_the_mailer(client, make_account, today):
    account = make_account(status=Status.NOTIFIED)
    form = client.get(f"/opt-out/?code={account.opt_out_code}", follow=True).content.decode()
    assert f'value="{account.opt_out_code}"' in form
    page = client.post("/opt-out/", {"code": account.opt_out_code})
    assert page.status_code == 200 and "Review your opt-out" in page.content.decode()
    assert client.post("/opt-out/", {"code": "NOPE12345"}).status_code == 400


def test_tampered_or_expired_token_records_nothing(client, make_account, today):
    make_account()
    page = client.post("/opt-out/confirm/", {"t": "forged:token"})
    assert page.status_code == 400 and not OptOutRequest.objects.exists()


def test_rate_limit_per_address(client, make_account, today, settings):
    settings.OPTOUT_RATE_LIMITS = {"web_ip": (3, 600)}
    account = make_account()
    for _ in range(3):
        assert (
            client.post("/opt-out/", {"account_number": "1234567", "zip_code": "94901"}).status_code
            == 400
        )
    assert (
        client.post(
            "/opt-out/", {"account_number": account.account_number, "zip_code": account.service_zip}
        ).status_code
        == 429
    )


def test_rate_limit_per_account_across_addresses(client, make_account, today, settings):
    settings.OPTOUT_RATE_LIMITS = {"web_account": (2, 3600)}
    account = make_account()
    for n in range(2):
        client.post(
            "/opt-out/",
            {"account_number": account.account_number, "zip_code": "90210"},
            REMOTE_ADDR=f"10.0.0.{n}",
        )
    blocked = client.post(
        "/opt-out/",
        {"account_number": account.account_number, "zip_code": account.service_zip},
        REMOTE_ADDR="10.0.0.9",
    )
    assert blocked.status_code == 429


def test_retention_offer_switches_product_and_records_no_optout(
    client, make_account, program, today
):
    deep = program.products.get(code="deep-green")
    account = make_account(
        status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2), product=deep
    )
    html = lookup(client, account).content.decode()
    assert "Switch to Light Green instead" in html
    page = client.post("/opt-out/stay/", {"t": _token(html)})
    assert page.status_code == 200 and "Thank you for staying" in page.content.decode()
    account.refresh_from_db()
    assert account.product.code == "light-green" and account.status == Status.ENROLLED
    assert RetentionAcceptance.objects.get().from_product_code == "deep-green"
    assert not OptOutRequest.objects.exists()


def test_refused_before_notice_says_why(client, make_account, program, today):
    program.accept_optouts_before_notice = False
    program.optout_refusal_message = "Opt-outs open on April 1."
    program.save()
    account = make_account(status=Status.ELIGIBLE)
    html = lookup(client, account).content.decode()
    assert "Opt-outs open on April 1." in html and 'name="return_path"' not in html


def test_an_opted_out_account_is_shown_its_code_again(client, make_account, today):
    account = make_account(status=Status.NOTIFIED)
    client.post("/opt-out/confirm/", {"t": _token(lookup(client, account).content.decode())})
    code = OptOutRequest.objects.get().confirmation_code
    html = lookup(client, account).content.decode()
    assert "already opted out" in html and code in html
    assert 'name="t"' not in html  # nothing to confirm a second time


@pytest.mark.parametrize(
    "status, enrollment",
    [(Status.NOTIFIED, None), (Status.ENROLLED, dt.date(2027, 2, 2)), (Status.PARTICIPANT, None)],
)
def test_finding_an_account_that_can_opt_out_reads_no_opt_out(
    client, make_account, today, status, enrollment
):
    account = make_account(status=status, enrollment_date=enrollment or dt.date(2026, 6, 2))
    with CaptureQueriesContext(connection) as ctx:
        page = lookup(client, account)
    assert page.status_code == 200 and 'name="t"' in page.content.decode()
    tables = " ".join(q["sql"] for q in ctx.captured_queries)
    assert OptOutRequest._meta.db_table not in tables
    # The account comes with its program and utility in one statement.
    assert sum(ServiceAccount._meta.db_table in q["sql"] for q in ctx.captured_queries) == 1


def test_the_form_page_reads_its_program_once(client, program):
    with CaptureQueriesContext(connection) as ctx:
        html = client.get("/opt-out/").content.decode()
    assert program.utility.name in html and program.name in html
    assert len(ctx.captured_queries) == 1


@pytest.mark.postgres
def test_the_account_lookup_descends_the_unique_index(make_account, today):
    """Not a scan of every account: the (program, account_number) index, once per program."""
    account = make_account()
    qs = ServiceAccount.objects.select_related("program__utility").filter(
        account_number=account.account_number, service_zip__startswith=account.service_zip
    )
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
    assert (
        account_for_customer(account_number=account.account_number, zip_code=account.service_zip)
        == account
    )
    plan = qs.order_by("program_id").explain()
    assert "account_number_unique" in plan
    assert re.search(r"Index Cond: \(.*account_number\)::text = ", plan)


@pytest.fixture(params=["local memory", "redis"])
def rate_cache(request, settings):
    """Both ways the limits are counted: Django's cache API, and the script on Redis."""
    if request.param == "local memory":
        yield None
        return
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs Redis (set REDIS_URL)")
    original = settings.CACHES
    prefix = f"test-rl-{uuid.uuid4().hex}"
    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": url, "KEY_PREFIX": prefix}}
    client = redis.Redis.from_url(url)
    yield client
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    settings.CACHES = original  # before the suite's cache.clear(), which would empty the db


def test_rate_limits_count_each_scope_until_one_is_exceeded(rate_cache, settings):
    settings.OPTOUT_RATE_LIMITS = {"web_ip": (3, 600), "web_account": (2, 3600)}

    def attempts(number):
        return [("web_ip", "192.0.2.1"), ("web_account", number)]

    assert not rate_limits_hit(attempts=attempts("111111"))
    assert not rate_limits_hit(attempts=attempts("111111"))
    assert rate_limits_hit(attempts=attempts("111111"))  # the account's third
    # The address's fourth is refused before the account is counted: a fresh account keeps
    # both of its attempts.
    assert rate_limits_hit(attempts=attempts("222222"))
    assert not rate_limit_hit(scope="web_account", key="222222")
    assert not rate_limit_hit(scope="web_account", key="222222")
    assert rate_limit_hit(scope="web_account", key="222222")


def test_rate_limit_windows_expire(rate_cache, settings):
    settings.OPTOUT_RATE_LIMITS = {"web_ip": (1, 600)}
    assert not rate_limit_hit(scope="web_ip", key="192.0.2.7")
    assert rate_limit_hit(scope="web_ip", key="192.0.2.7")
    if rate_cache is not None:
        (key,) = list(rate_cache.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*"))
        assert 590 < rate_cache.ttl(key) <= 600  # the window starts with its first attempt


def test_rate_limits_hold_on_the_form_with_either_cache(
    rate_cache, client, make_account, today, settings
):
    settings.OPTOUT_RATE_LIMITS = {"web_account": (2, 3600)}
    account = make_account()
    for _ in range(2):
        assert lookup(client, account, zip_code="90210").status_code == 400
    assert lookup(client, account).status_code == 429


@pytest.mark.parametrize("lang", ["", "/es"])
def test_the_mailers_code_leaves_the_url_at_once(client, make_account, today, lang):
    """`/opt-out/?code=…` (the QR code) put the code that alone opts a customer out into access
    logs, history and Referer headers: it is now taken once into the session, then 303 to the
    clean URL, and the form continues with it."""
    account = make_account(status=Status.NOTIFIED, opt_out_code="K7QX2M9PLA")
    taken = client.get(f"{lang}/opt-out/?code=K7QX2M9PLA")
    assert taken.status_code == 303 and taken["Location"] == f"{lang}/opt-out/"
    assert "K7QX2M9PLA" not in taken["Location"]
    form = client.get(taken["Location"])
    html = form.content.decode()
    assert 'name="code" value="K7QX2M9PLA"' in html and "no-store" in form["Cache-Control"]
    preview = client.post(f"{lang}/opt-out/", {"code": "K7QX2M9PLA"})
    assert preview.status_code == 200 and account.account_number[-4:] in preview.content.decode()
    # Used once: the form no longer offers it.
    assert "K7QX2M9PLA" not in client.get(f"{lang}/opt-out/").content.decode()


def test_a_number_and_zip_of_two_programs_is_not_guessed(client, make_account, program, today):
    """Two CCAs on one site whose utilities number accounts alike: the form must not record
    the opt-out with whichever program comes first; the mailer's personal code still works."""
    from tests.factories import ProgramFactory

    mine = make_account(account_number="5550001111", service_zip="94901")
    other_program = ProgramFactory(slug="other", name="Other Community Power")
    theirs = make_account(program=other_program, account_number="5550001111", service_zip="94901")
    page = lookup(client, mine)
    assert page.status_code == 400
    html = page.content.decode()
    assert "More than one program serves an account" in html
    assert "Review your opt-out" not in html
    es = lookup(client, mine, lang="/es")
    assert "Más de un programa atiende una cuenta" in es.content.decode()
    for account in (mine, theirs):
        by_code = client.post("/opt-out/", {"code": account.opt_out_code})
        assert by_code.status_code == 200 and account.program.name in by_code.content.decode()
    assert not OptOutRequest.objects.exists()


def test_the_done_page_keeps_its_token_out_of_the_url(client, make_account, today):
    """A URL lands in access logs and browser history: the code and fee stay behind a cookie."""
    account = make_account(status=Status.NOTIFIED)
    done = client.post("/opt-out/confirm/", {"t": _token(lookup(client, account).content.decode())})
    assert done.status_code == 302 and done["Location"] == "/opt-out/done/"
    cookie = done.cookies["optout_done"]
    assert cookie["httponly"] and cookie["path"] == "/opt-out/done/"
    page = client.get(done["Location"])
    code = OptOutRequest.objects.get().confirmation_code
    assert code in page.content.decode() and "no-store" in page["Cache-Control"]
    from django.test import Client

    stranger = Client().get("/opt-out/done/")  # the URL alone shows nothing
    assert stranger.status_code == 302 and code not in stranger.content.decode()
