# Raw rows' unique and primary keys include the account (accounts.distribution, issue #35).
# The new keys go in before the old ones go, so a running server always has one.

from django.db import migrations, models

from accounts.distribution import primary_key_with_account


class Migration(migrations.Migration):
    dependencies = [("visitors", "0009_visitor_links")]

    operations = [
        migrations.AddConstraint(
            "assignment",
            models.UniqueConstraint(
                fields=("agent", "identity", "account"), name="assignment_once_per_visitor"
            ),
        ),
        migrations.RemoveConstraint("assignment", "assignment_unique_per_agent_and_visitor"),
        migrations.AddConstraint(
            "goalevent",
            models.UniqueConstraint(
                condition=models.Q(event_id__isnull=False),
                fields=("goal", "channel", "event_id", "account"),
                name="goal_event_id_once_per_channel",
            ),
        ),
        migrations.RemoveConstraint("goalevent", "goal_event_id_unique_per_goal_and_channel"),
        migrations.AddConstraint(
            "credit",
            models.UniqueConstraint(
                condition=models.Q(first=True),
                fields=("goal", "assignment", "account"),
                name="credit_first_once_per_assignment",
            ),
        ),
        migrations.RemoveConstraint("credit", "credit_first_per_assignment"),
        primary_key_with_account("agents_assignment"),
        primary_key_with_account("goals_goalevent"),
        primary_key_with_account("goals_credit"),
        primary_key_with_account("visitors_visitorlink"),
    ]
