"""A goal event's time (SPEC §4c): when it happened. Events stored before it happened
when they arrived."""

from django.db import migrations, models


def received_is_occurred(apps, schema_editor):
    GoalEvent = apps.get_model("visitors", "GoalEvent")
    GoalEvent.objects.filter(occurred_at__isnull=True).update(occurred_at=models.F("received_at"))


class Migration(migrations.Migration):
    dependencies = [("visitors", "0004_event_id_per_channel")]

    operations = [
        migrations.AddField(
            model_name="goalevent", name="occurred_at", field=models.DateTimeField(null=True)
        ),
        migrations.RunPython(received_is_occurred, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="goalevent",
            name="occurred_at",
            field=models.DateTimeField(verbose_name="happened at"),
        ),
    ]
