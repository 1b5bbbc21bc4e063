"""The audit log: every change recorded (who, when, channel, before and after), append-only, shown
read-only in the admin, and an account's whole history on one page."""

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from accounts.audit_context import AuditChannel, audit_context, current
from accounts.audit_log import AuditEntry, AuditLogIsAppendOnly
from accounts.models import Channel, FeeSchedule, ImportRun, ServiceAccount, Status, StatusChange
from accounts.services.status import Actor, accounts_transition_bulk
from optouts.models import FeeEntry, OptOutRequest
from optouts.services.intake import optout_submit
from tests.admin.formdata import form_data
from tests.audit.test_log_confidentiality import _api_client, _web_optout
from tests.factories import PhaseFactory, grant_programs
from tests.optouts.test_ivr import TOKEN, Call

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def entries_for(obj, **kw):
    return AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_pk=str(obj.pk), **kw
    )


def optout_entry(account):
    return entries_for(OptOutRequest.objects.get(account=account), action=AuditEntry.Action.CREATE)


def test_an_opt_out_in_each_channel_names_its_channel_and_actor(
    client, customer, program, staff, today, settings
):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    web, ivr, agent, api, card = (customer(account_number=f"86753091{n:02d}") for n in range(5))

    done = _web_optout(client, web)
    e = optout_entry(web).get()
    assert (e.channel, e.actor_name, e.account_id) == ("web", "anonymous", web.pk)
    assert e.cid == done["X-Request-ID"]  # the request id ties the entry to the log lines

    call = Call(client, program).start().press("1").press(f"{ivr.account_number}#")
    call.press(ivr.service_zip).press("1")
    assert optout_entry(ivr).get().channel == "ivr"

    client.force_login(staff["agent"])
    client.post(
        f"/admin/optouts/optoutrequest/agent/?account={agent.pk}",
        {"channel": "utility_transfer", "return_path": "transitional"},
    )
    e = optout_entry(agent).get()
    assert (e.channel, e.actor_name, e.actor) == ("phone", "agent", staff["agent"])

    client.post("/admin/optouts/optoutrequest/reply-cards/", {"lines": card.account_number})
    assert optout_entry(card).get().channel == "reply_card"

    body = {"program": program.slug, "account_number": api.account_number, "channel": "email"}
    assert _api_client().post("/api/v1/opt-outs/", body, format="json").status_code == 201
    e = optout_entry(api).get()
    assert (e.channel, e.actor_name) == ("api", "utility-feed")

    # The status change is recorded with its before and after, in the same channel.
    change = StatusChange.objects.get(account=web)
    sc = entries_for(change).get()
    assert sc.channel == "web"
    assert sc.changes_dict["from_status"][1] == Status.ENROLLED
    assert sc.changes_dict["to_status"][1] == Status.OPTED_OUT_FREE


def test_a_contact_correction_in_the_admin_keeps_before_and_after(admin_client, customer, today):
    account = customer()
    url = reverse("admin:accounts_serviceaccount_change", args=[account.pk])
    data = form_data(admin_client.get(url).content.decode(), "serviceaccount_form")
    data["email"] = "new.address@example.net"
    assert admin_client.post(url, data).status_code == 302
    e = entries_for(account, action=AuditEntry.Action.UPDATE).get()
    assert e.changes_dict["email"] == [account.email, "new.address@example.net"]
    assert (e.channel, e.actor_name) == ("admin", "admin")
    # Lists show our row id, never the customer's name or account number.
    assert e.object_repr == f"service account #{account.pk}"


