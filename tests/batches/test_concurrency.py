"""Two builders at once on PostgreSQL: every notice lands in exactly one batch."""

import threading

import pytest
from django.db import connection

from cca_notices.models import Notice
from cca_notices.services.batches import mail_batch_build
from tests.batches.conftest import MAIL_DATE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_builders_never_put_a_notice_in_two_batches(
    program, make_account, notice_for, tmp_path
):
    ids = {
        notice_for(make_account(customer_name=f"N {i}", mailing_address=f"{i} ELM ST")).pk
        for i in range(40)
    }
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker(name):
        try:
            barrier.wait()
            results.append(
                mail_batch_build(
                    program=program,
                    kind="pre_enrollment_1",
                    mail_date=MAIL_DATE,
                    out_dir=tmp_path / name,
                    actor_name=name,
                )
            )
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"builder-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    batches = [r.batch for r in results if r.batch is not None]
    assert sum(b.notice_count for b in batches) == 40
    rows = list(Notice.objects.filter(pk__in=ids).values_list("batch_id", "piece_id", "status"))
    assert all(status == Notice.Status.BATCHED for _, _, status in rows)
    assert {b.pk for b in batches} == {batch for batch, _, _ in rows}
    pieces = [piece for _, piece, _ in rows]
    assert len(set(pieces)) == 40
