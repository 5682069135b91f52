"""The schema's shape for sharding by account (accounts.distribution, docs/scaling.md):
every product table is classified, and every table a request writes is keyed by account,
as the database has it. Runs on both databases, on the migrated schema (CI has no Citus:
this is what keeps the shape from regressing there)."""

import pytest

from accounts.distribution import (
    DISTRIBUTED_TABLES,
    project_models,
    reference_tables,
    shape_problems,
)

pytestmark = pytest.mark.django_db


def test_every_product_table__is_distributed_or_reference():
    tables = {m._meta.db_table for m in project_models()}
    assert tables >= DISTRIBUTED_TABLES, DISTRIBUTED_TABLES - tables
    assert set(reference_tables()) == tables - DISTRIBUTED_TABLES
    assert "accounts_account" in reference_tables()
    assert "agents_assignment" not in reference_tables()


def test_shape__every_distributed_table_is_keyed_by_account():
    """A table a request writes without `account_id`, or with a primary or unique key
    without it (PostgreSQL's primary keys included), fails here."""
    assert [str(p) for p in shape_problems()] == []


def test_shape__a_unique_key_without_account_is_found(django_db_blocker):
    """The check reads the database: a unique index added outside Django is caught (on
    Citus, the database refuses it itself)."""
    from django.db import NotSupportedError, connection

    from accounts.distribution import distributed

    if distributed():
        with pytest.raises(NotSupportedError), connection.cursor() as cursor:
            cursor.execute("CREATE UNIQUE INDEX shape_probe ON visitors_visitorlink (vid)")
        return
    with connection.cursor() as cursor:
        cursor.execute("CREATE UNIQUE INDEX shape_probe ON visitors_visitorlink (vid)")
    try:
        problems = [str(p) for p in shape_problems()]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX shape_probe")
    assert "visitors_visitorlink: unique key shape_probe (vid) lacks account_id" in problems


# The agent-api's statements in the form they take on Citus (every table filtered by the
# account, accounts.distribution), run here on plain PostgreSQL: the same answers and rows.
# On Citus itself, make test-citus runs the core suites and tests/citus.


@pytest.fixture
def routed(monkeypatch):
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("the Citus form of the statements is PostgreSQL's (SQLite is never routed)")
    connections["default"].ensure_connection()
    monkeypatch.setattr(connections["default"], "citus", True, raising=False)


def test_routed_statements__answer_and_record_as_the_plain_ones(
    routed, client, api, agent, express_target, rest_target
):
    import json

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.distribution import distributed
    from reports.models import GoalDay, VisitorDay
    from visitors.models import Assignment, Credit, GoalEvent

    assert distributed()
    with CaptureQueriesContext(connection) as queries:
        first = api.data(express_target, [{"a": "a-hero"}], session="s1", vid="lana")["items"][0]
        again = api.data(express_target, [{"a": "a-hero"}], session="s1", vid="lana")["items"][0]
        goal = api.data(rest_target, [{"g": "g-purchase", "v": 5, "id": "o-1"}],
                        session="srv", vid="lana")["items"][0]  # fmt: skip
        replay = api.data(rest_target, [{"g": "g-purchase", "v": 5, "id": "o-1"}],
                          session="srv", vid="lana")["items"][0]  # fmt: skip
        link = api.data(rest_target, [{"alias": "cust-1"}], session="srv", vid="lana")
        by_alias = api.data(express_target, [{"a": "a-hero"}], session="s9", vid="cust-1")
        batch = client.post(
            "/ac-acme/v3/goal-events",
            json.dumps({"events": [{"vid": "cust-1", "g": "g-purchase", "v": 7, "id": "o-2"},
                                   {"vid": "lana", "g": "g-purchase", "v": 7, "id": "o-1"}]}),
            content_type="application/json",
            headers={"x-conductrics-apikey": rest_target.api_key},
        ).json()["data"]  # fmt: skip
    assert (first["p"], again["p"], again["c"]) == ("r", "s", first["c"])
    assert goal["rs"] == [{"a": "a-hero", "c": first["c"], "v": 5.0}]
    assert replay.get("replay") is True
    assert link["items"][0]["s"] == "ok"
    assert (by_alias["items"][0]["c"], by_alias["items"][0]["p"]) == (first["c"], "s")
    assert batch["counts"] == {"ok": 0, "none": 1, "err": 0, "replay": 1}, batch
    assert batch["items"][0]["skipped"][0]["reason"] == "already_credited"
    assert Assignment.objects.count() == 1
    assert (GoalEvent.objects.count(), Credit.objects.count()) == (2, 1)
    assert sum(VisitorDay.objects.values_list("visitors", flat=True)) == 1
    assert sum(GoalDay.objects.values_list("conversions", flat=True)) == 1
    read = [q["sql"] for q in queries.captured_queries if "agents_assignment a" in q["sql"]]
    assert read
    assert all("a.account_id = " in sql for sql in read), read


