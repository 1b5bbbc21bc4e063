"""The dashboard's tallies: after real service operations (import, schedule, batch claim, the
mail house's mailed and returned lines, opt-outs in each window, the daily due work, a rejoin,
a moves file, a second import) the figures read from the tallies equal the live computation,
and a tally that is missing or too old is never read silently."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import (
    AccountTally,
    Channel,
    CustomerClass,
    FeeSchedule,
    ServiceAccount,
    Status,
    TallyRefresh,
)
from accounts.services import tally
from accounts.services.account_tally import account_tally_refresh
from accounts.services.importing.columns import REQUIRED_COLUMNS
from accounts.services.importing.run import accounts_import
from accounts.services.status import Actor
from cca_notices.models import MailBatch, Notice, NoticeTally
from cca_notices.services.batches import mail_batch_claim
from cca_notices.services.dashboard_tally import (
    dashboard_tallies_all_task,
    dashboard_tallies_refresh,
    dashboard_tallies_task,
    notice_tally_groups,
)
from cca_notices.services.due_work import notices_run_due_work
from cca_notices.services.mail_house import mail_house_report_import
from cca_notices.services.scheduling import notices_schedule
from optouts.models import OptOutRequest, Outcome
from optouts.services.board_report import board_report_build
from optouts.services.dashboard import (
    account_groups_live,
    account_groups_tallied,
    dashboard_build,
    notice_groups_live,
)
from optouts.services.intake import optout_submit
from optouts.services.moves import moves_import
from optouts.services.rejoin import rejoin_submit
from tests.factories import (
    PhaseFactory,
    ProductFactory,
    ProgramFactory,
    RateScheduleFactory,
    ReadDateFactory,
    UtilityFactory,
)

pytestmark = pytest.mark.django_db

D = dt.date
HEADER = list(REQUIRED_COLUMNS)  # the eligible-customer file this test writes
CITIES = ["San Rafael", "Novato", "Mill Valley", "Sausalito"]


class Clock:
    """The business date every service reads (accounts.services.calendar.today and the names
    it is imported under), moved by the test from step to step."""

    def __init__(self, monkeypatch, day: dt.date):
        self.day = day
        for name in (
            "accounts.services.calendar.today",
            "cca_notices.services.batches.business_today",
            "cca_notices.services.scheduling.business_today",
            "cca_notices.services.due_work.business_today",
        ):
            monkeypatch.setattr(name, lambda: self.day)


@pytest.fixture
def program(db):
    utility = UtilityFactory()
    program = ProgramFactory(slug="tally", utility=utility, mailer_id="801234")
    for year in (2027, 2028):
        for month in range(1, 13):
            for cycle in (1, 2):
                ReadDateFactory(
                    utility=utility, read_cycle=cycle, read_date=D(year, month, 2 + 7 * (cycle - 1))
                )
    PhaseFactory(
        program=program,
        name="Phase 1",
        number=1,
        enrollment_start=D(2027, 4, 1),
        enrollment_end=D(2027, 4, 30),
    )
    for code, klass in (("D", CustomerClass.RESIDENTIAL), ("GS-1", CustomerClass.SMALL_COMMERCIAL)):
        RateScheduleFactory(utility=utility, code=code, customer_class=klass)
        FeeSchedule.objects.create(
            program=program,
            customer_class=klass,
            effective_from=D(2026, 1, 1),
            admin_fee=Decimal("5.00"),
        )
    ProductFactory(program=program, code="light-green", name="Light Green", is_default=True)
    return program


def _row(n: int, **over) -> dict:
    row = {
        "account_number": f"40000000{n:02d}",
        "customer_name": f"Customer Number {n}",
        "service_address": f"{100 + n} Main Street",
        "service_city": CITIES[n % len(CITIES)],
        "service_zip": "94901",
        "customer_class": "small_commercial" if n % 5 == 0 else "residential",
        "rate_schedule": "GS-1" if n % 5 == 0 else "D",
        "read_cycle": str(n % 2 + 1),
        "language": "en",
        "email": f"c{n}@example.org",
        "phone": "",
        "care": "N",
        "nem": "N",
        "medical_baseline": "N",
        "direct_access": "N",
        "mailing_address": "",
        "mailing_city": "",
        "mailing_state": "",
        "mailing_zip": "",
        "phase": "Phase 1",
    }
    row.update(over)
    return row


def _import(program, tmp_path, rows, name):
    path = tmp_path / name
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=HEADER)
        w.writeheader()
        w.writerows(rows)
    return accounts_import(program=program, path=path, actor=Actor("test import"))


def assert_tallies_match_live(program, today):
    """The tallies' groups are the live groups, and every figure built on them is the same."""
    assert sorted(account_groups_tallied(program=program), key=str) == sorted(
        account_groups_live(program=program), key=str
    )
    tallied_notices = [
        (*r[:4], bool(r[4]), r[5]) for r in notice_tally_groups(program_id=program.pk)
    ]
    assert sorted(tallied_notices) == sorted(notice_groups_live(program=program))
    tallied = dashboard_build(program=program, today=today, source="tally")
    live = dashboard_build(program=program, today=today, source="live")
    assert not tallied.live_reasons and live.live_reasons
    assert (tallied.accounts, tallied.opted_out) == (live.accounts, live.opted_out)
    assert tallied.tables == live.tables
    report_t = board_report_build(program=program, today=today, source="tally")
    report_l = board_report_build(program=program, today=today, source="live")
    assert report_t.tables == report_l.tables
    return tallied


