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
from agents.services import agent_delete
from reports.models import GoalDay, LinkConflict, VisitorDay
from visitors.models import Assignment, Credit, GoalEvent, VisitorLink

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
    # recorded_data_refuse counts the rows (every shard), then Django deletes them by
    # agent (every shard), then the agent (a reference table, every node), in one transaction
    agent_delete(agent=agent, force=True)
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


def test_deleting_an_account__deletes_everything_of_it(api, account, agent, express_target,
                                                       rest_target, other_setup):  # fmt: skip
    from agents.models import AgentStatus
    from agents.services import agents_status_set

    agents_status_set(agents=[other_setup["agent"]], status=AgentStatus.RUNNING)
    for target in (express_target, other_setup["target"]):
        api.data(target, [{"a": "a-hero"}], session="s1", account=target.account.code)
    api.data(rest_target, [{"alias": "cust-1"}], session="srv", vid="lana-1")
    account.delete()
    assert set(Assignment.objects.values_list("account__code", flat=True)) == {"ac-other"}
    assert not VisitorDay.objects.filter(account_id=account.pk).exists()
    assert not LinkConflict.objects.filter(account_id=account.pk).exists()
    assert not VisitorLink.objects.filter(account_id=account.pk).exists()


# An installation that ran on plain PostgreSQL, then distributed: its own database, made,
# filled and distributed by the product's commands in processes of their own.
TRAFFIC = """
import json, sys
from urllib.parse import urlencode
import django
django.setup()
from django.test import Client
from targets.models import DeployTarget
web, srv = (DeployTarget.objects.get(code=c) for c in ("dt-web", "dt-server"))
client = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/120")
def call(target, commands, **query):
    query["apikey"] = target.api_key
    response = client.post(f"/{web.account.code}/v3/agent-api?{urlencode(query)}",
                           data=json.dumps(commands), content_type="text/plain")
    assert response.status_code == 200, response.content
    return response.json()["data"]["items"][0]
out = {}
for i in range(int(sys.argv[1])):
    out[f"v-{i}"] = call(web, [{"a": "a-hero"}], session=f"s-{i}", vid=f"v-{i}")
    if i % 2:
        out[f"g-{i}"] = call(srv, [{"g": "g-purchase", "v": 1}], session=f"b-{i}", vid=f"v-{i}")
print(json.dumps(out))
"""
COUNTS = (
    "SELECT (SELECT count(*) FROM agents_assignment), (SELECT count(*) FROM goals_credit), "
    "(SELECT sum(visitors) FROM reports_visitorday), (SELECT sum(conversions) FROM "
    "reports_goalday)"
)


def test_an_installation_with_data__is_distributed_as_it_is():
    import json
    import subprocess
    import sys
    from pathlib import Path
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    from accounts.distribution import cluster_database_create, cluster_database_drop

    base = os.environ["CITUS_TEST_URL"]
    name = f"test_existing{os.environ.get('PYTEST_XDIST_WORKER', '')}"
    url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "true", "ALLOWED_HOSTS": "testserver",
           "DJANGO_SETTINGS_MODULE": "conductrics_admin.settings"}  # fmt: skip

    def manage(*args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=root, env=env,  # noqa: S603 - our own commands
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def traffic(n: int) -> dict:
        done = subprocess.run([sys.executable, "-c", TRAFFIC, str(n)], cwd=root, env=env,  # noqa: S603 - our own script
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    cluster_database_create(base, name)
    try:
        manage("migrate", "-v0")
        manage("seed_demo")
        before = traffic(12)
        with psycopg.connect(url) as db:
            counted = db.execute(COUNTS).fetchone()
        assert counted == (12, 6, 12, 6)
        assert "create_distributed_table('agents_assignment'" in manage(
            "citus_distribute", "--dry-run"
        )
        assert "Distributed by account" in manage("citus_distribute")
        with psycopg.connect(url) as db:
            assert db.execute(COUNTS).fetchone() == counted  # nothing lost
            query = "SELECT logicalrelid::text, partmethod FROM pg_dist_partition"
            kinds = dict(db.execute(query).fetchall())
        assert kinds["agents_assignment"] == "h"
        after = traffic(12)  # the same visitors again, then a goal each
        for i in range(12):
            assert after[f"v-{i}"]["c"] == before[f"v-{i}"]["c"]  # sticky across the move
            assert after[f"v-{i}"]["p"] == "s"
        assert "nothing to do" in manage("citus_distribute")
    finally:
        cluster_database_drop(base, name)
