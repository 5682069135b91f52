"""Benchmark: purging 9,000,000 of 10,000,000 raw rows on PostgreSQL beside agent-api traffic.

Loads 5M assignments, 2.5M goal events and 2.5M credits (90% older than the retention)
with generate_series, then, in one run:
1. measures agent-api throughput alone (threads of in-process clients, each with its own
   database connection): the baseline;
2. runs `manage.py purge_events --verbosity 2` as a subprocess while the same load runs,
   and reads its batches from its output;
3. prints rows/s, the slowest batch, the purge process's peak memory, and the load's
   throughput during the purge as a ratio to the baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/purge.py [--rows 10000000] [--threads 4]
"""

import argparse
import os
import re
import resource
import subprocess
import sys
import threading
import time

from _django import ROOT, throwaway_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--pause", default="1.0", help="purge_events --pause")
    parser.add_argument(
        "--purge-pgoptions", default="",
        help="PGOPTIONS of the purge's session only, e.g. '-c synchronous_commit=off'",
    )  # fmt: skip
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("Run it on PostgreSQL: set DATABASE_URL=postgres://...")
    with throwaway_database():
        _run(args)


def _load(rows: int, account, agent, target, goal) -> None:
    from django.db import connection

    variations = list(agent.variations.values_list("pk", flat=True))
    assignments, events = rows // 2, rows // 4
    old = 0.9
    with connection.cursor() as cursor:
        # ids grow with time; the oldest 90% are 40 days old, the rest from today.
        cursor.execute(
            """INSERT INTO agents_assignment (account_id, agent_id, variation_id, identity,
                 session, vid, target_id, target_kind, traits, created_at, confirmed_at)
               SELECT %s, %s, CASE WHEN g %% 2 = 0 THEN %s ELSE %s END, 's:' || g, g::text,
                 NULL, %s, 'express', '[]'::jsonb, t, t
               FROM generate_series(1, %s) g,
                 LATERAL (SELECT CASE WHEN g <= %s THEN now() - interval '40 days'
                                      ELSE now() - interval '1 hour' END
                                 + g * interval '1 millisecond' AS t) ts""",
            [account.pk, agent.pk, variations[0], variations[1], target.pk, assignments,
             int(assignments * old)],
        )  # fmt: skip
        cursor.execute(
            """INSERT INTO goals_goalevent (account_id, goal_id, event_id, session, vid,
                 target_id, channel, value, received_at, response)
               SELECT %s, %s, NULL, g::text, NULL, %s, 'client', 1, t, '{}'::jsonb
               FROM generate_series(1, %s) g,
                 LATERAL (SELECT CASE WHEN g <= %s THEN now() - interval '40 days'
                                      ELSE now() - interval '1 hour' END
                                 + g * interval '2 millisecond' AS t) ts""",
            [account.pk, goal.pk, target.pk, events, int(events * old)],
        )
        cursor.execute(
            """INSERT INTO goals_credit (account_id, event_id, goal_id, agent_id, variation_id,
                 assignment_id, value, channel, first, created_at)
               SELECT e.account_id, e.id, e.goal_id, a.agent_id, a.variation_id, a.id, 1,
                 'client', true, e.received_at
               FROM (SELECT id, account_id, goal_id, received_at,
                            row_number() OVER (ORDER BY id) AS n FROM goals_goalevent) e
               JOIN (SELECT id, agent_id, variation_id,
                            row_number() OVER (ORDER BY id) AS n FROM agents_assignment) a
                 ON a.n = e.n * 2 - 1"""
        )
        cursor.execute("ANALYZE agents_assignment; ANALYZE goals_goalevent; ANALYZE goals_credit")