def test_routed_writes__values_of_one_account__confirmed_once(routed, api, account, express_target):
    """On Citus a request's rows are written by single-shard statements: literal VALUES of
    one account per table, no statement of CTEs fed by arrays. Many rows of a table go in
    one statement; a provisional assignment confirmed twice counts one visitor."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from agents.models import AgentStatus
    from agents.services import VariationSpec, agent_create
    from reports.models import VisitorDay
    from visitors.models import Assignment

    for code in ("a-one", "a-two", "a-three"):
        agent_create(
            account=account, code=code, name=code, status=AgentStatus.RUNNING,
            variations=[VariationSpec(code="A", weight=1), VariationSpec(code="B", weight=1)],
            targets=[express_target],
        )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        api.data(express_target, [{"a": "a-one"}, {"a": "a-two"}, {"a": "a-three", "s": "p"}],
                 session="s1", vid="lana")  # fmt: skip
        for _ in range(2):
            api.data(express_target, [{"a": "a-three", "s": "ok"}], session="s1", vid="lana")
    assert Assignment.objects.filter(account=account).count() == 3
    assert sum(VisitorDay.objects.values_list("visitors", flat=True)) == 3
    # the request's write (the buffers' flushes, rows of many accounts, are not a request's)
    tables = ("agents_assignment", "goals_goalevent", "goals_credit", "reports_")
    writes = [q["sql"] for q in queries.captured_queries
              if q["sql"].startswith(("INSERT", "UPDATE", "WITH"))
              and any(table in q["sql"].split("(")[0] for table in tables)
              or q["sql"].startswith("WITH")]  # fmt: skip
    inserts = [sql for sql in writes if sql.startswith("INSERT INTO agents_assignment")]
    assert len(inserts) == 1  # the three rows in one statement
    assert inserts[0].count("), (") == 2
    assert [sql for sql in writes if sql.startswith("UPDATE agents_assignment")]  # confirmed
    assert not [sql for sql in writes if sql.startswith("WITH") or "unnest" in sql.lower()]
    assert all("account_id" in sql for sql in writes), writes


@pytest.mark.parametrize(
    ("message", "raised"),
    [
        ('duplicate key value violates unique constraint "assignment_once_102009"', "Integrity"),
        ("could not connect to the worker", "Internal"),
    ],
)
def test_citus_unique_violation__is_an_integrity_error(message, raised):
    """Citus reports a unique violation met while copying rows to a worker as XX000: it
    is read as the IntegrityError it is, by which races are settled; other XX000 stay
    internal errors. (The error is raised by the server, as Citus's would be.)"""
    from django.db import IntegrityError, InternalError, connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's error codes")
    expected = IntegrityError if raised == "Integrity" else InternalError
    with pytest.raises(expected) as caught, connection.cursor() as cursor:
        cursor.execute(
            "DO $$ BEGIN RAISE EXCEPTION USING MESSAGE = %s, ERRCODE = 'XX000'; END $$",
            [message],
        )
    assert type(caught.value) is expected
    assert getattr(caught.value.__cause__, "sqlstate", None) == "XX000"


@pytest.mark.parametrize("args", [[], ["--dry-run"]])
def test_citus_distribute__on_a_database_without_citus__says_so_and_changes_nothing(args):
    from django.core.management import CommandError, call_command

    from accounts.distribution import distributed

    if distributed():
        pytest.skip("this database is a Citus coordinator (tests/citus runs the command)")
    with pytest.raises(CommandError, match="not a Citus coordinator"):
        call_command("citus_distribute", *args)
    assert shape_problems() == []
