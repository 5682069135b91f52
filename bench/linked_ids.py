"""Benchmark: the agent-api with linked visitor ids (SPEC §4d), side by side in one run.

The same server (gunicorn, production settings, PostgreSQL) answers two scenarios for
three kinds of person, in turn, each kind --rounds times (the median run is kept):
- none: a person of one id, asked by that id (no link anywhere: the path as it was);
- 1 link: a person of two ids, asked by the id the assignment was NOT made under;
- 10 ids: a person of ten ids, asked by the last of them.
Scenarios: a sticky selection by vid on the Express target (the person's variation, found
through the link), and a REST goal by vid (one request per person, each a new one, so
every goal is credited). It prints requests/s, p50, p99 and CPU per request, and each
kind's throughput as a share of "none" (target: at least 0.90). Under wrk the shares vary
by ±25% from run to run on a shared 2-core machine, so it then measures each kind again
one request at a time on one kept-alive connection, the kinds interleaved in --sequential
rounds of 300 requests: the median time per request, and each kind's as a share of
"none"'s (the same work, without the noise of 16 connections on 2 cores).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/linked_ids.py [--seconds 5] [--rounds 3] [--people 20000]

Needs wrk (Debian package) and gunicorn (pip install -e '.[bench]').
"""

import argparse
import http.client
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agent_api import (
    LUA,
    PRODUCT_PORT,
    SERVERS,
    _analyze,
    _database,
    _env,
    _median,
    _serve,
    _setup,
    _wrk,
    postgres_url_or_exit,
)

KINDS = {"none": 0, "1 link": 1, "10 ids": 9}  # ids linked to the one assigned
SCENARIOS = {
    "sticky selection by vid": ('[{{"a":"a-hero"}}]', "web"),
    "REST goal by vid": ('[{{"g":"g-purchase","v":9.5}}]', "rest"),
}


