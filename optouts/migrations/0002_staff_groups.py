"""Groups for the call centre: agents record opt-outs; supervisors also waive fees and keep the
fee schedule. Permissions are created here (post_migrate has not run yet on a fresh database)."""
from django.db import migrations

AGENT = [
    ("accounts", "view_serviceaccount"), ("accounts", "view_statuschange"), ("accounts", "view_program"),
    ("accounts", "view_feeschedule"),
    ("optouts", "view_optoutrequest"), ("optouts", "record_optout"),
]
SUPERVISOR = AGENT + [
    ("optouts", "waive_fee"), ("optouts", "change_optoutrequest"),
    ("accounts", "add_feeschedule"), ("accounts", "change_feeschedule"),
]
GROUPS = {"Call-centre agent": AGENT, "Supervisor": SUPERVISOR}


def create_groups(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for label in ("accounts", "optouts"):
        config = global_apps.get_app_config(label)
        create_permissions(config, verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in perms:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("optouts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
