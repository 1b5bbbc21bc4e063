"""Two batch builds for one drop (the batch service in two threads) while customers on the list
opt out, on PostgreSQL: no notice in two batches, no notice lost, every opt-out recorded."""

from __future__ import annotations

import pytest

from accounts.models import Channel, Status
from accounts.services.status import Actor
from cca_notices.models import MailBatch, Notice
from cca_notices.services.batches import mail_batch_build
from optouts.models import OptOutRequest
from optouts.services.intake import optout_submit
from tests.batches.conftest import (  # noqa: F401  (fixtures of the batch tests)
    MAIL_DATE,
    TODAY,
    _today,
    demo_program,
    make_account,
    notice_for,
    program,
)
from tests.reliability.test_concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_builds_for_one_drop_while_opt_outs_arrive(
    program,  # noqa: F811
    make_account,  # noqa: F811
    notice_for,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    monkeypatch.setattr("accounts.services.calendar.today", lambda: TODAY)
    accounts = [
        make_account(customer_name=f"N {i}", mailing_address=f"{i} ELM ST", status=Status.NOTIFIED)
        for i in range(30)
    ]
    notices = {notice_for(a).pk: a for a in accounts}

    def build(name):
        return lambda: mail_batch_build(
            program=program,
            kind="pre_enrollment_1",
            mail_date=MAIL_DATE,
            out_dir=tmp_path / name,
            actor_name=name,
        )

    def opt_out(account):
        return lambda: optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"))

    leaving = accounts[::3]
    results = run_together([build("a"), build("b"), *(opt_out(a) for a in leaving)])
    assert not any(isinstance(r, Exception) for r in results), results
    rows = list(Notice.objects.filter(pk__in=notices).values_list("pk", "batch_id", "status"))
    batched = [(pk, batch) for pk, batch, status in rows if status == Notice.Status.BATCHED]
    # Each notice once: in one batch, or held back (its customer had opted out first).
    assert len({pk for pk, _ in batched}) == len(batched)
    batches = MailBatch.objects.filter(program=program)
    assert sum(b.notice_count for b in batches) == len(batched)
    for pk, batch, status in rows:
        if status != Notice.Status.BATCHED:
            assert batch is None and notices[pk] in leaving, (pk, status)
    # No lost request: every opt-out the customers were told of is recorded.
    for account, submission in zip(leaving, results[2:], strict=True):
        assert submission.created
        assert OptOutRequest.objects.get(account=account, is_current=True) == submission.request
