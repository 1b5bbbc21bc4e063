"""`demo` builds a program in mid-life through the product's own services, and a re-run changes
nothing."""

import datetime as dt

import pytest
from django.core.management import call_command

from accounts.models import PRE_ENROLLMENT_STATUSES, Program, Status
from cca_notices.models import MailBatch, Notice
from optouts.models import (
    CcasrExport,
    Move,
    OptOutRequest,
    ReentryRequest,
    RejoinRequest,
    RetentionAcceptance,
    ServiceRequest,
)

pytestmark = pytest.mark.django_db(transaction=True)
TODAY = dt.date(2026, 12, 1)


@pytest.fixture(autouse=True)
def _var(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path / "var"
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("cca_notices.management.commands.demo.business_today", lambda: TODAY)


def counts():
    return (
        OptOutRequest.objects.count(),
        MailBatch.objects.count(),
        Notice.objects.count(),
        ServiceRequest.objects.count(),
        Move.objects.count(),
    )


def test_the_demo_program_is_in_mid_life_and_a_rerun_changes_nothing(settings):
    call_command("demo", "--accounts", "200")
    program = Program.objects.get(slug="demo")
    phase1, phase2 = program.phases.order_by("number")
    assert phase1.enrollment_end < TODAY < phase2.enrollment_start

    # Phase 1's notices went out in batches the mail house confirmed; a few came back.
    mailed = set(
        MailBatch.objects.filter(program=program)
        .exclude(mailed_at=None)
        .values_list("kind", flat=True)
    )
    assert {"pre_enrollment_1", "pre_enrollment_2", "post_enrollment_1"} <= mailed
    assert Notice.objects.filter(program=program, status="returned").exists()

    # Opt-outs through every channel, in every window.
    optouts = OptOutRequest.objects.filter(program=program)
    assert {"web", "ivr", "phone", "reply_card", "api"} <= set(
        optouts.values_list("channel", flat=True)
    )
    assert optouts.filter(from_status__in=PRE_ENROLLMENT_STATUSES).exists()  # before enrollment
    assert optouts.filter(from_status=Status.ENROLLED, fee_amount=0).exists()  # free window
    assert optouts.filter(from_status=Status.PARTICIPANT, fee_amount__gt=0).exists()  # fees
    # Each of the main channels in each window (the rarer API and reply cards are too few at this
    # size to be in all three; the 5,000-account demo has the API in all three).
    seen = set(optouts.values_list("channel", "outcome"))
    windows = {"before_enrollment", "free_window", "after_free_window"}
    for channel in ("web", "ivr", "phone"):
        assert {(channel, w) for w in windows} <= seen, sorted(seen)
    assert len({o.received_at.date() for o in optouts}) > 10  # spread over the days
    assert ReentryRequest.objects.exists()
    assert RetentionAcceptance.objects.exists() and RejoinRequest.objects.exists()
    assert Move.objects.exists()

    # The utility's round trip: files sent, answers recorded, one rejection to work.
    assert CcasrExport.objects.filter(program=program).exists()
    requests = ServiceRequest.objects.filter(program=program)
    assert requests.filter(status="accepted").exists()
    assert requests.filter(status="rejected").count() == 1

    # Phase 2 is ahead, its first drop due in the coming days and not yet mailed.
    ahead = Notice.objects.filter(account__phase=phase2)
    assert ahead.exists() and not ahead.exclude(status__in=["scheduled", "batched"]).exists()
    first = ahead.order_by("mail_date").first()
    assert TODAY <= first.mail_date <= TODAY + dt.timedelta(days=31)

    before = counts()
    call_command("demo", "--accounts", "200")
    assert counts() == before
