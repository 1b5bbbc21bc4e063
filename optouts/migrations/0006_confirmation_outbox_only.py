# The Confirmation rows are the only confirmation outbox: the opt-out's own sent-at stamps go,
# an e-mail they record as sent is marked sent on its Confirmation first, and an opt-out's SMS
# becomes a Confirmation of its own (method "sms", one per opt-out and kind and method).

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def mark_stamped_emails_sent(apps, schema_editor):
    Confirmation = apps.get_model("optouts", "Confirmation")
    OptOutRequest = apps.get_model("optouts", "OptOutRequest")
    stamp = OptOutRequest.objects.filter(pk=OuterRef("optout_id")).values(
        "confirmation_email_sent_at"
    )[:1]
    Confirmation.objects.filter(
        method="email", optout__confirmation_email_sent_at__isnull=False
    ).exclude(status="sent").update(
        status="sent", sent_at=Subquery(stamp), claimed_at=None, last_error=""
    )


class Migration(migrations.Migration):

    dependencies = [
        ("optouts", "0005_letters_in_mail_batches_disconnect_effective"),
    ]

    operations = [
        migrations.RunPython(mark_stamped_emails_sent, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="confirmation",
            name="one_confirmation_per_optout",
        ),
        migrations.RemoveField(
            model_name="optoutrequest",
            name="confirmation_email_sent_at",
        ),
        migrations.RemoveField(
            model_name="optoutrequest",
            name="confirmation_sms_sent_at",
        ),
        migrations.AddField(
            model_name="confirmation",
            name="phone",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.AlterField(
            model_name="confirmation",
            name="method",
            field=models.CharField(
                choices=[("email", "E-mail"), ("letter", "Letter"), ("sms", "SMS")], max_length=8
            ),
        ),
        migrations.AddConstraint(
            model_name="confirmation",
            constraint=models.UniqueConstraint(
                condition=models.Q(("optout__isnull", False)),
                fields=("optout", "kind", "method"),
                name="one_confirmation_per_optout",
            ),
        ),
    ]
