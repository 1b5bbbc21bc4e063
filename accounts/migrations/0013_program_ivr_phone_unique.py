from django.db import migrations, models


def refuse_shared_lines(apps, schema_editor):
    """Say which programs share a line rather than fail on the constraint's bare error."""
    Program = apps.get_model("accounts", "Program")
    seen: dict[str, str] = {}
    shared = []
    for slug, line in Program.objects.exclude(ivr_phone="").values_list("slug", "ivr_phone"):
        if line in seen:
            shared.append(f"{line}: {seen[line]} and {slug}")
        seen.setdefault(line, slug)
    if shared:
        raise RuntimeError(
            "programs share an IVR line (the called number picks a call's program); give each "
            "its own ivr_phone in its program file, then migrate again: " + "; ".join(shared)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0012_trading_partner"),
    ]

    operations = [
        migrations.RunPython(refuse_shared_lines, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="program",
            constraint=models.UniqueConstraint(
                condition=models.Q(("ivr_phone", ""), _negated=True),
                fields=("ivr_phone",),
                name="program_ivr_phone_unique",
            ),
        ),
    ]
