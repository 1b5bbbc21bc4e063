"""The monthly reload: a file of the program's customers, nearly all unchanged. Only the rows
that change an account write it; the rest are left as they were (not even updated_at moves);
nothing is duplicated and no opted-out customer is re-enrolled. Run on SQLite and PostgreSQL."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import ImportRun, ServiceAccount, Status, StatusChange
from accounts.services.importing import accounts_import, validation
from accounts.services.personal_codes import CODE_ALPHABET
from accounts.services.same_customer import opted_out_same_customer
from accounts.services.status import Actor, account_transition
from tests.importing.conftest import row

pytestmark = pytest.mark.django_db
ACTOR = Actor("test-reload")
FIELDS = [
    f.name
    for f in ServiceAccount._meta.get_fields()
    if getattr(f, "concrete", False) and not f.is_relation
] + ["phase_id", "product_id", "import_run_id"]


def load(program, path, **kw):
    return accounts_import(program=program, path=path, actor=ACTOR, progress=False, **kw)


def snapshot():
    return {a["account_number"]: a for a in ServiceAccount.objects.values(*FIELDS)}


@pytest.fixture
def loaded(program, write_csv):
    rows = [row(n) for n in range(1, 11)]
    load(program, write_csv(rows, name="first.csv"))
    # An hour later, so a write of the reload shows in updated_at.
    ServiceAccount.objects.update(updated_at=timezone.now() - dt.timedelta(hours=1))
    return rows


def test_reload_writes_exactly_the_changed_rows(program, write_csv, loaded):
    before = snapshot()
    rows = [dict(r) for r in loaded]
    rows[2]["mailing_address"] = "PO Box 77"
    rows[2].update(mailing_city="Novato", mailing_state="CA", mailing_zip="94945")
    rows[4]["phone"] = "(415) 555-0999"
    rows[6]["rate_schedule"] = "D-CARE"
    result = load(program, write_csv(rows, name="reload.csv"))

    assert (result.rows, result.created, result.updated, result.unchanged) == (10, 0, 3, 7)
    run = ImportRun.objects.get(pk=result.run.pk)
    assert (run.rows, run.created, run.updated, run.unchanged) == (10, 0, 3, 7)
    after = snapshot()
    assert set(after) == set(before)
    changed = {rows[i]["account_number"]: i for i in (2, 4, 6)}
    for number, old in before.items():
        new = after[number]
        if number not in changed:
            assert new == old, number  # untouched, updated_at included
            continue
        assert new["updated_at"] > old["updated_at"]
        differs = {k for k in FIELDS if new[k] != old[k]} - {"updated_at"}
        expected = {
            2: {"mailing_address", "mailing_city", "mailing_zip"},
            4: {"phone"},
            6: {"rate_schedule"},
        }[changed[number]]
        assert differs == expected, number
    assert after[rows[2]["account_number"]]["mailing_address"] == "PO BOX 77"
    assert after[rows[4]["account_number"]]["phone"] == "+14155550999"
    assert after[rows[6]["account_number"]]["rate_schedule"] == "D-CARE"
    # The personal code on earlier mailers stays valid, and data changes are no status change.
    assert all(after[n]["opt_out_code"] == before[n]["opt_out_code"] for n in before)
    assert not StatusChange.objects.exists()


def test_reloading_the_same_file_writes_nothing(program, write_csv, loaded):
    before = snapshot()
    result = load(program, write_csv(loaded, name="again.csv"))
    assert (result.created, result.updated, result.unchanged) == (0, 0, 10)
    assert snapshot() == before


def test_a_changed_mailing_address_clears_the_repair_flag_and_only_there(
    program, write_csv, loaded
):
    ServiceAccount.objects.update(address_needs_repair=True)
    rows = [dict(r) for r in loaded]
    rows[0].update(
        mailing_address="PO Box 1", mailing_city="Novato", mailing_state="CA", mailing_zip="94945"
    )
    rows[1]["email"] = "new@example.org"
    result = load(program, write_csv(rows, name="reload.csv"))
    assert result.updated == 2
    flags = dict(ServiceAccount.objects.values_list("account_number", "address_needs_repair"))
    assert flags.pop(rows[0]["account_number"]) is False
    assert all(flags.values())  # a changed e-mail, or no change, keeps the flag


def test_new_rows_and_changed_rows_together(program, write_csv, loaded):
    rows = [dict(r) for r in loaded] + [row(11), row(12)]
    rows[9]["customer_name"] = "Maria Lopez-Diaz"
    result = load(program, write_csv(rows, name="reload.csv"))
    assert (result.rows, result.created, result.updated, result.unchanged) == (12, 2, 1, 9)
    assert ServiceAccount.objects.count() == 12
    new = ServiceAccount.objects.get(account_number=row(11)["account_number"])
    assert new.import_run_id == result.run.pk and new.status == Status.ELIGIBLE
    # Accounts the reload did not create keep the run that created them.
    assert ServiceAccount.objects.filter(import_run_id=result.run.pk).count() == 2


def test_status_moves_and_refusals_on_a_reload(program, write_csv, loaded):
    enrolled = ServiceAccount.objects.get(account_number=loaded[1]["account_number"])
    account_transition(
        account=enrolled, to_status=Status.ENROLLED, channel="system", actor=Actor("system")
    )
    ServiceAccount.objects.filter(pk=enrolled.pk).update(
        updated_at=timezone.now() - dt.timedelta(hours=1)
    )
    before = snapshot()
    rows = [dict(r, status="", enrollment_date="", product="") for r in loaded]
    rows[0].update(status="enrolled", enrollment_date="2027-03-03")  # forward: eligible → enrolled
    rows[1].update(status="eligible")  # backwards: refused, and nothing else changes
    result = load(program, write_csv(rows, name="statuses.csv"))
    assert (result.updated, result.unchanged, result.status_kept) == (1, 9, 1)
    after = snapshot()
    assert after[rows[1]["account_number"]] == before[rows[1]["account_number"]]
    moved = after[rows[0]["account_number"]]
    assert moved["status"] == Status.ENROLLED and moved["enrollment_date"] == dt.date(2027, 3, 3)
    change = StatusChange.objects.get(account__account_number=rows[0]["account_number"])
    assert (change.from_status, change.to_status) == ("eligible", "enrolled")
    assert "line 2: status from the file" in change.reason


def test_a_reload_never_reenrolls_the_same_customer(program, write_csv, loaded):
    first, second = (
        ServiceAccount.objects.get(account_number=loaded[i]["account_number"]) for i in (0, 1)
    )
    # The same customer at the same premises under two numbers, both opted out; the second last.
    now = timezone.now()
    ServiceAccount.objects.filter(pk=first.pk).update(
        status=Status.OPTED_OUT_PRE, status_changed_at=now - dt.timedelta(days=3)
    )
    ServiceAccount.objects.filter(pk=second.pk).update(
        customer_key=first.customer_key, status=Status.TERMINATED, status_changed_at=now
    )
    chosen = opted_out_same_customer(program_id=program.pk, customer_key=first.customer_key)
    renumbered = row(1, account_number="7777777777", customer_name="MARIA  LOPEZ 1")
    rows = [dict(loaded[0], status="enrolled", enrollment_date="2027-03-03"), renumbered]
    result = load(program, write_csv(rows, name="renumbered.csv"))

    assert result.inherited_opt_outs == 1 and result.status_kept == 1
    first.refresh_from_db()
    assert first.status == Status.OPTED_OUT_PRE
    new = ServiceAccount.objects.get(account_number="7777777777")
    assert new.status == Status.OPTED_OUT_PRE
    # The set-based rule picked the account the one-row rule picks: the last to opt out.
    assert chosen.account_number == second.account_number
    assert f"opted-out account {second.account_number}" in new.status_changes.get().reason
    assert ServiceAccount.objects.count() == 11


def test_a_new_code_that_clashes_with_an_account_is_drawn_again(
    program, write_csv, loaded, monkeypatch
):
    taken = ServiceAccount.objects.get(account_number=loaded[0]["account_number"]).opt_out_code
    monkeypatch.setattr(validation.Validator, "_code", lambda self: taken)
    load(program, write_csv([*loaded, row(11), row(12)], name="clash.csv"))
    codes = list(ServiceAccount.objects.values_list("opt_out_code", flat=True))
    assert len(set(codes)) == 12
    for number in (row(11)["account_number"], row(12)["account_number"]):
        code = ServiceAccount.objects.get(account_number=number).opt_out_code
        assert len(code) == 10 and set(code) <= set(CODE_ALPHABET)


def test_the_customer_key_follows_a_changed_name_or_service_address(program, write_csv, loaded):
    """An account whose premises or name the file changes is found as that customer afterwards
    (R-NO-REENROLL): its key is the one a new account for them would get."""
    rows = [dict(r) for r in loaded]
    rows[1]["service_address"] = "9 East St"
    rows[3]["customer_name"] = "Maria Lopez-Garcia"
    load(program, write_csv(rows, name="reload.csv"))
    for i in (1, 3):
        a = ServiceAccount.objects.get(account_number=rows[i]["account_number"])
        assert a.customer_key == validation.normalize.customer_key(
            a.customer_name, a.service_address, a.service_zip
        )
    assert ServiceAccount.objects.get(account_number=rows[1]["account_number"]).service_address == (
        "9 EAST ST"
    )
