import os

import pytest
from django.db import connection


@pytest.mark.django_db
def test_database__is_the_one_database_url_names():
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    assert connection.vendor == expected


@pytest.mark.parametrize(
    ("app", "migration"),
    [
        ("goals", "0005_raw_models_to_visitors"),
        ("agents", "0005_raw_models_to_visitors"),
        ("visitors", "0001_raw_models_from_agents_and_goals"),
    ],
)
@pytest.mark.django_db(transaction=True)  # SQLite's schema editor refuses a transaction
def test_raw_models_move_to_visitors__changes_no_table(app, migration):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("sqlmigrate", app, migration, stdout=out)
    sql = out.getvalue().upper()
    for statement in ("CREATE ", "DROP ", "ALTER ", "RENAME"):
        assert statement not in sql


def test_raw_models__keep_their_tables():
    from visitors.models import Assignment, Credit, GoalEvent

    assert [m._meta.db_table for m in (Assignment, GoalEvent, Credit)] == [
        "agents_assignment",
        "goals_goalevent",
        "goals_credit",
    ]
