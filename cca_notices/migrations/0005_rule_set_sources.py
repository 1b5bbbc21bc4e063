"""The two built-in rule sets cite their public sources (docs/rules.md), not internal notes.
Only a source still as 0002 wrote it is changed: a CCA's own edit in the admin is kept."""

from django.db import migrations

SOURCES = {
    "ca_rule23": (
        "SCE Rule 23 / CCA implementation guide (seed 001), implementation plan ch. 9 (seed 004)",
        "The utility's CCA tariff, Rule 23 (sections J, B.21, H.1-3, as its CCA enrollment page "
        "cites them); the CCA's implementation plan, ch. 9 (docs/rules.md R-NOTICE-TIMING)",
    ),
    "ab9_legacy": (
        "Public Utilities Code §366(d)(6), (d)(8)(A) (seed 003)",
        "Public Utilities Code §366(d)(6), (d)(8)(A) as printed in ABX2 9 (2001) "
        "(docs/rules.md R-NOTICE-LEGACY)",
    ),
}


def forwards(apps, schema_editor):
    RuleSet = apps.get_model("cca_notices", "RuleSet")
    for code, (old, new) in SOURCES.items():
        RuleSet.objects.filter(code=code, source=old).update(source=new)


def backwards(apps, schema_editor):
    RuleSet = apps.get_model("cca_notices", "RuleSet")
    for code, (old, new) in SOURCES.items():
        RuleSet.objects.filter(code=code, source=new).update(source=old)


class Migration(migrations.Migration):
    dependencies = [("cca_notices", "0004_mail_batch_letter_kinds")]
    operations = [migrations.RunPython(forwards, backwards)]
