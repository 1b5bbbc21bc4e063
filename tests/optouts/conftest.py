import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from accounts.models import Channel, FeeSchedule, Status
from accounts.services.status import Actor
from tests.factories import (
    ProductFactory,
    ProgramFactory,
    ReadDateFactory,
    ServiceAccountFactory,
    UtilityFactory,
    staff_user,
)

TODAY = dt.date(2027, 3, 10)


@pytest.fixture
def today(monkeypatch):
    """Pin the business date so free windows and cutoffs are deterministic."""
    monkeypatch.setattr("accounts.services.calendar.today", lambda: TODAY)
    return TODAY


@pytest.fixture
def program(db):
    utility = UtilityFactory()
    program = ProgramFactory(
        slug="clean",
        name="Clean Power Marin",
        utility=utility,
        email="hello@cleanpower.example.org",
    )
    # Cycle 1 reads on the 2nd of each month, 2027-2029.
    for year in (2027, 2028, 2029):
        for month in range(1, 13):
            ReadDateFactory(utility=utility, read_cycle=1, read_date=dt.date(year, month, 2))
    FeeSchedule.objects.create(
        program=program,
        customer_class="residential",
        effective_from=dt.date(2026, 1, 1),
        admin_fee=Decimal("5.00"),
        cost_recovery_charge=Decimal("0.00"),
    )
    FeeSchedule.objects.create(
        program=program,
        customer_class="residential",
        effective_from=dt.date(2027, 1, 1),
        admin_fee=Decimal("5.00"),
        cost_recovery_charge=Decimal("1.25"),
    )
    ProductFactory(program=program, code="light-green", name="Light Green", is_default=True)
    ProductFactory(
        program=program, code="deep-green", name="Deep Green", is_default=False, renewable_pct=100
    )
    return program


@pytest.fixture
def make_account(program):
    def make(**kw):
        kw.setdefault("program", program)
        kw.setdefault("status", Status.NOTIFIED)
        kw.setdefault("email", "customer@example.com")
        return ServiceAccountFactory(**kw)

    return make


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the process-wide local-memory cache."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def groups(db):
    """The data migration's groups (tests may run without migrations: apply its function)."""
    if not Group.objects.filter(name="Supervisor").exists():
        from importlib import import_module

        from django.apps import apps

        import_module("optouts.migrations.0002_staff_groups").create_groups(apps, None)
    if not Group.objects.filter(name="API feed").exists():
        from importlib import import_module

        from django.apps import apps

        import_module("optouts.migrations.0004_staff_groups_ledger").add_permissions(apps, None)
        import_module("optouts.migrations.0007_roles_ivr_calls").add_roles(apps, None)


@pytest.fixture
def staff(groups, program):
    """An agent and a supervisor from the migrations' groups (0002 and 0004)."""
    from importlib import import_module

    from django.apps import apps

    import_module("optouts.migrations.0004_staff_groups_ledger").add_permissions(apps, None)

    def make(name, group):
        return staff_user(name, group)

    return {"agent": make("agent", "Call-centre agent"), "supervisor": make("super", "Supervisor")}


@pytest.fixture
def terminate(make_account, today):
    """An opt-out after the free window (participant), recorded through optout_submit."""
    from optouts.services.intake import optout_submit

    def run(path=None, **kw):
        kw.setdefault("status", Status.PARTICIPANT)
        kw.setdefault("enrollment_date", dt.date(2026, 6, 2))
        account = make_account(**kw)
        return optout_submit(
            account=account, channel=Channel.WEB, actor=Actor("web"), return_path=path
        ).request

    return run
