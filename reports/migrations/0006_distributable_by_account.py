# The aggregates carry their account, in every key (accounts.distribution, issue #35).

from django.db import migrations, models

from accounts.distribution import account_in_key, primary_key_with_account


def _backfill(table: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f"UPDATE {table} SET account_id = (SELECT a.account_id FROM agents_agent a "
        f"WHERE a.id = {table}.agent_id)",
        migrations.RunSQL.noop,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_match_rate_min"),
        ("agents", "0013_adaptive_allocation"),
        ("reports", "0005_link_conflicts"),
    ]

    operations = [
        migrations.AddField("visitorday", "account", account_in_key(null=True)),
        _backfill("reports_visitorday"),
        migrations.AlterField("visitorday", "account", account_in_key()),
        migrations.AddField("goalday", "account", account_in_key(null=True)),
        _backfill("reports_goalday"),
        migrations.AlterField("goalday", "account", account_in_key()),
        # the new keys go in before the old ones go: ON CONFLICT always finds one
        migrations.AddConstraint(
            "visitorday",
            models.UniqueConstraint(
                fields=(
                    "agent", "variation", "day", "channel", "forced", "phase", "shard", "account"
                ),
                name="visitor_day_unique",
            ),
        ),
        migrations.RemoveConstraint("visitorday", "visitor_day_phase_shard_unique"),
        migrations.AddConstraint(
            "goalday",
            models.UniqueConstraint(
                fields=(
                    "agent", "variation", "goal", "day", "channel", "forced", "phase", "shard",
                    "account",
                ),
                name="goal_day_unique",
            ),
        ),
        migrations.RemoveConstraint("goalday", "goal_day_phase_shard_unique"),
        primary_key_with_account("reports_visitorday"),
        primary_key_with_account("reports_goalday"),
        primary_key_with_account("reports_linkconflict"),
    ]
