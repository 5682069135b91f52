"""Benchmark: the agent-api against the framework's floor, side by side, on PostgreSQL.

In one run: a fresh database; the product under gunicorn with production settings
(DEBUG off, persistent connections, throttling off); beside it the same stack serving a
trivial DRF POST view (bench/floor_urls.py); wrk at 16 connections loading both in turn.
For each scenario it prints requests/s, p50 and p99 latency, errors and the ratio to the
floor; for the REST goal, a third server too, the durable goal's floor (the floor view
plus one indexed read and one committed insert: the most any goal endpoint can reach).
Then the batch endpoint: goal events per second through goal-events, 1,000 per request,
against the same goals one request each (scenario c). Then it grows the
assignments table to --large rows and runs the scenarios again, printing the p50 and p99
ratios (flatness). Finally the RSS of each product worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/agent_api.py [--seconds 10] [--rounds 3] [--workers 6]
            [--threads 1] [--large 10000000] [--batch-events 40000] [--only c ...]
            [--citus]  (DATABASE_URL then names a Citus coordinator, docs/scaling.md)

Needs wrk (Debian package) and gunicorn (pip install -e '.[bench]').
"""

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BENCH_DB = "conductrics_bench"
PRODUCT_PORT, FLOOR_PORT, DURABLE_PORT = 8101, 8102, 8103
WRK = shutil.which("wrk") or "/usr/bin/wrk"
PS = shutil.which("ps") or "/bin/ps"
SERVED = [0]  # requests answered by the product in the measured runs
SERVERS: dict[int, subprocess.Popen] = {}  # port -> gunicorn master, for the CPU accounting


def _env(database_url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "AGENT_API_EXPRESS_RATE": "off",
        "AGENT_API_REST_RATE": "off",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "conductrics_admin.settings",
    }


def postgres_url_or_exit() -> str:
    """DATABASE_URL, once wrk and a PostgreSQL URL are there; else exit saying what's missing."""
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres"
        )
    return base


def _database(base_url: str, name: str = BENCH_DB, *, citus: bool = False) -> str:
    """A new database beside `base_url`'s; with `citus`, on every node of the Citus
    cluster whose coordinator `base_url` names."""
    import psycopg

    parts = urlsplit(base_url)
    if citus:
        sys.path.insert(0, str(ROOT))
        from accounts.distribution import cluster_database_create

        cluster_database_create(base_url, name)
    else:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(parts._replace(path=f"/{name}"))


def _setup(env: dict, vids: int, *, citus: bool = False) -> dict:
    """Migrate (and with `citus`, distribute) and create the account: targets, g-purchase,
    a-hero and 9 more agents, and `vids` visitors assigned on the Express target (for the
    REST goal scenario)."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    if citus:
        subprocess.run(
            [sys.executable, "manage.py", "citus_distribute", "-v0"], cwd=ROOT, env=env, check=True
        )
    os.environ.update(env)
    import django

    django.setup()
    return _bench_account(vids)


def _bench_account(vids: int) -> dict:
    """The bench's account on the database Django is set up on; its runtime keys."""
    from accounts.services import account_create
    from agents.models import AgentStatus
    from agents.services import VariationSpec, agent_create
    from goals.models import GoalTrigger
    from goals.services import goal_create
    from targets.services import target_create

    account = account_create(code="ac-bench", name="Bench")
    web = target_create(account=account, code="dt-web", name="Web", allow_external_vid=True)
    rest = target_create(
        account=account, code="dt-srv", name="Srv", kind="rest", allow_external_vid=True
    )
    goal = goal_create(
        account=account, code="g-purchase", name="Buy", trigger=GoalTrigger.API, rest_send=True
    )
    for code in ["a-hero"] + [f"a-t{i}" for i in range(9)]:
        agent_create(
            account=account, code=code, name=code, status=AgentStatus.RUNNING,
            variations=[VariationSpec(code="A"), VariationSpec(code="B", metadata={"k": "v"})],
            goals=[goal], targets=[web, rest],
        )  # fmt: skip
    _assignments_load(count=vids, prefix="v", vid=True)
    from django.db import connection

    sys.path.insert(0, str(ROOT))  # run as a script: bench/ is on the path, not the root
    from bench.floor_urls import DURABLE_TABLE

    with connection.cursor() as cursor:  # what the durable goal's floor records
        cursor.execute(
            f"CREATE TABLE {DURABLE_TABLE} (id bigserial PRIMARY KEY, vid text NOT NULL, "
            "at timestamptz NOT NULL DEFAULT now())"
        )
    return {"web": web.api_key, "rest": rest.api_key}


