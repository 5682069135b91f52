# Recent requests carry their target's account, in the primary key (accounts.distribution,
# issue #35).

from django.db import migrations

from accounts.distribution import account_in_key, primary_key_with_account


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_match_rate_min"),
        ("targets", "0004_allow_linking"),
    ]

    operations = [
        migrations.AddField("recentrequest", "account", account_in_key(null=True)),
        migrations.RunSQL(
            "UPDATE targets_recentrequest SET account_id = (SELECT t.account_id "
            "FROM targets_deploytarget t WHERE t.id = targets_recentrequest.target_id)",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField("recentrequest", "account", account_in_key()),
        primary_key_with_account("targets_recentrequest"),
    ]