def _traffic(stop: threading.Event, counts: list, errors: list, target, rest) -> None:
    from django.db import connections
    from django.test import Client

    client = Client()
    n = 0
    thread = threading.get_ident()
    try:
        while not stop.is_set():
            n += 1
            vid = f"bench-{thread}-{n}"
            for key, body in (
                (target.api_key, '[{"a": "a-bench"}]'),
                (rest.api_key, '[{"g": "g-buy", "v": 2}]'),
            ):
                url = f"/ac-bench/v3/agent-api?session={vid}&vid={vid}&apikey={key}"
                response = client.post(url, data=body, content_type="text/plain")
                if response.status_code != 200:
                    errors.append(response.status_code)
                counts.append(1)
    finally:
        connections.close_all()


def _measure(seconds: float | None, threads: int, target, rest, until=None) -> tuple:
    stop = threading.Event()
    counts: list = []
    errors: list = []
    workers = [
        threading.Thread(target=_traffic, args=(stop, counts, errors, target, rest))
        for _ in range(threads)
    ]
    began = time.monotonic()
    for worker in workers:
        worker.start()
    if until is not None:
        until()
    else:
        time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - began
    return len(counts) / max(elapsed, 1e-9), len(errors), elapsed


def _run(args) -> None:
    from django.db import connection

    from accounts.services import account_create
    from agents.models import AgentStatus
    from agents.services import VariationSpec, agent_create
    from goals.models import GoalTrigger
    from goals.services import goal_create
    from targets.services import target_create
    from visitors.models import Assignment, Credit, GoalEvent

    account = account_create(code="ac-bench", name="Bench")
    web = target_create(account=account, name="Web", allow_external_vid=True)
    rest = target_create(account=account, name="Srv", kind="rest", allow_external_vid=True)
    goal = goal_create(account=account, code="g-buy", name="Buy", trigger=GoalTrigger.API,
                       rest_send=True)  # fmt: skip
    agent = agent_create(
        account=account, code="a-bench", name="Bench", status=AgentStatus.RUNNING,
        variations=[VariationSpec(code="A"), VariationSpec(code="B")], goals=[goal],
        targets=[web, rest],
    )  # fmt: skip
    began = time.monotonic()
    _load(args.rows, account, agent, web, goal)
    total = Assignment.objects.count() + GoalEvent.objects.count() + Credit.objects.count()
    print(f"loaded {total:,} raw rows in {time.monotonic() - began:.0f} s")

    baseline, baseline_errors, _ = _measure(args.baseline_seconds, args.threads, web, rest)
    print(f"agent-api alone: {baseline:,.0f} requests/s, {baseline_errors} errors")

    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "PGOPTIONS": args.purge_pgoptions}
    result = {}

    def purge() -> None:
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "manage.py", "purge_events", "--verbosity", "2",
             "--pause", args.pause],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        result.update(
            seconds=time.monotonic() - started, out=proc.stdout, err=proc.stderr,
            rss_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        )  # fmt: skip

    during, during_errors, _ = _measure(None, args.threads, web, rest, until=purge)
    if result["err"]:
        print(result["err"])
    batches = [int(ms) for ms in re.findall(r"rows in (\d+) ms", result["out"])]
    summary = re.search(r"Deleted (\d+) rows .* in ([\d.]+) s, ([\d,]+) rows/s", result["out"])
    deleted = int(summary.group(1))
    print(f"purged {deleted:,} rows in {summary.group(2)} s: {summary.group(3)} rows/s "
          f"[target >= 100,000] ({result['seconds']:.1f} s with the process start)")  # fmt: skip
    tail = batches[-20:]
    median = sorted(batches)[len(batches) // 2]
    print(f"batches: {len(batches)}, slowest {max(batches)} ms, median {median} ms, "
          f"slowest of the last 20 {max(tail)} ms  [target <= 200 ms]")  # fmt: skip
    print(f"purge process peak memory: {result['rss_mb']:.0f} MB  [target < 200 MB]")
    print(f"agent-api during the purge: {during:,.0f} requests/s, {during_errors} errors; "
          f"ratio to alone: {during / baseline if baseline else 0:.2f}  "
          "[target >= 0.70, 0 errors]")  # fmt: skip
    left = Assignment.objects.count() + GoalEvent.objects.count() + Credit.objects.count()
    print(f"raw rows left: {left:,}")


if __name__ == "__main__":
    main()