TALLIED = ("rate_by_phase", "rate_by_class", "rate_by_city", "notice_compliance")


def _figures(board) -> tuple:
    """What the tallies answer (the per-day, channel and fee charts are always live)."""
    return (board.accounts, board.opted_out, *(board.tables[k] for k in TALLIED))


def test_the_tallies_equal_the_live_figures_through_a_program_s_life(
    program, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    clock = Clock(monkeypatch, D(2027, 1, 4))
    run = django_capture_on_commit_callbacks  # the rebuilds queued after each commit run here

    # The utility's file: the import queues the accounts tally's rebuild.
    with run(execute=True):
        _import(program, tmp_path, [_row(n) for n in range(1, 25)], "eligible.csv")
    assert AccountTally.objects.filter(program=program).exists()
    with run(execute=True):
        notices_schedule(program=program, actor_name="test", today=clock.day)
    assert Notice.objects.filter(program=program).count() == 24 * 4
    board = assert_tallies_match_live(program, clock.day)
    assert board.tables["notice_compliance"].rows[0][1] == 24 * 4  # all scheduled ahead

    # The first drop: claimed into a batch, then the mail house's report.
    first = Notice.objects.filter(program=program, kind="pre_enrollment_1")
    mail_date = min(first.values_list("mail_date", flat=True))
    clock.day = mail_date - dt.timedelta(days=2)
    with run(execute=True):
        claimed = mail_batch_claim(
            program=program,
            kind="pre_enrollment_1",
            mail_date=mail_date,
            actor_name="test",
            via=MailBatch.Via.COMMAND,
            now=timezone.now(),
        )
    assert claimed.batch is not None
    assert_tallies_match_live(program, clock.day)

    pieces = sorted(
        Notice.objects.filter(batch=claimed.batch, merged_into__isnull=True).values_list(
            "piece_id", flat=True
        )
    )
    late_day = mail_date + dt.timedelta(days=2)
    lines = [
        f"{p},mailed,{(late_day if i < 3 else mail_date).isoformat()},"
        for i, p in enumerate(pieces)
    ]
    lines += [
        f"{p},returned,{(mail_date + dt.timedelta(days=9)).isoformat()},moved" for p in pieces[-2:]
    ]
    clock.day = mail_date + dt.timedelta(days=10)
    with run(execute=True):
        mail_house_report_import(
            text="piece_id,event,date,reason\n" + "\n".join(lines) + "\n", actor=Actor("house")
        )
    board = assert_tallies_match_live(program, clock.day)
    compliance = {r[0]: r[1:] for r in board.tables["notice_compliance"].rows}
    assert compliance["Phase 1"][2] == 3 and compliance["Phase 1"][4] == 2  # late, returned

    # Opt-outs before enrollment: one row each, no rebuild queued; the beat's run counts them.
    accounts = list(ServiceAccount.objects.filter(program=program).order_by("account_number"))
    before = dashboard_build(program=program, today=clock.day)
    for a in accounts[:3]:
        optout_submit(account=a, channel=Channel.WEB, actor=Actor("web"), request_date=clock.day)
    stale = dashboard_build(program=program, today=clock.day, source="tally")
    assert _figures(stale) == _figures(before)  # as of its rebuild, and it says when
    assert stale.tallied_as_of is not None and stale.tallied_as_of < timezone.now()
    assert dashboard_build(program=program, today=clock.day, source="live").opted_out == 3
    dashboard_tallies_all_task()
    assert assert_tallies_match_live(program, clock.day).opted_out == 3

    # The monthly refresh: two accounts move city, one changes class, two are new.
    rows = [_row(n) for n in range(1, 27)]
    rows[4]["service_city"] = rows[5]["service_city"] = "Bolinas"
    rows[6].update(customer_class="small_commercial", rate_schedule="GS-1")
    with run(execute=True):
        result = _import(program, tmp_path, rows, "refresh.csv")
    assert result.created == 2 and result.updated == 3
    assert_tallies_match_live(program, clock.day)

    # Enrollment (the daily due work), then opt-outs in the free window and after it.
    clock.day = D(2027, 4, 12)
    with run(execute=True):
        totals = notices_run_due_work(today=clock.day, program_ids=[program.pk])
    assert totals["enrolled"] > 0
    assert_tallies_match_live(program, clock.day)
    enrolled = list(
        ServiceAccount.objects.filter(program=program, status=Status.ENROLLED).order_by("pk")
    )
    free = optout_submit(
        account=enrolled[0], channel=Channel.IVR, actor=Actor("ivr"), request_date=clock.day
    )
    clock.day = D(2027, 7, 1)
    fee = optout_submit(
        account=enrolled[1], channel=Channel.PHONE, actor=Actor("agent"), request_date=clock.day
    )
    assert (free.request.outcome, fee.request.outcome) == (
        Outcome.FREE_WINDOW,
        Outcome.AFTER_FREE_WINDOW,
    )
    rejoin_submit(account=accounts[0], channel=Channel.PHONE, actor=Actor("agent"))
    dashboard_tallies_all_task()
    board = assert_tallies_match_live(program, clock.day)
    assert board.opted_out == OptOutRequest.objects.filter(is_current=True).count() == 4

    # A moves file: one customer moves out, one new customer moves in (new-customer notices).
    moves = tmp_path / "moves.csv"
    moves.write_text(
        "old_account_number,new_account_number,move_type,move_date,customer_name,"
        "service_address,service_city,service_zip,mailing_address,mailing_city,mailing_state,"
        "mailing_zip,customer_class,rate_schedule,read_cycle,language,email,phone\n"
        f"{enrolled[2].account_number},,out,2027-06-20,,,,,,,,,,,,,,\n"
        ",9100000003,in,2027-06-20,Rosa Diaz,77 Bay Rd,Sausalito,94965,,,,,"
        "residential,D,1,es,rosa@example.com,\n"
    )
    with run(execute=True):
        moved = moves_import(program=program, path=moves, actor=Actor("utility move file"))
    assert moved.notices_scheduled == 2
    assert_tallies_match_live(program, clock.day)


def test_a_missing_or_old_tally_is_computed_live_and_says_why(program, tmp_path, monkeypatch):
    Clock(monkeypatch, D(2027, 1, 4))
    _import(program, tmp_path, [_row(n) for n in range(1, 6)], "eligible.csv")
    board = dashboard_build(program=program, today=D(2027, 1, 4))
    assert board.tallied_as_of is None
    assert board.live_reasons == [
        "the accounts tally has not been built yet",
        "the notices tally has not been built yet",
    ]
    assert board.accounts == 5

    dashboard_tallies_refresh(program_id=program.pk)
    # A change the tally has not seen yet: the fresh tally is read (as of its time) …
    ServiceAccount.objects.filter(program=program).update(status=Status.OPTED_OUT_PRE)
    board = dashboard_build(program=program, today=D(2027, 1, 4))
    assert board.live_reasons == [] and board.opted_out == 0
    # … until it is older than its bound: then the figures are live, and the page says so.
    TallyRefresh.objects.filter(program=program).update(
        as_of=timezone.now() - tally.MAX_AGE - dt.timedelta(minutes=1)
    )
    board = dashboard_build(program=program, today=D(2027, 1, 4))
    assert board.opted_out == 5 and board.tallied_as_of is None
    assert len(board.live_reasons) == 2 and "older than 20 minutes" in board.live_reasons[0]
    with pytest.raises(LookupError):
        dashboard_build(program=ProgramFactory(slug="other"), today=D(2027, 1, 4), source="tally")


def test_the_page_says_as_of_when_or_that_it_counted_live(program, tmp_path, monkeypatch, client):
    from django.contrib.auth import get_user_model

    Clock(monkeypatch, D(2027, 1, 4))
    _import(program, tmp_path, [_row(n) for n in range(1, 4)], "eligible.csv")
    user = get_user_model().objects.create_superuser("ops", "ops@example.org", "pw-long-enough")
    client.force_login(user)
    url = reverse("staff-dashboard", args=[program.slug])
    page = client.get(url).content.decode()
    assert "Counted live just now, because the accounts tally has not been built yet" in page
    assert "tally-as-of" not in page
    dashboard_tallies_refresh(program_id=program.pk)
    page = client.get(url).content.decode()
    assert "tally-stale" not in page
    local = timezone.localtime(TallyRefresh.objects.get(program=program, name="accounts").as_of)
    assert f"opt-out rates and notice compliance as of {local:%H:%M}" in page


def test_a_queued_rebuild_is_skipped_when_a_later_one_already_counted_the_change(program):
    requested = timezone.now().isoformat()
    done = dashboard_tallies_task(program.pk, requested)
    assert set(done) == {"accounts", "notices"}
    # The same request again (a second change before the first rebuild ran): nothing to do.
    assert dashboard_tallies_task(program.pk, requested) == {}
    first = TallyRefresh.objects.get(program=program, name="notices").as_of
    assert dashboard_tallies_task(program.pk, timezone.now().isoformat()) != {}
    assert TallyRefresh.objects.get(program=program, name="notices").as_of > first


def test_a_rebuild_replaces_the_program_s_rows_and_leaves_other_programs_alone(program):
    other = ProgramFactory(slug="other")
    NoticeTally.objects.create(
        program=other,
        enrollment_date=D(2027, 4, 2),
        kind="pre_enrollment_1",
        status="scheduled",
        mail_date=D(2027, 2, 1),
        mailed_late=False,
        notices=7,
    )
    AccountTally.objects.create(
        program=program,
        customer_class="residential",
        service_city="GONE",
        status="eligible",
        accounts=9,
    )
    r = account_tally_refresh(program_id=program.pk)
    assert r.groups == 0 and not AccountTally.objects.filter(program=program).exists()
    assert NoticeTally.objects.get(program=other).notices == 7


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_rebuilds_at_once_take_turns_and_leave_one_set_of_rows(program, tmp_path, monkeypatch):
    import threading

    from django.db import connection

    Clock(monkeypatch, D(2027, 1, 4))
    _import(program, tmp_path, [_row(n) for n in range(1, 13)], "eligible.csv")
    errors: list[BaseException] = []

    def rebuild():
        try:
            account_tally_refresh(program_id=program.pk)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=rebuild) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(account_groups_tallied(program=program), key=str) == sorted(
        account_groups_live(program=program), key=str
    )