def _assignments_load(*, count: int, prefix: str, vid: bool) -> None:
    """Add `count` confirmed assignments of a-hero on the Express target, server-side."""
    from django.db import connection

    from agents.models import Agent

    agent = Agent.objects.get(code="a-hero")
    a, b = agent.variations.values_list("pk", flat=True)
    target = agent.targets.get(kind="express").pk
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO agents_assignment (account_id, agent_id, variation_id, identity,
                  session, vid, target_id, target_kind, traits, created_at, confirmed_at)
                SELECT %s, %s, CASE WHEN g %% 2 = 0 THEN %s ELSE %s END,
                  {"'v:'" if vid else "'s:'"} || %s || g, %s || g,
                  {"%s || g" if vid else "NULL"}, %s, 'express', '[]'::jsonb, now(), now()
                FROM generate_series(0, %s) g""",
            [agent.account_id, agent.pk, a, b, prefix, prefix]
            + ([prefix] if vid else [])
            + [target, count - 1],
        )
    # as autovacuum would have done while the table grew: without it, autovacuum's pass
    # over the freshly loaded rows runs during the measurements
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) agents_assignment")


LUA = """
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
local n = 0
local run = "{run}"
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
wrk.body = '{body}'
request = function()
  n = n + 1
  local id = run .. "-" .. tid .. "-" .. n
  {path}
  return wrk.format(nil, path)
end
"""

SCENARIOS = {
    "a first selection": (
        '[{{"a":"a-hero"}}]',
        'local path = "/ac-bench/v3/agent-api?apikey={web}&session=s" .. id',
    ),
    "b sticky repeat": (
        '[{{"a":"a-hero"}}]',
        'local path = "/ac-bench/v3/agent-api?apikey={web}&session=sticky-" .. run .. tid',
    ),
    "c REST goal by vid": (
        '[{{"g":"g-purchase","v":9.5}}]',
        # each request a visitor of its own among those loaded for this run (see _goal_run)
        'local v = "{prefix}" .. (((n - 1) * 2 + tid - 1) % {visitors}) '
        'local path = "/ac-bench/v3/agent-api?apikey={rest}&session=" .. v .. "&vid=" .. v',
    ),
    "d mixed, 10 commands": (
        "[" + ",".join(f'{{{{"a":"a-t{i}"}}}}' for i in range(9)) + ',{{"g":"g-purchase","v":1}}]',
        'local path = "/ac-bench/v3/agent-api?apikey={rest}&session=m" .. id .. "&vid=m" .. id',
    ),
}


GOAL = "c REST goal by vid"


def _lua(name: str, keys: dict, visitors: int = 0) -> str:
    """The wrk script of scenario `name`; for the REST goal, `visitors` visitors are first
    loaded with a prefix of this script's own, each assigned on the Express target."""
    body, path = SCENARIOS[name]
    run = f"{random.getrandbits(32):x}"  # unique ids per run, not secrets
    body = body.format()
    prefix = f"g{run}-"
    if name == GOAL:
        _assignments_load(count=visitors, prefix=prefix, vid=True)
    path = path.format(web=keys["web"], rest=keys["rest"], prefix=prefix, visitors=visitors)
    handle = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
    handle.write(LUA.replace("{run}", run).replace("{body}", body).replace("{path}", path))
    handle.close()
    return handle.name


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)\b", text)
    if match is None:
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) used so far by the processes `pids` (those still alive)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def _server_pids(master: int) -> list[int]:
    """The server's workers, and every PostgreSQL process (the product's backends and the
    WAL writer work for its requests; the floor's share of them stays near zero)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        if int(rest.split()[1]) == master or name.startswith("postgres"):
            found.append(int(entry.name))
    return found


def _wrk(port: int, script: str, seconds: int, connections: int) -> dict:
    pids = _server_pids(SERVERS[port].pid) if port in SERVERS else []
    cpu_before = _cpu_seconds(pids)
    out = subprocess.run(
        [WRK, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script,
         f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    cpu = _cpu_seconds(pids) - cpu_before
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        # answers other than 2xx, and requests without an answer (time-outs: wrk waits 2 s)
        "errors": socket_errors + (int(non2xx.group(1)) if non2xx else 0),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
    }
    result["cpu_ms"] = 1000 * cpu / max(result["requests"], 1)
    return result


def _serve(port: int, env: dict, args, settings: str) -> subprocess.Popen:
    # The server's log goes to a file: a pipe that nobody reads fills up (64 KiB of
    # "Bad Request" warnings) and then blocks every worker that logs.
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:  # else we would measure that server
            raise RuntimeError(f"port {port} is taken (a server of an earlier run?)")
    log = tempfile.NamedTemporaryFile("w+", prefix=f"gunicorn-{port}-", suffix=".log")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "conductrics_admin.wsgi", "-b", f"127.0.0.1:{port}",
         "-w", str(args.workers), "-k", args.worker_class, "--threads", str(args.threads),
         "--worker-connections", str(getattr(args, "worker_connections", 1000)),
         "--backlog", "2048", "--access-logfile", "/dev/null",
         "--error-logfile", "-", "--log-level", "warning"],
        cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": settings},
        stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    proc.log = log  # closed (and deleted) with the process object
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.1)
    log.seek(0)
    raise RuntimeError(f"gunicorn on {port} did not start: {log.read()}")


def _rss_mb(master: int) -> list[float]:
    children = subprocess.run(
        [PS, "--ppid", str(master), "-o", "rss="], capture_output=True, text=True, check=False
    ).stdout.split()  # fmt: skip
    return [int(kb) / 1024 for kb in children]


def _median(runs: list[dict]) -> dict:
    """The run of median throughput, with the errors of all runs."""
    median = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
    return {
        **median,
        "errors": sum(r["errors"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
    }


RAW_TABLES = (
    "agents_assignment", "goals_goalevent", "goals_credit", "reports_visitorday",
    "reports_goalday",
)  # fmt: skip


def _analyze() -> None:
    """ANALYZE the tables the agent-api writes, as autovacuum does while they grow (it is
    off on some servers, this development machine's included). Without it the agent-api's
    statements keep plans made while the tables were nearly empty; ANALYZE makes
    PostgreSQL plan them again."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(RAW_TABLES)}")


