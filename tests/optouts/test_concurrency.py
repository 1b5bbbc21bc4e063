"""Web and phone opt-outs for the same account at the same moment: exactly one takes effect."""

import datetime as dt
import threading

import pytest
from django.db import connection

from accounts.models import Channel, Status, StatusChange
from accounts.services.status import Actor
from optouts.models import OptOutRequest
from optouts.services.intake import optout_submit


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_web_and_phone_opt_outs_record_one(make_account, today):
    account = make_account(status=Status.ENROLLED, enrollment_date=dt.date(2027, 2, 2))
    channels = [Channel.WEB, Channel.IVR, Channel.WEB, Channel.IVR, Channel.API, Channel.PHONE]
    barrier = threading.Barrier(len(channels))
    codes, errors = [], []

    def submit(channel):
        try:
            barrier.wait()
            codes.append(
                optout_submit(
                    account=account, channel=channel, actor=Actor(channel)
                ).request.confirmation_code
            )
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(c,)) for c in channels]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert OptOutRequest.objects.filter(account=account).count() == 1
    assert StatusChange.objects.filter(account=account).count() == 1
    assert len(set(codes)) == 1 and len(codes) == len(channels)  # everyone got the first code
    account.refresh_from_db()
    assert account.status == Status.OPTED_OUT_FREE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_a_second_current_opt_out(make_account, today):
    from django.db import IntegrityError

    account = make_account()
    first = optout_submit(account=account, channel=Channel.WEB, actor=Actor("web")).request
    first.pk, first.confirmation_code = None, "1111111111"
    first.status_change = None
    with pytest.raises(IntegrityError):
        first.save()
