"""Agents see the ledger, the CCASR queue, re-entries, rejoins and confirmations; supervisors also
mark fees billed (waive_fee) and re-queue rejected service requests."""
from django.db import migrations

AGENT = [("optouts", f"view_{m}") for m in ("feeentry", "feeexport", "servicerequest", "ccasrexport", "reentryrequest",
                                             "rejoinrequest", "move", "confirmation")]
SUPERVISOR = AGENT + [("optouts", "change_servicerequest")]
GROUPS = {"Call-centre agent": AGENT, "Supervisor": SUPERVISOR}


def add_permissions(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    create_permissions(global_apps.get_app_config("optouts"), verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in perms:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [("optouts", "0003_ledger_ccasr_reentry")]
    operations = [migrations.RunPython(add_permissions, migrations.RunPython.noop)]