def _people_load(*, count: int, prefix: str, extra: int) -> None:
    """`count` people, each assigned a-hero on the Express target under its first id
    `<prefix><n>`, with `extra` more ids `<prefix><n>-x<k>` linked to it."""
    from django.db import connection

    from agents.models import Agent

    agent = Agent.objects.get(code="a-hero")
    a, b = agent.variations.values_list("pk", flat=True)
    target = agent.targets.get(kind="express").pk
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO agents_assignment (account_id, agent_id, variation_id, identity,
                  session, vid, target_id, target_kind, traits, created_at, confirmed_at)
                SELECT %s, %s, CASE WHEN g %% 2 = 0 THEN %s ELSE %s END, 'v:' || %s || g,
                  %s || g, %s || g, %s, 'express', '[]'::jsonb, now(), now()
                FROM generate_series(0, %s) g""",
            [agent.account_id, agent.pk, a, b, prefix, prefix, prefix, target, count - 1],
        )
        if extra:
            cursor.execute(
                """INSERT INTO visitors_visitorlink (account_id, vid, person, created_at)
                    SELECT %s, %s || g || CASE WHEN k = 0 THEN '' ELSE '-x' || k END,
                      md5(%s || g)::uuid, now()
                    FROM generate_series(0, %s) g, generate_series(0, %s) k""",
                [agent.account_id, prefix, prefix, count - 1, extra],
            )
        # as autovacuum would have done since the rows came: hint bits and the visibility
        # map set (else the first read of each fresh row writes its page, and the kind
        # with ten links per person pays that ten times within the measurement)
        cursor.execute("VACUUM (ANALYZE) visitors_visitorlink, agents_assignment")
    _analyze()


def _script(keys: dict, body: str, target: str, prefix: str, suffix: str, people: int) -> str:
    run = f"{random.getrandbits(32):x}"
    path = (
        f'local v = "{prefix}" .. (((n - 1) * 2 + tid - 1) % {people}) .. "{suffix}" '
        f'local path = "/ac-bench/v3/agent-api?apikey={keys[target]}&session=" .. v '
        '.. "&vid=" .. v'
    )
    handle = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
    handle.write(LUA.replace("{run}", run).replace("{body}", body.format()).replace("{path}", path))
    handle.close()
    return handle.name


def _sequential(keys: dict, people: dict, *, rounds: int, requests: int = 300) -> None:
    """Each scenario, each kind interleaved, one request at a time: the median time per
    request over `rounds`, and its share of "none"'s."""
    for name, (body, target) in SCENARIOS.items():
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        offset = 0
        for round_ in range(rounds + 1):  # the first round warms up, not counted
            order = list(KINDS.items())
            random.shuffle(order)
            for kind, extra in order:
                prefix, suffix = people[(name, kind)], f"-x{extra}" if extra else ""
                conn = http.client.HTTPConnection("127.0.0.1", PRODUCT_PORT, timeout=10)
                began = time.perf_counter()
                for n in range(offset, offset + requests):
                    vid = f"{prefix}{n}{suffix}"
                    conn.request(
                        "POST",
                        f"/ac-bench/v3/agent-api?apikey={keys[target]}&session={vid}&vid={vid}",
                        body=body.format(),
                        headers={"Content-Type": "text/plain"},
                    )
                    response = conn.getresponse()
                    response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{name}, {kind}: HTTP {response.status}")
                if round_:
                    times[kind].append((time.perf_counter() - began) / requests * 1000)
                conn.close()
            offset += requests  # new people each round: every REST goal is credited
        base = statistics.median(times["none"])
        print(f"\n{name}, one request at a time ({rounds} rounds of {requests})")
        for kind in KINDS:
            median = statistics.median(times[kind])
            print(f"  {kind:8s} {median:7.3f} ms per request   share of none's throughput "
                  f"{base / median:5.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per kind (0: none)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--people", type=int, default=20_000, help="people per kind and run")
    parser.add_argument("--sequential", type=int, default=10, help="rounds one at a time (0: none)")
    args = parser.parse_args()
    env = _env(_database(postgres_url_or_exit()))
    keys = _setup(env, 10_000)
    SERVERS[PRODUCT_PORT] = server = _serve(PRODUCT_PORT, env, args, "conductrics_admin.settings")
    try:
        print(f"gunicorn -w {args.workers} -k {args.worker_class} --threads {args.threads}, "
              f"wrk -c{args.connections} -d{args.seconds}s; {os.cpu_count()} cores; "
              f"{args.people:,} people per kind and run")  # fmt: skip
        sticky = {}  # the people of the sticky scenario, loaded once per kind
        for kind, extra in KINDS.items():
            prefix = f"s{extra}-"
            _people_load(count=args.people, prefix=prefix, extra=extra)
            sticky[kind] = prefix
        for name, (body, target) in SCENARIOS.items() if args.rounds else ():
            runs: dict[str, list[dict]] = {kind: [] for kind in KINDS}
            for round_ in range(args.rounds + 1):  # the first round warms up, not counted
                for kind, extra in KINDS.items():
                    suffix = f"-x{extra}" if extra else ""
                    if target == "rest":  # new people: every goal is credited
                        prefix = f"g{round_}-{extra}-{random.getrandbits(24):x}-"
                        _people_load(count=args.people, prefix=prefix, extra=extra)
                    else:
                        prefix = sticky[kind]
                    script = _script(keys, body, target, prefix, suffix, args.people)
                    result = _wrk(PRODUCT_PORT, script, args.seconds, args.connections)
                    os.unlink(script)
                    if round_:
                        runs[kind].append(result)
                    if target == "rest" and result["requests"] > args.people:
                        print(f"  ({result['requests']:,} goals for {args.people:,} people: "
                              "raise --people)")  # fmt: skip
            print(f"\n{name}")
            print(f"  {'people':8s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} "
                  f"{'errors':>7s} {'CPU ms/req':>11s} {'share of none':>14s}")  # fmt: skip
            base = _median(runs["none"])["rps"]
            for kind in KINDS:
                r = _median(runs[kind])
                cpu = sorted(x["cpu_ms"] for x in runs[kind])[len(runs[kind]) // 2]
                print(f"  {kind:8s} {r['rps']:8.0f} {r['p50']:8.2f} {r['p99']:8.2f} "
                      f"{r['errors'] + r['non2xx']:7d} {cpu:11.2f} "
                      f"{r['rps'] / base:13.2f}x")  # fmt: skip
        if args.sequential:
            people = {}
            for name, (_, target) in SCENARIOS.items():
                for kind, extra in KINDS.items():
                    prefix = f"q{target}{extra}-{random.getrandbits(24):x}-"
                    _people_load(count=300 * (args.sequential + 1), prefix=prefix, extra=extra)
                    people[(name, kind)] = prefix
            _sequential(keys, people, rounds=args.sequential)
        print("\ntarget: each kind at least 0.90x of none")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
