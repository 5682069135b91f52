"""On a Citus cluster (make test-citus, CITUS_TEST_URL): the database that
`citus_distribute` made, and what the agent-api asks of it. The agent-api's core suites
run there too (the Makefile's CITUS_CORE); these are the checks only Citus can answer."""

import os
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from accounts.distribution import (
    COLOCATION_ANCHOR,
    DISTRIBUTED_TABLES,
    citus_kinds,
    distributed,
    reference_tables,
)
from reports.models import GoalDay, VisitorDay
from visitors.models import Assignment, Credit, GoalEvent

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("CITUS_TEST_URL"),
        reason="needs a Citus cluster: CITUS_TEST_URL (make test-citus, docs/scaling.md)",
    ),
    pytest.mark.django_db,
]


def _servers_of(call) -> set[str]:
    """The worker nodes the coordinator sent statements on shards to while `call` ran
    (Citus logs each remote command with the server it went to). Savepoints are left
    out: the test's own transaction sends them to every node it has touched."""
    connection.ensure_connection()
    servers: set[str] = set()

    def noted(diagnostic) -> None:
        detail = diagnostic.message_detail or ""
        found = re.search(r"on server \S+@([\d.]+:\d+)", detail)
        command = diagnostic.message_primary or ""
        if command.startswith("issuing") and re.search(r"public\.\w+_\d+\b", command) and found:
            servers.add(found.group(1))
            if os.environ.get("CITUS_TEST_DEBUG"):
                print(found.group(1), diagnostic.message_primary[:300])  # noqa: T201

    connection.connection.add_notice_handler(noted)
    with connection.cursor() as cursor:
        cursor.execute("SET citus.log_remote_commands = on")
    try:
        call()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET citus.log_remote_commands")
        connection.connection.remove_notice_handler(noted)
    return servers


def test_the_database_is_distributed_by_account():
    assert distributed()
    kinds = citus_kinds()
    assert {t: kinds.get(t) for t in DISTRIBUTED_TABLES} == dict.fromkeys(
        DISTRIBUTED_TABLES, "distributed"
    )
    assert {t: kinds.get(t) for t in reference_tables()} == dict.fromkeys(
        reference_tables(), "reference"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT colocationid FROM pg_dist_partition WHERE logicalrelid::text = "
            "ANY(%s)",
            [sorted(DISTRIBUTED_TABLES)],
        )
        assert len(cursor.fetchall()) == 1  # co-located: an account's rows on one node
        cursor.execute("SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = %s::regclass",
                       [COLOCATION_ANCHOR])  # fmt: skip
        assert cursor.fetchone()[0] > 1


def test_citus_distribute_again__does_nothing(capsys):
    call_command("citus_distribute", "--dry-run")
    call_command("citus_distribute")
    out = capsys.readouterr().out
    assert out.count("nothing to do") == 2, out


def test_generic_plans_are_not_forced_on_citus():
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "auto"


def test_a_request__goes_to_one_worker(api, agent, express_target, rest_target, monkeypatch):
    from goals import diagnostics, match_rate

    # not a request's: each process's hourly cleanup of every account's old counts
    for module in (diagnostics, match_rate):
        monkeypatch.setattr(module, "_next_cleanup", [float("inf")])
    api.data(express_target, [{"a": "a-hero"}], session="s1", vid="lana-1")  # warm the caches
    for i in range(4):  # other visitors of the account: their rows are on the same node
        api.data(express_target, [{"a": "a-hero"}], session=f"s-{i}", vid=f"v-{i}")

    def requests() -> None:
        api.data(express_target, [{"a": "a-hero"}], session="s2", vid="lana-2")
        api.data(express_target, [{"a": "a-hero"}], session="s2", vid="lana-2")  # sticky
        item = api.data(rest_target, [{"g": "g-purchase", "v": 5, "id": "o-1"}],
                        session="srv", vid="lana-2")["items"][0]  # fmt: skip
        assert item["s"] == "ok", item
        api.data(rest_target, [{"alias": "cust-2"}], session="srv", vid="lana-2")
        by_alias = api.data(rest_target, [{"g": "g-purchase", "v": 5}], session="srv",
                            vid="cust-2")["items"][0]  # fmt: skip
        # the person found by its other id: credited once already
        assert [s["reason"] for s in by_alias["skipped"]] == ["already_credited"], by_alias

    servers = _servers_of(requests)
    assert len(servers) == 1, servers
    assert Credit.objects.filter(account=agent.account).count() == 1


def test_accounts_spread_over_the_workers(api, agent, express_target):
    """The cluster is really used: the shards of the account's rows are on a worker, and
    the 32 shards of a table are spread over every worker."""
    api.data(express_target, [{"a": "a-hero"}], session="s1", vid="lana-1")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT nodeport) FROM pg_dist_shard_placement JOIN pg_dist_shard "
            "USING (shardid) WHERE logicalrelid = %s::regclass",
            [COLOCATION_ANCHOR],
        )
        assert cursor.fetchone()[0] >= 2
        cursor.execute(
            "SELECT count(*) FROM pg_dist_node WHERE groupid = 0 AND shouldhaveshards = false"
        )
        assert cursor.fetchone()[0] == 1  # the coordinator keeps no raw rows
    assert Assignment.objects.count() == 1


def test_deleting_an_agent__deletes_its_rows_on_every_node(api, agent, express_target, rest_target):
    api.data(express_target, [{"a": "a-hero"}], session="s1", vid="lana-1")
    api.data(rest_target, [{"g": "g-purchase", "v": 5}], session="srv", vid="lana-1")
    assert VisitorDay.objects.filter(agent=agent).exists()
    agent.delete()
    assert not Assignment.objects.exists()
    assert not Credit.objects.exists()
    assert not VisitorDay.objects.exists()
    assert not GoalDay.objects.exists()
    assert GoalEvent.objects.count() == 1  # the goal's event stays: the goal is not deleted


def test_admin_lists_of_raw_rows__filter_on_citus(admin_client, api, agent, express_target,
                                                  rest_target):  # fmt: skip
    api.data(express_target, [{"a": "a-hero"}], session="s1", vid="lana-1")
    api.data(rest_target, [{"g": "g-purchase", "v": 5}], session="srv", vid="lana-1")
    goal = agent.goals.get()
    events = reverse("admin:visitors_goalevent_changelist")
    assignments = reverse("admin:visitors_assignment_changelist")
    for url, shown in (
        (events, 1),
        (f"{events}?goal__id__exact={goal.pk}", 1),
        (f"{events}?verdict=credited", 1),
        (f"{events}?verdict=none", 0),
        (f"{assignments}?agent__id__exact={agent.pk}", 1),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, (url, response.content[:500])
        assert response.context["cl"].result_count == shown, url