def test_program_settings_changes_are_recorded(admin_client, program):
    with audit_context(channel=AuditChannel.COMMAND, actor_name="ops: load_program"):
        fee = FeeSchedule.objects.filter(program=program).first()
        fee.admin_fee = Decimal("7.50")
        fee.save()
        phase = PhaseFactory(
            program=program,
            enrollment_start=dt.date(2027, 4, 1),
            enrollment_end=dt.date(2027, 5, 1),
        )
        phase.enrollment_end = dt.date(2027, 6, 1)
        phase.save()
        program.cutoff_days = (program.cutoff_days or 0) + 1
        program.save()
    e = entries_for(fee, action=AuditEntry.Action.UPDATE).get()
    assert e.changes_dict["admin_fee"] == ["5.00", "7.50"]
    assert (e.channel, e.actor_name) == ("command", "ops: load_program")
    window = entries_for(phase, action=AuditEntry.Action.UPDATE).get()
    assert window.changes_dict["enrollment_end"] == ["2027-05-01", "2027-06-01"]
    assert entries_for(program, action=AuditEntry.Action.UPDATE).get().changes_dict["cutoff_days"]
    # The program's History page gathers its settings: the fee, the phase window, the cutoff.
    page = admin_client.get(
        reverse("admin:accounts_program_history", args=[program.pk])
    ).content.decode()
    assert "fee schedule" in page and "2027-06-01" in page and "cutoff_days" in page


def test_a_fee_and_its_waiver_are_recorded(customer, staff, today):
    from optouts.services.fees import fee_entry_waive

    account = customer(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"))
    entry = FeeEntry.objects.get(account=account)
    assert entries_for(entry, action=AuditEntry.Action.CREATE).exists()
    with audit_context(channel=AuditChannel.ADMIN, user=staff["supervisor"]):
        fee_entry_waive(entry=entry, user=staff["supervisor"], reason="hardship")
    e = entries_for(entry, action=AuditEntry.Action.UPDATE).get()
    assert e.changes_dict["status"] == ["assessed", "waived"]
    assert e.actor == staff["supervisor"] and e.account_id == account.pk


def test_a_bulk_status_change_is_one_entry_with_counts_and_ids(customer, today):
    a, b = customer(status=Status.ELIGIBLE), customer(account_number="8675309199")
    with audit_context(channel=AuditChannel.TASK, actor_name="task enroll"):
        moved = accounts_transition_bulk(
            account_ids=[a.pk, b.pk], to_status=Status.NOTIFIED, channel="system", actor=Actor("x")
        )
    assert moved == 1  # b is enrolled: it cannot become notified
    e = AuditEntry.objects.get(additional_data__bulk__startswith="status set to notified")
    assert e.additional_data["counts"] == {"moved": 1} and e.additional_data["ids"] == [a.pk]
    assert e.changes_dict["status"] == [["eligible"], "notified"] and e.channel == "system"


def test_an_import_run_is_one_entry_with_its_counts(tmp_path):
    import csv

    from django.core.management import call_command

    from accounts.models import CustomerClass
    from tests.factories import ProductFactory, ProgramFactory, RateScheduleFactory
    from tests.importing.conftest import HEADER, row

    prog = ProgramFactory(slug="marin")
    PhaseFactory(program=prog, name="Phase 1", number=1)
    ProductFactory(program=prog, code="light-green", is_default=True)
    RateScheduleFactory(utility=prog.utility, code="D", customer_class=CustomerClass.RESIDENTIAL)
    path = tmp_path / "eligible.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=HEADER)
        w.writeheader()
        w.writerows([row(1), row(2), row(3, customer_class="martian")])
    with audit_context(channel=AuditChannel.COMMAND, actor_name="ops: import_accounts"):
        call_command("import_accounts", str(path), "--program", "marin", "--skip-invalid")
    run = ImportRun.objects.get()
    updates = entries_for(run, action=AuditEntry.Action.UPDATE)
    final = updates.order_by("-pk").first()
    assert final.changes_dict["created"][1] == 2 and final.changes_dict["rejected"][1] == 1
    assert final.channel == "command"
    # The accounts the COPY wrote are not one entry each: the run's entry counts them.
    assert not AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(ServiceAccount)
    ).exists()


# --- append-only ----------------------------------------------------------------------------


@pytest.fixture
def entry(customer, today):
    account = customer()
    optout_submit(account=account, channel=Channel.WEB, actor=Actor("web"))
    return AuditEntry.objects.filter(account_id=account.pk).first()


def test_the_model_refuses_update_and_delete(entry):
    entry.actor_name = "someone else"
    with pytest.raises(AuditLogIsAppendOnly):
        entry.save()
    with pytest.raises(AuditLogIsAppendOnly):
        entry.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(actor_name="x")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    entry.refresh_from_db()
    assert entry.actor_name != "someone else"


