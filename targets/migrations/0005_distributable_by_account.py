# Recent requests carry their target's account, in the primary key (accounts.distribution,
# issue #35).

import django.db.models.deletion
from django.db import migrations, models

from accounts.distribution import primary_key_with_account


def _account(null: bool) -> models.ForeignKey:
    return models.ForeignKey(
        db_constraint=False,
        db_index=False,
        null=null,
        on_delete=django.db.models.deletion.CASCADE,
        related_name="+",
        to="accounts.account",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_match_rate_min"),
        ("targets", "0004_allow_linking"),
    ]

    operations = [
        migrations.AddField("recentrequest", "account", _account(null=True)),
        migrations.RunSQL(
            "UPDATE targets_recentrequest SET account_id = (SELECT t.account_id "
            "FROM targets_deploytarget t WHERE t.id = targets_recentrequest.target_id)",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField("recentrequest", "account", _account(null=False)),
        primary_key_with_account("targets_recentrequest"),
    ]