def test_the_command_rebuilds_one_program_or_says_it_does_not_exist(program, capsys):
    from django.core.management import CommandError, call_command

    call_command("refresh_dashboard_tallies", "--program", program.slug)
    out = capsys.readouterr().out
    assert "tally: accounts tally rebuilt" in out and "tally: notices tally rebuilt" in out
    assert TallyRefresh.objects.filter(program=program).count() == 2
    with pytest.raises(CommandError, match="no program with slug 'nope'"):
        call_command("refresh_dashboard_tallies", "--program", "nope")


def test_while_queueing_is_paused_bulk_changes_queue_no_rebuild(
    program, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    clock = Clock(monkeypatch, D(2026, 12, 1))
    with django_capture_on_commit_callbacks() as paused, tally.tally_queueing_paused():
        _import(program, tmp_path, [_row(n) for n in range(1, 4)], "a.csv")
        assert notices_schedule(program=program, actor_name="test", today=clock.day).created
    assert not TallyRefresh.objects.filter(program=program).exists()
    queued = [c for c in paused if "tall" in c.__qualname__]
    assert queued == []
    with django_capture_on_commit_callbacks() as after:
        _import(program, tmp_path, [_row(n) for n in range(1, 5)], "b.csv")
    assert any("account_tally" in c.__qualname__ for c in after)  # queued again once it ends
