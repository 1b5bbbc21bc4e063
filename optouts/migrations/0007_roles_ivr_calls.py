"""The IVR call state (IvrCall) and the staff roles (docs/admin.md "Roles"): extends the agent and supervisor groups of 0002 and
0004 and adds mail operations, the compliance auditor (read-only) and the API feed.

Permissions are created here (post_migrate has not run yet on a fresh database)."""
from django.db import migrations, models

APPS = ("accounts", "cca_notices", "optouts")
AGENT = [
    # The proof of notice a customer asks about on a call (certificate, the account's notices).
    ("cca_notices", "view_notice"), ("cca_notices", "view_accountnotices"),
    ("accounts", "view_phase"), ("accounts", "view_product"),
]
SUPERVISOR = AGENT + [
    ("accounts", "change_serviceaccount"),  # contact corrections (docs/admin.md)
    ("accounts", "delete_feeschedule"),  # planned rows only; rows in force are read-only
    ("accounts", "view_importrun"),
    ("cca_notices", "preview_letter"),
    ("accounts", "export_customer_data"),  # reject files, exports (docs/admin.md, downloads)
]
MAIL_OPERATIONS = [
    ("accounts", "view_program"), ("accounts", "view_phase"), ("accounts", "view_serviceaccount"),
    ("accounts", "view_readdate"), ("accounts", "view_importrun"),
    ("cca_notices", "view_notice"), ("cca_notices", "view_accountnotices"),
    ("cca_notices", "view_mailbatch"), ("cca_notices", "download_mailbatch"),
    ("cca_notices", "view_schedulerun"), ("cca_notices", "preview_letter"),
    ("optouts", "view_confirmation"),
    ("accounts", "export_customer_data"),
]
API_FEED = [
    ("accounts", "view_program"), ("optouts", "view_optoutrequest"), ("optouts", "record_optout"),
]
ADDED = {
    "Call-centre agent": AGENT,
    "Supervisor": SUPERVISOR,
    "Mail operations": MAIL_OPERATIONS,
    "API feed": API_FEED,
}
NEW_GROUPS = ("Mail operations", "Compliance auditor", "API feed")


def add_roles(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for label in APPS:
        create_permissions(global_apps.get_app_config(label), verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ADDED.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in perms:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    # The auditor reads everything the three apps hold and writes nothing.
    auditor, _ = Group.objects.get_or_create(name="Compliance auditor")
    auditor.permissions.add(
        *Permission.objects.filter(content_type__app_label__in=APPS, codename__startswith="view_")
    )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=NEW_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("optouts", "0006_confirmation_outbox_only"),
        ("accounts", "0011_program_access"),
        ("cca_notices", "0009_preview_permission"),
    ]
    operations = [
        # The IVR's call state, kept by CallSid instead of in the URL (optouts/ivr.py).
        migrations.CreateModel(
            name="IvrCall",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("call_sid", models.CharField(max_length=64, unique=True)),
                ("steps", models.JSONField(default=dict)),
                ("updated_at", models.DateTimeField(db_index=True)),
            ],
        ),
        migrations.RunPython(add_roles, remove_roles),
    ]
