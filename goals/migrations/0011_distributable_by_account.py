# Primary keys with the account (accounts.distribution, issue #35).

from django.db import migrations

from accounts.distribution import primary_key_with_account


class Migration(migrations.Migration):
    dependencies = [("goals", "0010_match_rate")]

    operations = [
        primary_key_with_account("goals_goaloutcomecount"),
        primary_key_with_account("goals_goalmatchday"),
        primary_key_with_account("goals_goaldelayday"),
    ]
