# Event ids scoped to the goal and the channel (SPEC §4): the new constraint is made before
# the old one goes, so that an id is never left unguarded; existing events keep theirs.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_statistics_settings'),
        ('goals', '0007_goal_condition'),
        ('targets', '0002_recent_requests'),
        ('visitors', '0003_assignment_policy'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='goalevent',
            constraint=models.UniqueConstraint(condition=models.Q(('event_id__isnull', False)), fields=('goal', 'channel', 'event_id'), name='goal_event_id_unique_per_goal_and_channel'),
        ),
        migrations.RemoveConstraint(
            model_name='goalevent',
            name='goal_event_id_unique_per_goal',
        ),
    ]