def _stored() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM agents_assignment")
        return cursor.fetchone()[0]


def _chosen(args) -> list[str]:
    return [name for name in SCENARIOS if not args.only or name[0] in args.only]


def _round(keys: dict, args, label: str) -> dict:
    results = {}
    print(f"\n{label}: {_stored():,} stored assignments at the start")
    print(f"{'scenario':24s} {'server':8s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} "
          f"{'errors (non-2xx)':>17s} {'ratio to floor':>15s} {'CPU ms/req':>11s} "
          f"{'CPU ratio':>10s}")  # fmt: skip
    for name in _chosen(args):
        _analyze()
        # alternate the two servers --rounds times and keep each one's median run: the
        # floor alone varies by 2x from one run to the next on a shared 2-core machine
        floors, products, durables = [], [], []
        for _ in range(args.rounds):
            # a script per round: the REST goal's visitors are new in each product run
            script = _lua(name, keys, args.goal_visitors)
            floors.append(_wrk(FLOOR_PORT, script, args.seconds, args.connections))
            products.append(_wrk(PRODUCT_PORT, script, args.seconds, args.connections))
            if name == GOAL:
                durables.append(_wrk(DURABLE_PORT, script, args.seconds, args.connections))
            os.unlink(script)
            if name == GOAL and products[-1]["requests"] > args.goal_visitors:
                print(f"  ({products[-1]['requests']:,} REST goals for "
                      f"{args.goal_visitors:,} visitors: later ones were credited already; "
                      "raise --goal-visitors)")  # fmt: skip
        floor, product = _median(floors), _median(products)
        SERVED[0] += sum(r["requests"] for r in products)
        results[name] = product
        # CPU per request (server workers + PostgreSQL), each server's median over rounds;
        # their ratio is the throughput ratio of a machine with no waiting at all
        cpu = {
            "floor": sorted(r["cpu_ms"] for r in floors)[len(floors) // 2],
            "product": sorted(r["cpu_ms"] for r in products)[len(products) // 2],
        }
        product["cpu_ratio"] = cpu["floor"] / cpu["product"] if cpu["product"] else 0.0
        shown = [("floor", floor), ("product", product)]
        if durables:
            durable = _median(durables)
            cpu["durable"] = sorted(r["cpu_ms"] for r in durables)[len(durables) // 2]
            durable["cpu_ratio"] = cpu["floor"] / cpu["durable"] if cpu["durable"] else 0.0
            shown.append(("durable", durable))
        for server, r in shown:
            mine = server != "floor"
            ratio = f"{r['rps'] / floor['rps']:.2f}x" if mine else ""
            cpu_ratio = f"{r['cpu_ratio']:.2f}x" if mine else ""
            print(f"{name:24s} {server:8s} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} "
                  f"{r['errors']:>8d} ({r['non2xx']:>5d}) {ratio:>15s} {cpu[server]:>11.2f} "
                  f"{cpu_ratio:>10s}")  # fmt: skip
    return results


def _batch_events_per_second(keys: dict, *, events: int, size: int, connections: int) -> float:
    """Events per second through `POST /goal-events`: `events` goals of as many visitors
    (each assigned on the Express target first), `size` per request, sent over
    `connections` connections at once; the same goals as scenario c, batched."""
    import http.client
    import json
    from concurrent.futures import ThreadPoolExecutor

    run = f"{random.getrandbits(32):x}"
    prefix = f"b{run}-"
    _assignments_load(count=events, prefix=prefix, vid=True)
    bodies = [
        json.dumps({"events": [
            {"vid": f"{prefix}{n}", "g": "g-purchase", "v": 9.5, "id": f"{run}-{n}"}
            for n in range(start, min(start + size, events))
        ]}).encode()
        for start in range(0, events, size)
    ]  # fmt: skip
    path = f"/ac-bench/v3/goal-events?apikey={keys['rest']}"

    def send(chunk: list[bytes]) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", PRODUCT_PORT, timeout=120)
        credited = 0
        for body in chunk:
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            answer = json.loads(conn.getresponse().read())
            credited += answer["data"]["counts"]["ok"]
        conn.close()
        return credited

    chunks = [bodies[i::connections] for i in range(connections)]
    began = time.monotonic()
    with ThreadPoolExecutor(connections) as pool:
        credited = sum(pool.map(send, chunks))
    seconds = time.monotonic() - began
    if credited != events:
        print(f"  (batch: {credited:,} of {events:,} events credited)")
    return events / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="runs per server and scenario")
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--only", action="append", metavar="LETTER",
        help="only the scenarios whose name begins with LETTER (repeatable)",
    )  # fmt: skip
    parser.add_argument("--vids", type=int, default=10_000, help="assignments to start with")
    parser.add_argument(
        "--goal-visitors", type=int, default=20_000,
        help="visitors loaded for each run of the REST goal scenario (one per request)",
    )  # fmt: skip
    parser.add_argument("--large", type=int, default=10_000_000, help="0: skip flatness")
    parser.add_argument(
        "--batch-events", type=int, default=40_000,
        help="goal events sent through goal-events, 1,000 per request (0: skip)",
    )  # fmt: skip
    parser.add_argument(
        "--citus", action="store_true",
        help="DATABASE_URL is a Citus coordinator (its workers added): distribute the database",
    )  # fmt: skip
    args = parser.parse_args()
    env = _env(_database(postgres_url_or_exit(), citus=args.citus))
    keys = _setup(env, args.vids, citus=args.citus)
    SERVERS[PRODUCT_PORT] = _serve(PRODUCT_PORT, env, args, "conductrics_admin.settings")
    SERVERS[FLOOR_PORT] = _serve(FLOOR_PORT, env, args, "bench.floor_settings")
    SERVERS[DURABLE_PORT] = _serve(DURABLE_PORT, env, args, "bench.floor_durable_settings")
    servers = list(SERVERS.values())
    try:
        print(f"gunicorn -w {args.workers} -k {args.worker_class} --threads {args.threads}, "
              f"wrk -c{args.connections} "
              f"-d{args.seconds}s; {os.cpu_count()} cores")  # fmt: skip
        # every scenario on every worker first: connections opened, statements prepared
        # (the first seconds after a start showed p99 over 1 s and wrk time-outs)
        for name in _chosen(args):
            warm = _lua(name, keys, 2000)
            for port in (FLOOR_PORT, PRODUCT_PORT, DURABLE_PORT):
                _wrk(port, warm, 3, args.connections)
            os.unlink(warm)
        small = _round(keys, args, "small tables")
        if args.batch_events and GOAL in small:
            single = small[GOAL]["rps"]  # one event per request
            _batch_events_per_second(keys, events=4000, size=1000, connections=4)  # warm
            batched = _batch_events_per_second(
                keys, events=args.batch_events, size=1000, connections=4
            )
            print(f"\nREST goals: {single:,.0f} events/s one request each (scenario c), "
                  f"{batched:,.0f} events/s through goal-events, 1,000 per request: "
                  f"{batched / single:.1f}x (target >= 15x)")  # fmt: skip
        one, ten = small.get("a first selection"), small.get("d mixed, 10 commands")
        if one and ten:
            print(f"\n10-command request costs {one['rps'] / ten['rps']:.2f}x a 1-command "
                  f"one in throughput, {ten['cpu_ms'] / one['cpu_ms']:.2f}x in CPU per request "
                  "(target < 2x)")  # fmt: skip
        if args.large:
            began = time.monotonic()
            _assignments_load(count=args.large - args.vids, prefix="big", vid=False)
            print(f"\nloaded {args.large - args.vids:,} more assignments in "
                  f"{time.monotonic() - began:.0f} s")  # fmt: skip
            large = _round(keys, args, f"grown to {args.large:,} assignments")
            print("\nflatness (large / small, target <= 1.15):")
            for name in _chosen(args):
                s, g = small[name], large[name]
                print(
                    f"  {name:24s} p50 x{g['p50'] / s['p50']:.2f}  p99 x{g['p99'] / s['p99']:.2f}"
                )
        rss = ", ".join(f"{mb:.0f} MB" for mb in _rss_mb(servers[0].pid))
        print(f"\nproduct workers' RSS after {SERVED[0]:,} measured requests: {rss} "
              "(target < 150 MB each)")  # fmt: skip
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
