"""The two rule sets every install starts with. Values are written out here (not imported) so
this migration keeps meaning what it meant when it ran; later changes are new migrations or admin edits."""
from django.db import migrations

RULE_SETS = [
    {
        "code": "ca_rule23",
        "name": "California Rule 23 (AB 117)",
        "source": "SCE Rule 23 / CCA implementation guide (seed 001), implementation plan ch. 9 (seed 004)",
        "description": (
            "Two notices in the 60 days before enrollment (about 60 and 30 days before), two in the "
            "60 days after it over two consecutive billing cycles, and two in the 60 days after a new "
            "customer's service starts."
        ),
        "pre_offsets": [60, 30],
        "pre_window_days": 60,
        "pre_min_lead_days": 1,
        "post_count": 2,
        "post_lag_days": 3,
        "post_window_days": 60,
        "new_customer_offsets": [10, 40],
        "new_customer_window_days": 60,
        "min_gap_days": 7,
        "free_window_days": 60,
    },
    {
        "code": "ab9_legacy",
        "name": "Public Utilities Code §366(d)(8), legacy (AB 117 as enacted)",
        "source": "Public Utilities Code §366(d)(6), (d)(8)(A) (seed 003)",
        "description": (
            "One notice at least 30 days before automatic enrollment, notices in three consecutive "
            "billing cycles after it, and a 180-day opt-out without penalty."
        ),
        "pre_offsets": [30],
        "pre_window_days": 60,
        "pre_min_lead_days": 30,
        "post_count": 3,
        "post_lag_days": 3,
        "post_window_days": None,
        "new_customer_offsets": [10, 40],
        "new_customer_window_days": 60,
        "min_gap_days": 7,
        "free_window_days": 180,
    },
]


def load(apps, schema_editor):
    RuleSet = apps.get_model("cca_notices", "RuleSet")
    for row in RULE_SETS:
        RuleSet.objects.update_or_create(code=row["code"], defaults={k: v for k, v in row.items() if k != "code"})


def unload(apps, schema_editor):
    apps.get_model("cca_notices", "RuleSet").objects.filter(code__in=[r["code"] for r in RULE_SETS]).delete()


class Migration(migrations.Migration):
    dependencies = [("cca_notices", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
