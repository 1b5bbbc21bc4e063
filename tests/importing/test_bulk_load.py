"""A program's first large load on PostgreSQL: secondary indexes are dropped and rebuilt, the
unique constraints before commit and the look-up and search indexes after it
(accounts/services/deferred_indexes.py)."""

import pytest
from django.db import connection

from accounts.models import ServiceAccount
from accounts.services.deferred_indexes import deferred_index_names, indexes_ensure, indexes_missing
from accounts.services.importing import ImportRejected, account_table, accounts_import, validation
from accounts.services.status import Actor
from tests.importing.conftest import row

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ACTOR = Actor("test-bulk")


def _indexes() -> set[str]:
    with connection.cursor() as cur:
        cur.execute("""SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                       WHERE i.indrelid = 'accounts_serviceaccount'::regclass AND i.indisvalid""")
        return {name for (name,) in cur.fetchall()}


@pytest.fixture(autouse=True)
def _indexes_back():
    """A test may leave the deferred indexes dropped (as a load without a worker does): put
    them back."""
    yield
    indexes_ensure()


@pytest.fixture
def bulk(monkeypatch):
    """Twenty rows count as a bulk load here (a million do in production)."""
    monkeypatch.setattr(account_table, "BULK_LOAD_ROWS", 10)


def test_first_load_rebuilds_the_unique_indexes_before_commit_and_the_rest_after(
    program, write_csv, bulk, monkeypatch
):
    before = _indexes()
    deferred = set(deferred_index_names())
    assert deferred == {
        "account_name_trgm",
        "account_address_trgm",
        "account_program_status",
        "account_phase_cycle",
        "account_phone",
    }
    assert deferred <= before
    queued = []
    monkeypatch.setattr(account_table, "indexes_queue", lambda: queued.append(True))
    result = accounts_import(
        program=program, path=write_csv([row(n) for n in range(1, 21)]), actor=ACTOR, progress=False
    )

    assert result.created == 20 and ServiceAccount.objects.filter(program=program).count() == 20
    assert "validate and load" in result.timings  # straight into the account table, no staging
    account = ServiceAccount.objects.get(program=program, account_number=row(3)["account_number"])
    assert (account.service_address, account.phone, account.status) == (
        "103 N MAIN ST APT 4",
        "+14155550103",
        "eligible",
    )
    assert (
        account.product.is_default
        and account.import_run_id == result.run.pk
        and account.phase.name == "Phase 1"
    )
    assert queued == [True]  # the rebuild was queued at commit
    assert (
        _indexes() == before - deferred
    )  # the unique ones, the partial one and the primary key are there
    assert set(indexes_missing()) == deferred
    assert set(indexes_ensure()) == deferred
    assert _indexes() == before and indexes_missing() == []
    assert indexes_ensure() == []  # nothing to do the second time


def test_a_rejected_first_load_leaves_the_indexes_as_they_were(program, write_csv, bulk):
    before = _indexes()
    rows = [row(n) for n in range(1, 21)] + [
        row(1, customer_name="Someone Else")
    ]  # account 1 twice
    with pytest.raises(ImportRejected, match="already appears on line 2"):
        accounts_import(program=program, path=write_csv(rows), actor=ACTOR, progress=False)
    assert _indexes() == before
    assert not ServiceAccount.objects.filter(program=program).exists()


def test_a_first_load_with_bad_rows_loads_the_good_ones_when_told(
    program, write_csv, bulk, monkeypatch
):
    monkeypatch.setattr(account_table, "indexes_queue", lambda: None)
    rows = [row(n) for n in range(1, 21)] + [row(21, service_zip="9490")]
    result = accounts_import(
        program=program, path=write_csv(rows), actor=ACTOR, progress=False, skip_invalid=True
    )
    assert "validate and load" in result.timings
    assert (result.created, result.rejected) == (20, 1) and result.reject_file.exists()
    assert (
        str(result.errors[0])
        == "line 22, service_zip: '9490' is not a ZIP code (12345 or 12345-6789)"
    )
    assert ServiceAccount.objects.filter(program=program).count() == 20


def test_clashing_personal_codes_fall_back_to_the_staging_path(
    program, write_csv, bulk, monkeypatch
):
    monkeypatch.setattr(account_table, "indexes_queue", lambda: None)
    monkeypatch.setattr(validation.Validator, "_code", lambda self: "SAMECODE00")
    result = accounts_import(
        program=program, path=write_csv([row(n) for n in range(1, 21)]), actor=ACTOR, progress=False
    )
    assert "validate and stage" in result.timings and "validate and load" not in result.timings
    codes = set(
        ServiceAccount.objects.filter(program=program).values_list("opt_out_code", flat=True)
    )
    assert len(codes) == 20 and result.created == 20


def test_an_invalid_leftover_index_is_built_again(db):
    with connection.cursor() as cur:
        # What an interrupted CREATE INDEX CONCURRENTLY leaves behind: an index marked invalid.
        cur.execute(
            "UPDATE pg_index SET indisvalid = false"
            " WHERE indexrelid = 'account_name_trgm'::regclass"
        )
    assert indexes_missing() == ["account_name_trgm"]
    assert indexes_ensure() == ["account_name_trgm"]
    assert indexes_missing() == []


def test_the_command_builds_what_is_missing(db):
    from io import StringIO

    from django.core.management import call_command

    with connection.cursor() as cur:
        cur.execute("DROP INDEX account_address_trgm")
        cur.execute("DROP INDEX account_phone")
    out = StringIO()
    call_command("ensure_indexes", stdout=out)
    assert (
        "built account_address_trgm" in out.getvalue() and "built account_phone" in out.getvalue()
    )
    assert "2 built, 3 already in place" in out.getvalue()
    assert indexes_missing() == []
