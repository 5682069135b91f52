"""Faults with a real PostgreSQL: the server kills our connection mid-traffic."""

import time

import pytest
from django.db import connection

from visitors.models import Assignment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's pg_terminate_backend (run with DATABASE_URL)")


def _terminate_our_connection():
    import psycopg

    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        # (an int: Citus adds a bigint form of the function, and a smallint is ambiguous)
        admin.execute("SELECT pg_terminate_backend(%s::int)", [pid])


def test_connection_killed__503_fast_then_the_next_request_succeeds(api, agent, express_target):
    assert api.call(express_target, [{"a": "a-hero"}], session="before").status_code == 200
    _terminate_our_connection()
    started = time.monotonic()
    response = api.call(express_target, [{"a": "a-hero"}], session="during")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    after = api.call(express_target, [{"a": "a-hero"}], session="after")
    assert after.status_code == 200  # reconnected, no restart
    assert set(Assignment.objects.values_list("session", flat=True)) == {"before", "after"}


def test_reused_connection_found_dead__the_read_reconnects__no_503(api, agent, express_target):
    """The agent-api's first read stands in for Django's per-request health check."""
    assert api.call(express_target, [{"a": "a-hero"}], session="before").status_code == 200
    _terminate_our_connection()
    connection.health_check_done = False  # what request_started does for a reused connection
    response = api.call(express_target, [{"a": "a-hero"}], session="during")
    assert response.status_code == 200
    assert set(Assignment.objects.values_list("session", flat=True)) == {"before", "during"}


def test_hot_path_statements__are_prepared_on_the_connection(api, agent, rest_target):
    for n in range(8):
        api.call(rest_target, [{"g": "g-purchase"}], session=f"s{n}", vid=f"v{n}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("JOIN agents_assignment a" in sql for sql in prepared)  # the read
    assert any("INSERT INTO goals_goalevent" in sql for sql in prepared)  # the write


def test_hot_path_statements__run_on_one_cursor_per_connection(api, agent, rest_target):
    api.call(rest_target, [{"g": "g-purchase"}], session="s1", vid="v1")
    kept = connection._agent_api_cursor
    api.call(rest_target, [{"g": "g-purchase"}], session="s2", vid="v2")
    assert connection._agent_api_cursor is kept  # no cursor (nor Django wrapper) per statement
    _terminate_our_connection()
    connection.close()
    api.call(rest_target, [{"g": "g-purchase"}], session="s3", vid="v3")
    assert connection._agent_api_cursor is not kept  # a new connection gets its own
    assert connection._agent_api_cursor.connection is connection.connection


CHILD = """
import os, sys, time
import django
django.setup()
from django.db import connection, transaction
from django.test import Client

def hold(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if sql.startswith("WITH"):  # the request's one write statement has run, uncommitted
        print("WRITTEN", flush=True)
        time.sleep(60)  # killed here
    return result

with connection.execute_wrapper(hold), transaction.atomic():
    Client(HTTP_HOST="127.0.0.1").post(sys.argv[1], sys.argv[2], content_type="text/plain")
"""


def test_request_killed_half_way__in_another_process__leaves_nothing(agent, rest_target):
    """A server process killed (SIGKILL) after its write ran but before it committed."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from reports.models import GoalDay, VisitorDay
    from visitors.models import Credit, GoalEvent

    db = connection.settings_dict
    user, host, port = db["USER"] or "postgres", db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    url = f"postgres://{user}@{host}:{port}/{db['NAME']}"
    env = {
        **os.environ, "DATABASE_URL": url, "SECRET_KEY": "test-only", "ALLOWED_HOSTS": "*",
        "SECURE_SSL_REDIRECT": "false", "AGENT_API_REST_RATE": "off",
        "DJANGO_SETTINGS_MODULE": "conductrics_admin.settings",
    }  # fmt: skip
    path = f"/ac-acme/v3/agent-api?apikey={rest_target.api_key}&session=k1&vid=k1"
    body = '[{"a": "a-hero"}, {"g": "g-purchase", "v": 5, "id": "evt-1"}]'
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", CHILD, path, body], env=env, cwd=Path(__file__).parents[2],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "WRITTEN", child.stderr.read()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    # PostgreSQL rolls the dead session's transaction back: nothing of the request is left,
    # and the rows it had locked are free again.
    started = time.monotonic()
    while time.monotonic() - started < 5:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [db["NAME"]],
            )
            if cursor.fetchone()[0] == 0:
                break
        time.sleep(0.1)
    assert Assignment.objects.count() == 0
    assert GoalEvent.objects.count() == 0
    assert Credit.objects.count() == 0
    assert not VisitorDay.objects.exists()
    assert not GoalDay.objects.exists()
    from django.test import Client

    again = Client(HTTP_HOST="127.0.0.1").post(path, body, content_type="text/plain")
    assert again.status_code == 200
    assert again.json()["data"]["items"][1]["s"] == "ok"  # the retried request is recorded
    assert GoalEvent.objects.count() == 1


def test_hot_path_statements__are_planned_once__not_per_request(api, agent, rest_target):
    """Generic plans: a request never plans (planning per request read thousands of dead
    index entries after a purge, to estimate a value past the column's statistics)."""
    from accounts.distribution import distributed

    if distributed():
        pytest.skip("on Citus each request's plan is made for its shard (docs/scaling.md)")
    for n in range(10):
        api.call(rest_target, [{"g": "g-purchase"}], session=f"s{n}", vid=f"v{n}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            ["%JOIN agents_assignment a%"],
        )
        (generic, custom), *_ = cursor.fetchall()
    assert custom == 0
    assert generic >= 5
