"""Requests that collide, on PostgreSQL with real transactions in threads: the four opt-out
channels for one account at once, two batch builds for one drop while opt-outs arrive, an import
while opt-outs arrive, a rejoin racing an opt-out. The invariants: one effective opt-out, no
notice in two batches, no account moved backwards, no lost request (every channel's answer is
in the database)."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client

from accounts.models import OPTED_OUT_STATUSES, Channel, ServiceAccount, Status, StatusChange
from accounts.services.importing import accounts_import
from accounts.services.status import Actor
from optouts.models import OptOutRequest
from optouts.services.intake import optout_submit
from optouts.services.rejoin import RejoinRefused, rejoin_submit
from tests.factories import PhaseFactory, RateScheduleFactory, grant_programs
from tests.importing.conftest import HEADER, row
from tests.reliability.channels import TWILIO_TOKEN, IvrCall, api_client, api_optout

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(jobs: list[Callable[[], object]]) -> list[object]:
    """Run the jobs in threads released at once; a job's exception is its result."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(i):
        try:
            barrier.wait()
            results[i] = jobs[i]()
        except Exception as exc:  # returned, so the test shows it
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def assert_history_never_moves_backwards(account: ServiceAccount) -> None:
    """Each status change starts where the previous one ended, and the account is where the last
    one left it: no write overwrote another."""
    # In the order they were written: `at` is when each request was received, which for the one
    # that waited for the account's lock is before the change that went first.
    changes = list(StatusChange.objects.filter(account=account).order_by("pk"))
    for before, after in itertools.pairwise(changes):
        assert after.from_status == before.to_status, (before, after)
    account.refresh_from_db()
    if changes:
        assert account.status == changes[-1].to_status


def code_said(said: str) -> str:
    """The confirmation code the IVR reads out digit by digit."""
    return "".join(re.findall(r"\d", said.split("confirmation", 1)[-1]))


def test_web_ivr_agent_and_api_at_once_record_one_opt_out(
    make_account, program, groups, today, settings
):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    agent_user = grant_programs(User.objects.create_user("agent", password="pw", is_staff=True))
    agent_user.groups.add(Group.objects.get(name="Call-centre agent"))
    feed = api_client()
    for round_ in range(3):
        account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
        # Each channel walks up to its last step first; then all four record at once.
        web = Client()
        page = web.post(
            "/opt-out/",
            {"account_number": account.account_number, "zip_code": account.service_zip},
            REMOTE_ADDR=f"198.51.100.{round_}",
        )
        token = re.search(r'name="t" value="([^"]+)"', page.content.decode()).group(1)
        call = IvrCall(Client(), program, f"+1415555{round_:04d}")
        call.post("/ivr/voice/")
        call.press("1")
        call.press(f"{account.account_number}#")
        call.press(account.service_zip)
        agent = Client()
        agent.force_login(agent_user)

        def by_web(web=web, token=token):
            done = web.post("/opt-out/confirm/", {"t": token}, follow=True)
            return done.status_code, done.content.decode()

        def by_ivr(call=call):
            return call.press("1"), call.said

        def by_agent(agent=agent, account=account):
            done = agent.post(
                f"/admin/optouts/optoutrequest/agent/?account={account.pk}",
                {"channel": "phone"},
                follow=True,
            )
            return done.status_code, done.content.decode()

        def by_api(account=account):
            return api_optout(feed, account, key=f"race-{account.pk}"), ""

        web_r, ivr_r, agent_r, api_r = run_together([by_web, by_ivr, by_agent, by_api])
        for result in (web_r, ivr_r, agent_r, api_r):
            assert not isinstance(result, Exception), result
        requests = OptOutRequest.objects.filter(account=account)
        assert requests.count() == 1 and requests.get().is_current
        code = requests.get().confirmation_code
        # Every channel was told of the one opt-out that took effect, none of another.
        assert web_r[0] == 200 and code in web_r[1]
        assert agent_r[0] == 200 and code in agent_r[1]
        assert ivr_r[0] == 200 and code_said(ivr_r[1]).startswith(code)  # said, then repeated
        assert api_r[0] in (200, 201)
        assert StatusChange.objects.filter(account=account).count() == 1
        assert_history_never_moves_backwards(account)
        assert account.status == Status.OPTED_OUT_FREE


def test_a_rejoin_racing_an_opt_out_leaves_one_consistent_story(make_account, today):
    accounts = [make_account(status=Status.NOTIFIED, email="") for _ in range(6)]
    for account in accounts:
        optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"))
    jobs: list[Callable[[], object]] = []
    for account in accounts:
        jobs.append(
            lambda a=account: rejoin_submit(account=a, channel=Channel.PHONE, actor=Actor("agent"))
        )
        jobs.append(
            lambda a=account: optout_submit(
                account=a, channel=Channel.IVR, actor=Actor("ivr"), return_path="advance_notice"
            )
        )
    results = run_together(jobs)
    for account, rejoined, optout in zip(accounts, results[::2], results[1::2], strict=True):
        assert not isinstance(optout, Exception), optout
        assert not isinstance(rejoined, Exception) or isinstance(rejoined, RejoinRefused)
        account.refresh_from_db()
        current = OptOutRequest.objects.filter(account=account, is_current=True)
        assert current.count() <= 1
        # The opt-out's answer is in the database: a new request when it came after the rejoin,
        # else the first one, which the rejoin then retired.
        assert OptOutRequest.objects.filter(pk=optout.request.pk).exists()
        if optout.created:
            assert account.status in OPTED_OUT_STATUSES
            assert current.get() == optout.request
        else:
            assert account.status == Status.REJOINED and not current.exists()
        assert_history_never_moves_backwards(account)


def test_an_import_while_opt_outs_arrive_moves_no_account_backwards(
    make_account, program, today, tmp_path
):
    import csv

    RateScheduleFactory(utility=program.utility, code="D")
    PhaseFactory(program=program, name="Phase 1", number=1)

    def write(rows, name):
        path = tmp_path / name
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=[*HEADER, "status", "enrollment_date"])
            w.writeheader()
            w.writerows(rows)
        return path

    n = 40
    first = [row(i, read_cycle="1", status="notified", enrollment_date="") for i in range(n)]
    accounts_import(program=program, path=write(first, "first.csv"), actor=Actor("import"))
    # The reload enrolls everyone and changes every phone; half of them opt out meanwhile.
    reload = [
        row(i, read_cycle="1", status="enrolled", enrollment_date="2027-02-02", phone="4155559999")
        for i in range(n)
    ]
    path = write(reload, "reload.csv")
    numbers = [r["account_number"] for r in first[::2]]
    targets = list(ServiceAccount.objects.filter(program=program, account_number__in=numbers))

    def opt_out(account):
        return lambda: optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"))

    jobs = [lambda: accounts_import(program=program, path=path, actor=Actor("import"))]
    jobs += [opt_out(a) for a in targets]
    results = run_together(jobs)
    assert not any(isinstance(r, Exception) for r in results), results
    for account, submission in zip(targets, results[1:], strict=True):
        account.refresh_from_db()
        assert submission.created
        assert OptOutRequest.objects.get(account=account, is_current=True) == submission.request
        assert account.status in OPTED_OUT_STATUSES  # the import did not re-enroll it
    for account in ServiceAccount.objects.filter(program=program):
        assert_history_never_moves_backwards(account)
    untouched = ServiceAccount.objects.filter(program=program).exclude(
        pk__in=[a.pk for a in targets]
    )
    assert set(untouched.values_list("status", flat=True)) == {Status.ENROLLED}
