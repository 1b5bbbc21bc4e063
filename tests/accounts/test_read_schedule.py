import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ImportRun, ReadDate
from accounts.services.calendar import default_calendar, is_business_day
from accounts.services.read_schedule import (
    ReadScheduleRejected,
    read_schedule_generate,
    read_schedule_import,
    read_schedule_write,
)
from accounts.services.status import Actor
from tests.factories import ProgramFactory, UtilityFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def program():
    return ProgramFactory(slug="rs", utility=UtilityFactory(code="SCE"))


def write(tmp_path, text, name="reads.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_import_creates_read_dates_and_records_the_run(program, tmp_path):
    path = write(
        tmp_path, "read_cycle,read_date\n1,2027-01-04\n2,2027-01-05\n1,2027-02-02\n1,2027-02-02\n"
    )
    result = read_schedule_import(program=program, path=path, actor=Actor("tester"), today=TODAY)
    assert set(ReadDate.objects.values_list("utility__code", "read_cycle", "read_date")) == {
        ("SCE", 1, dt.date(2027, 1, 4)),
        ("SCE", 2, dt.date(2027, 1, 5)),
        ("SCE", 1, dt.date(2027, 2, 2)),
    }
    assert (result.rows, result.created, result.unchanged, result.duplicates) == (4, 3, 0, 1)
    run = result.run
    assert run.kind == ImportRun.Kind.READ_SCHEDULE and run.outcome == ImportRun.Outcome.LOADED
    assert (
        run.program == program
        and run.actor == "tester"
        and len(run.sha256) == 64
        and run.created == 3
    )


def test_import_is_idempotent(program, tmp_path):
    path = write(tmp_path, "read_cycle,read_date\n1,2027-01-04\n2,2027-01-05\n")
    read_schedule_import(program=program, path=path, actor=Actor("t"), today=TODAY)
    again = read_schedule_import(program=program, path=path, actor=Actor("t"), today=TODAY)
    assert (again.created, again.unchanged) == (0, 2)
    assert ReadDate.objects.count() == 2


def test_a_moved_future_read_replaces_the_old_one_but_the_past_is_kept(program, tmp_path):
    first = "read_cycle,read_date\n3,2026-10-05\n3,2026-12-03\n3,2027-01-06\n3,2027-02-03\n"
    read_schedule_import(
        program=program, path=write(tmp_path, first), actor=Actor("t"), today=TODAY
    )
    revised = "read_cycle,read_date\n3,2026-10-06\n3,2026-12-04\n3,2027-02-03\n"
    result = read_schedule_import(
        program=program, path=write(tmp_path, revised, "v2.csv"), actor=Actor("t"), today=TODAY
    )
    assert (
        result.removed == 2
    )  # 2026-12-03 and 2027-01-06: future, inside the span, no longer listed
    assert sorted(ReadDate.objects.values_list("read_date", flat=True)) == [
        dt.date(2026, 10, 5),
        dt.date(2026, 10, 6),
        dt.date(2026, 12, 4),
        dt.date(2027, 2, 3),
    ]


def test_bad_rows_are_reported_by_line_and_column_and_nothing_is_written(program, tmp_path):
    path = write(
        tmp_path,
        "read_cycle,read_date\n1,2027-01-04\n0,2027-01-05\nx,2027-01-05\n4,2027-13-01\n5,01/05/2027\n,2027-01-05\n6,\n",
    )
    with pytest.raises(ReadScheduleRejected) as exc:
        read_schedule_import(program=program, path=path, actor=Actor("t"), today=TODAY)
    assert exc.value.errors == [
        "line 3, read_cycle: '0' is not a cycle number from 1 to 99",
        "line 4, read_cycle: 'x' is not a cycle number from 1 to 99",
        "line 5, read_date: '2027-13-01' is not a date (YYYY-MM-DD)",
        "line 6, read_date: '01/05/2027' is not a date (YYYY-MM-DD)",
        "line 7, read_cycle: missing",
        "line 8, read_date: missing",
    ]
    assert ReadDate.objects.count() == 0
    run = ImportRun.objects.get()
    assert run.outcome == ImportRun.Outcome.REJECTED and "line 3, read_cycle" in run.message


def test_missing_column_is_reported(program, tmp_path):
    with pytest.raises(ReadScheduleRejected, match=r"line 1: header lacks column\(s\) read_date"):
        read_schedule_import(
            program=program,
            path=write(tmp_path, "read_cycle,date\n1,2027-01-04\n"),
            actor=Actor("t"),
        )


def test_generated_schedule_reads_each_cycle_monthly_on_its_business_day():
    reads = read_schedule_generate(start=dt.date(2027, 1, 1), months=24)
    assert len(reads) == 24 * 21
    cycle1 = sorted(d for c, d in reads if c == 1)
    assert len(cycle1) == 24 and cycle1[0] == dt.date(2027, 1, 4)  # Fri Jan 1 is a holiday
    assert all(is_business_day(d, calendar=default_calendar("utility")) for _, d in reads)
    jan = sorted(d for c, d in reads if d.month == 1 and d.year == 2027)
    assert jan == sorted(jan) and len(set(jan)) <= 21


def test_command_exit_codes(program, tmp_path, capsys):
    path = read_schedule_write(
        path=tmp_path / "gen.csv", reads=read_schedule_generate(start=dt.date(2027, 1, 1), months=2)
    )
    call_command("import_read_schedule", str(path), "--program", "rs")
    assert "42 read dates created" in capsys.readouterr().out
    bad = write(tmp_path, "read_cycle,read_date\n1,2027-02-30\n", "bad.csv")
    with pytest.raises(CommandError, match=r"line 2, read_date: '2027-02-30' is not a date"):
        call_command("import_read_schedule", str(bad), "--program", "rs")
    with pytest.raises(CommandError, match=r"--program: no program with slug 'nope'"):
        call_command("import_read_schedule", str(path), "--program", "nope")
    with pytest.raises(CommandError, match=r"nope.csv: no such file"):
        call_command("import_read_schedule", str(tmp_path / "nope.csv"), "--program", "rs")