@pytest.mark.postgres
def test_postgresql_refuses_update_and_delete_in_sql(entry):
    table = AuditEntry._meta.db_table
    for sql in (f"UPDATE {table} SET actor_name = 'x'", f"DELETE FROM {table}"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert AuditEntry.objects.filter(pk=entry.pk, actor_name=entry.actor_name).exists()


def test_no_one_may_add_change_or_delete_in_the_admin(admin_client, entry):
    """admin_client is a superuser: has_perm says yes to everything, the admin still says no."""
    changelist = reverse("admin:accounts_auditentry_changelist")
    page = admin_client.get(changelist)
    assert page.status_code == 200 and "delete_selected" not in page.content.decode()
    assert admin_client.get(reverse("admin:accounts_auditentry_add")).status_code == 403
    change = reverse("admin:accounts_auditentry_change", args=[entry.pk])
    view = admin_client.get(change)
    assert view.status_code == 200 and 'name="_save"' not in view.content.decode()
    assert admin_client.post(change, {"actor_name": "x"}).status_code == 403
    delete = reverse("admin:accounts_auditentry_delete", args=[entry.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert AuditEntry.objects.filter(pk=entry.pk, actor_name=entry.actor_name).exists()


def test_there_is_no_add_change_or_delete_permission_to_grant():
    ct = ContentType.objects.get_for_model(AuditEntry)
    codenames = set(Permission.objects.filter(content_type=ct).values_list("codename", flat=True))
    assert codenames == {"view_auditentry", "export_customer_data"}


# --- one view of an account's history ---------------------------------------------------------


def test_the_account_history_page_shows_everything_that_belongs_to_it(
    admin_client, customer, today
):
    account = customer(status=Status.PARTICIPANT, enrollment_date=dt.date(2026, 1, 2))
    optout_submit(
        account=account, channel=Channel.WEB, actor=Actor("web"), return_path="transitional"
    )
    change_page = admin_client.get(
        reverse("admin:accounts_serviceaccount_change", args=[account.pk])
    ).content.decode()
    history_url = reverse("admin:accounts_serviceaccount_history", args=[account.pk])
    assert history_url in change_page  # the History button
    page = admin_client.get(history_url).content.decode()
    for kind in ("opt-out request", "fee entry", "status change", "service request"):
        assert kind in page.lower(), kind
    assert "participant" in page and "terminated" in page  # before and after


def test_the_history_page_needs_view_permission(client, customer, db):
    account = customer()
    user = grant_programs(User.objects.create_user("nobody", password="pw", is_staff=True))
    client.force_login(user)
    url = reverse("admin:accounts_serviceaccount_history", args=[account.pk])
    assert client.get(url).status_code == 403


# --- context set at the edges -----------------------------------------------------------------


def test_a_well_formed_request_id_is_kept_and_a_bad_one_replaced(client, program):
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234abcd-5678")
    assert kept["X-Request-ID"] == "lb-1234abcd-5678"
    for bad in ("short", "x" * 65, "has space in it", 'quote"inside1234', "zebulon@farns.example"):
        replaced = client.get("/healthz", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert replaced != bad and len(replaced) == 32


def test_a_celery_task_runs_in_its_own_context_under_the_callers_request_id():
    from cca_notices.celery import _task_context_close, _task_context_open, _task_request_id

    headers: dict = {}
    with audit_context(channel="web", request_id="req-0123456789"):
        _task_request_id(headers=headers)
    assert headers["request_id"] == "req-0123456789"

    class Task:
        name = "optouts.tasks.confirmation_send"

        class request:
            request_id = "req-0123456789"

    _task_context_open(task_id="t1", task=Task)
    ctx = current()
    assert (ctx.channel, ctx.actor_name, ctx.request_id) == (
        "system",
        "task optouts.tasks.confirmation_send",
        "req-0123456789",
    )
    _task_context_close(task_id="t1")
    assert current() is None


def test_manage_py_runs_commands_in_the_command_channel():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cca_notices.settings"}
    code = (
        "from accounts.audit_context import current; c = current(); print(c.channel, c.actor_name)"
    )
    out = (
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.splitlines()[-1]
        .split()
    )
    assert out[0] == "command" and out[-1] == "shell"
