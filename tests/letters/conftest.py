"""Letter confirmations as mail pieces: the opt-out fixtures plus a USPS mailer ID and a pinned
business date seen by the batch builder too."""

import datetime as dt

import pytest

from accounts.models import Channel, Status
from accounts.services.status import Actor
from tests.optouts.conftest import TODAY, _clear_cache, groups, make_account, program, today  # noqa: F401

__all__ = ["TODAY", "dt"]


@pytest.fixture
def mailing_program(program, today, monkeypatch):  # noqa: F811
    monkeypatch.setattr("cca_notices.services.batches.business_today", lambda: TODAY)
    program.mailer_id = "801234"
    program.save()
    return program


@pytest.fixture
def terminate(make_account, mailing_program):  # noqa: F811
    """An opt-out after the free window, no e-mail address: a termination letter and a six-month
    advance notice letter are owed."""
    from optouts.services.intake import optout_submit

    def run(path="advance_notice", **kw):
        kw.setdefault("status", Status.PARTICIPANT)
        kw.setdefault("enrollment_date", dt.date(2026, 6, 2))
        kw.setdefault("email", "")
        account = make_account(**kw)
        return optout_submit(
            account=account, channel=Channel.WEB, actor=Actor("web"), return_path=path
        ).request

    return run
