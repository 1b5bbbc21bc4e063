import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import (
    FeeSchedule,
    ImportRun,
    Phase,
    Product,
    Program,
    ReadDate,
    ServiceAccount,
)
from cca_notices.management.commands.demo import PROGRAM_FILE, demo_phase_windows

pytest.importorskip("accounts.services.importing")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _var(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path / "var"
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)


def test_a_lived_demo_is_in_mid_life():
    for today in (dt.date(2026, 11, 23), dt.date(2026, 12, 31), dt.date(2027, 1, 1)):
        (s1, e1), (s2, e2) = demo_phase_windows(today)
        assert s1.day == 1 and 80 <= (today - s1).days <= 111  # enrolled some weeks ago
        assert s2.day == 1 and 56 <= (s2 - today).days <= 86  # its first notice is due soon
        assert e1 < today < s2 and e2 > s2


def test_phase_windows_start_a_couple_of_months_out():
    for today in (dt.date(2026, 11, 23), dt.date(2026, 12, 31), dt.date(2027, 1, 1)):
        (s1, e1), (s2, e2) = demo_phase_windows(today, lived=False)
        assert s1.day == 1 and 75 <= (s1 - today).days <= 106
        assert e1 == dt.date(s1.year + (s1.month == 12), s1.month % 12 + 1, 1) - dt.timedelta(
            days=1
        )
        assert s2 > e1 and s2.day == 1 and e2 > s2


def test_demo_builds_the_program_and_rerun_refreshes_without_duplicates(settings, capsys):
    call_command("demo", "--accounts", "300", "--no-history")
    out = capsys.readouterr().out
    program = Program.objects.get(slug="demo")
    assert ServiceAccount.objects.filter(program=program).count() == 300
    assert Phase.objects.filter(program=program).count() == 2
    assert set(ServiceAccount.objects.values_list("phase__name", flat=True)) == {
        "Phase 1",
        "Phase 2",
    }
    assert (
        ReadDate.objects.filter(utility=program.utility).values("read_cycle").distinct().count()
        == 21
    )
    assert ReadDate.objects.filter(utility=program.utility).count() == 28 * 21
    # every account has a read date inside its phase window: the schedule can enroll it
    for phase in program.phases.all():
        for cycle in range(1, 22):
            assert ReadDate.objects.filter(
                utility=program.utility,
                read_cycle=cycle,
                read_date__range=(phase.enrollment_start, phase.enrollment_end),
            ).exists()

    password = (settings.VAR_DIR / "demo_admin_password").read_text().strip()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password(password)
    assert (
        "http://127.0.0.1:8000/admin/" in out
        and "username: admin" in out
        and f"password: {password}" in out
    )

    counts = (
        Program.objects.count(),
        Phase.objects.count(),
        Product.objects.count(),
        FeeSchedule.objects.count(),
        ReadDate.objects.count(),
        ServiceAccount.objects.count(),
    )
    call_command("demo", "--accounts", "300", "--no-history")
    out = capsys.readouterr().out
    assert (
        Program.objects.count(),
        Phase.objects.count(),
        Product.objects.count(),
        FeeSchedule.objects.count(),
        ReadDate.objects.count(),
        ServiceAccount.objects.count(),
    ) == counts
    assert "0 created" in out and "300 unchanged" in out
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert admin.__class__.objects.get(username="admin").check_password(
        password
    )  # same password kept
    assert (
        ImportRun.objects.filter(program=program, kind="read_schedule", outcome="loaded").count()
        == 2
    )


def test_admin_password_from_environment(monkeypatch, capsys):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "correct-horse-battery")
    call_command("demo", "--accounts", "50", "--no-history")
    assert get_user_model().objects.get(username="admin").check_password("correct-horse-battery")
    assert "password: correct-horse-battery" in capsys.readouterr().out


def test_demo_program_file_error_exits_non_zero(monkeypatch, tmp_path):
    broken = tmp_path / "demo_program.toml"
    broken.write_text(PROGRAM_FILE.read_text().replace("free_window_days", "free_windw_days"))
    monkeypatch.setattr("cca_notices.management.commands.demo.PROGRAM_FILE", broken)
    with pytest.raises(
        CommandError,
        match=re.escape("settings.free_windw_days: unknown key; did you mean 'free_window_days'?"),
    ):
        call_command("demo", "--accounts", "10", "--no-history")
    assert not Program.objects.exists()
