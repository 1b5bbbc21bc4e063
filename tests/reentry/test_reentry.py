import datetime as dt
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail

from accounts.models import Channel, Status
from accounts.services.status import Actor
from optouts.models import Confirmation, OptOutRequest, ReentryRequest, ServiceRequest
from optouts.services.confirmations import confirmations_send_due
from optouts.services.intake import optout_submit
from optouts.services.reentry import reentry_plan
from optouts.services.rejoin import RejoinRefused, rejoin_quote, rejoin_submit

SCREENS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_plan_dates_for_both_ways_back(program):
    program.min_bundled_stay_months = 12
    advance = reentry_plan(
        program=program, path="advance_notice", effective_date=dt.date(2027, 4, 2)
    )
    assert (
        advance.cca_service_until,
        advance.bundled_from,
        advance.standard_rates_from,
        advance.min_stay_until,
    ) == (dt.date(2027, 10, 1), dt.date(2027, 10, 2), dt.date(2027, 10, 2), dt.date(2028, 10, 2))
    assert advance.tbs_from is None
    tbs = reentry_plan(program=program, path="transitional", effective_date=dt.date(2027, 4, 2))
    assert (
        tbs.cca_service_until,
        tbs.tbs_from,
        tbs.tbs_until,
        tbs.standard_rates_from,
        tbs.min_stay_until,
    ) == (
        dt.date(2027, 4, 1),
        dt.date(2027, 4, 2),
        dt.date(2027, 10, 1),
        dt.date(2027, 10, 2),
        dt.date(2028, 4, 2),
    )
    with pytest.raises(ValueError, match="path"):
        reentry_plan(program=program, path="teleport", effective_date=dt.date(2027, 4, 2))


def test_termination_records_the_reentry_with_the_utility_fee(program, terminate):
    program.reentry_fee = Decimal("25.00")
    program.save()
    optout = terminate(path="transitional")
    reentry = ReentryRequest.objects.get(optout=optout)
    assert reentry.path == "transitional" and reentry.reentry_fee == Decimal("25.00")
    assert reentry.min_stay_until == optout.no_rejoin_until == dt.date(2028, 4, 2)
    assert reentry.tbs_from == optout.effective_date == dt.date(2027, 4, 2)


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "l.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.needs("poppler")
def test_advance_notice_letter_is_issued_with_its_dates(terminate, tmp_path, program):
    optout = terminate(email="", path="advance_notice")
    counts = confirmations_send_due()
    assert counts["issued"] == 2  # the termination confirmation and the six-month advance notice
    letter = Confirmation.objects.get(kind="reentry")
    # Issued (PDF stored), then carried by a mail batch (tests/letters).
    assert letter.method == "letter" and letter.status == "issued" and letter.letter_sha256
    assert letter.mailing_address.startswith(optout.account.customer_name)
    text = " ".join(pdf_text(bytes(letter.letter_pdf), tmp_path).split())
    assert "Six-Month Advance Notice to Return to Bundled Portfolio Service" in text
    assert (
        "October 2, 2027" in text and "October 2, 2028" in text and optout.confirmation_code in text
    )
    SCREENS.mkdir(parents=True, exist_ok=True)
    (SCREENS / "letter_reentry_advance_notice.pdf").write_bytes(bytes(letter.letter_pdf))
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-singlefile",
            str(SCREENS / "letter_reentry_advance_notice.pdf"),
            str(SCREENS / "letter_reentry_advance_notice"),
        ],
        check=True,
    )
    assert confirmations_send_due()["sent"] == 0  # never twice


@pytest.mark.needs("poppler")
def test_spanish_tbs_letter(terminate, tmp_path):
    terminate(email="", path="transitional", language="es")
    confirmations_send_due()
    text = " ".join(
        pdf_text(bytes(Confirmation.objects.get(kind="reentry").letter_pdf), tmp_path).split()
    )
    assert "servicio combinado de transición" in text and "2 de abril de 2027" in text


def test_confirmation_by_email_when_there_is_an_address_within_the_set_days(
    make_account, today, django_capture_on_commit_callbacks
):
    account = make_account(
        status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2), email="ana@example.com"
    )
    with django_capture_on_commit_callbacks(execute=True):
        optout = optout_submit(account=account, channel=Channel.WEB, actor=Actor("web")).request
    conf = Confirmation.objects.get(optout=optout)
    assert (conf.kind, conf.method, conf.due_date) == (
        "optout",
        "email",
        today + dt.timedelta(days=7),
    )
    assert conf.status == "sent" and conf.sent_at is not None
    assert len(mail.outbox) == 1
    assert confirmations_send_due()["sent"] == 0 and len(mail.outbox) == 1


def test_rejoin_refused_inside_the_minimum_stay_says_until_when(terminate, today):
    optout = terminate()
    OptOutRequest.objects.filter(pk=optout.pk).update()
    account = optout.account
    account.refresh_from_db()
    quote = rejoin_quote(account=account)
    assert (
        not quote.allowed
        and quote.not_before == dt.date(2028, 10, 2)
        and "2028-10-02" in quote.message
    )
    # Once back on bundled service, still refused until the end of the stay, then allowed.
    from accounts.services.status import account_transition

    account_transition(
        account=account,
        to_status=Status.RETURNED_BUNDLED,
        channel=Channel.UTILITY,
        actor=Actor("u"),
    )
    with pytest.raises(RejoinRefused, match="until 2028-10-02"):
        rejoin_submit(
            account=account,
            channel=Channel.PHONE,
            actor=Actor("agent"),
            request_date=dt.date(2028, 10, 1),
        )
    assert rejoin_quote(account=account, request_date=dt.date(2028, 10, 2)).allowed


def test_rejoin_creates_a_connect_a_confirmation_and_allows_a_later_optout(make_account, today):
    account = make_account(status=Status.NOTIFIED, email="")
    first = optout_submit(account=account, channel=Channel.WEB, actor=Actor("web")).request
    rejoin = rejoin_submit(account=account, channel=Channel.PHONE, actor=Actor("agent"))
    account.refresh_from_db()
    assert account.status == Status.REJOINED and account.status_changes.last().channel == "phone"
    first.refresh_from_db()
    assert not first.is_current and rejoin.previous_optout == first
    connect = ServiceRequest.objects.get(rejoin=rejoin)
    assert (connect.type, connect.effective_date) == ("connect", dt.date(2027, 4, 2))
    conf = Confirmation.objects.get(rejoin=rejoin)
    assert (conf.kind, conf.method) == ("rejoin", "letter")
    again = optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"))
    assert again.created and again.request.outcome == "after_free_window"


def test_admin_records_a_rejoin_from_the_optout_list(client, make_account, today, staff):
    account = make_account(status=Status.NOTIFIED)
    optout = optout_submit(account=account, channel=Channel.WEB, actor=Actor("web")).request
    client.force_login(staff["agent"])
    client.post(
        "/admin/optouts/optoutrequest/",
        {"action": "record_rejoin", "_selected_action": [optout.pk]},
    )
    account.refresh_from_db()
    assert account.status == Status.REJOINED
    assert account.status_changes.last().actor_name == "agent"
