"""The opt-out fixtures (program with reads on the 2nd, fee schedule, products, pinned date)."""
import datetime as dt

import pytest
from django.contrib.auth.models import Group, User

from accounts.models import Channel, Status
from accounts.services.status import Actor
from tests.optouts.conftest import TODAY, _clear_cache, groups, make_account, program, today  # noqa: F401

__all__ = ["TODAY", "dt"]


@pytest.fixture
def staff(groups):  # noqa: F811
    """An agent and a supervisor from the migrations' groups (0002 and 0004)."""
    from importlib import import_module

    from django.apps import apps

    import_module("optouts.migrations.0004_staff_groups_ledger").add_permissions(apps, None)

    def make(name, group):
        user = User.objects.create_user(name, password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        return User.objects.get(pk=user.pk)

    return {"agent": make("agent", "Call-centre agent"), "supervisor": make("super", "Supervisor")}


@pytest.fixture
def terminate(make_account, today):  # noqa: F811
    """An opt-out after the free window (participant), recorded through optout_submit."""
    from optouts.services.intake import optout_submit

    def run(path=None, **kw):
        kw.setdefault("status", Status.PARTICIPANT)
        kw.setdefault("enrollment_date", dt.date(2026, 6, 2))
        account = make_account(**kw)
        return optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"), return_path=path).request

    return run
