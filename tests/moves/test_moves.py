import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ImportRun, Product, ServiceAccount, Status
from optouts.models import FeeEntry, Move, ServiceRequest

HEADER = (
    "old_account_number,new_account_number,move_type,move_date,customer_name,service_address,service_city,"
    "service_zip,mailing_address,mailing_city,mailing_state,mailing_zip,customer_class,rate_schedule,read_cycle,"
    "language,email,phone\n"
)


def write(tmp_path, *lines):
    path = tmp_path / "moves.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines))
    return path


def run(program, path):
    call_command("import_moves", str(path), "--program", program.slug)


def test_an_opted_out_customer_stays_opted_out_under_a_new_account_number(
    make_account, program, tmp_path, today
):
    deep = Product.objects.get(code="deep-green")
    old = make_account(status=Status.OPTED_OUT_FREE, product=deep)
    run(
        program,
        write(
            tmp_path,
            f"{old.account_number},9100000001,within,2027-03-15,,"
            "20 Oak Avenue,San Rafael,94903,,,,,,,,,,",
        ),
    )
    new = ServiceAccount.objects.get(account_number="9100000001")
    old.refresh_from_db()
    assert (
        new.status == Status.OPTED_OUT_FREE
        and new.product == deep
        and new.service_address == "20 OAK AVE"
    )
    assert old.status == Status.MOVED_OUT and old.status_changes.last().channel == "utility"
    assert new.status_changes.get().reason.startswith("moved within")
    assert len(new.opt_out_code) == 10 and new.opt_out_code != old.opt_out_code
    assert Move.objects.get().status_kept == Status.OPTED_OUT_FREE
    assert (
        not ServiceRequest.objects.exists()
    )  # nothing to tell the utility: the customer is not on CCA service


def test_an_enrolled_customer_moving_within_keeps_service_and_gets_a_connect(
    make_account, program, tmp_path, today
):
    old = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 6, 2))
    run(
        program,
        write(
            tmp_path,
            f"{old.account_number},9100000002,within,2027-03-20,,5 Elm St,Novato,94945,,,,,,,,,,",
        ),
    )
    new = ServiceAccount.objects.get(account_number="9100000002")
    assert new.status == Status.PARTICIPANT
    connect = ServiceRequest.objects.get(account=new)
    assert (connect.type, connect.source, connect.effective_date) == (
        "connect",
        "move",
        dt.date(2027, 3, 20),
    )


def test_same_account_number_updates_the_address_only(make_account, program, tmp_path, today):
    old = make_account(status=Status.ENROLLED)
    run(
        program,
        write(
            tmp_path,
            f"{old.account_number},,within,2027-03-20,,"
            "5 Elm St,Novato,94945,PO Box 7,Novato,CA,94948,,,,,,",
        ),
    )
    old.refresh_from_db()
    assert (
        old.status == Status.ENROLLED
        and old.service_city == "NOVATO"
        and old.mailing_address == "PO BOX 7"
    )


def test_moving_out_closes_without_a_fee(make_account, program, tmp_path, today):
    account = make_account(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 6, 2))
    run(program, write(tmp_path, f"{account.account_number},,out,2027-03-20,,,,,,,,,,,,,,"))
    account.refresh_from_db()
    assert account.status == Status.MOVED_OUT
    assert not FeeEntry.objects.exists()


def test_a_new_customer_moving_in_is_enrolled_and_gets_new_customer_notices(
    program, tmp_path, today, capsys
):
    from cca_notices.models import Notice

    run(
        program,
        write(
            tmp_path,
            ",9100000003,in,2027-03-15,Rosa Diaz,77 Bay Rd,Sausalito,94965,,,,,"
            "residential,D,1,es,rosa@example.com,",
        ),
    )
    account = ServiceAccount.objects.get(account_number="9100000003")
    assert account.status == Status.ELIGIBLE and account.service_start_date == dt.date(2027, 3, 15)
    assert account.product.code == "light-green" and account.language == "es"
    kinds = set(Notice.objects.filter(account=account).values_list("kind", flat=True))
    assert kinds == {"new_customer_1", "new_customer_2"}
    assert "1 moved in" in capsys.readouterr().out


def test_bad_lines_are_named_and_nothing_is_written(make_account, program, tmp_path, today):
    ok = make_account(status=Status.PARTICIPANT)
    path = write(
        tmp_path,
        f"{ok.account_number},,out,2027-03-20,,,,,,,,,,,,,,",
        "0000000000,,out,2027-03-20,,,,,,,,,,,,,,",
        ",9100000004,in,2027-13-01,X,1 A St,Novato,94945,,,,,plutonium,D,1,,,",
    )
    with pytest.raises(CommandError) as exc:
        run(program, path)
    message = str(exc.value)
    assert "line 3, old_account_number: account 0000000000 is not in program" in message
    assert "line 4, move_date" in message and "line 4, customer_class" in message
    ok.refresh_from_db()
    assert ok.status == Status.PARTICIPANT and not Move.objects.exists()
    assert ImportRun.objects.get(kind="moves").outcome == "rejected"
