"""Soak: minutes of mixed agent-api traffic beside a purge, then a count of what was kept.

Client threads play visitors: a selection on the Express target with an External Visitor
ID, then server-side goals on the REST target matched by that vid, with retried event
ids (answered as replays), repeated once-counted goals (`already_credited`), an
every-counted goal, and bad requests (malformed JSON, a placeholder vid, an unknown key).
A purge of old raw rows runs throughout. Afterwards every answer is counted against the
database: each accepted goal recorded once, each credit the answer announced present
(per variation, with its value) in the raw rows and in the report aggregates, each new
assignment counted as one visitor; no 5xx, no dropped connection.

Standalone, ten minutes on PostgreSQL under gunicorn (needs `pip install -e '.[bench]'`):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/soak.py [--seconds 600] [--threads 8] [--old-rows 2000000]

`tests/runtime/test_soak.py` runs the same traffic and checks for one minute in CI.
"""

import http.client
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

ACCOUNT = "ac-soak"
AGENT = "a-soak"
ONCE_GOAL, EVERY_GOAL = "g-purchase", "g-spend"


def soak_setup() -> dict[str, str]:
    """Create the soak's account (Express and REST targets passing vids, two API goals
    sent via REST, one running agent); return the runtime keys."""
    from accounts.services import account_create
    from agents.models import AgentStatus
    from agents.services import VariationSpec, agent_create
    from goals.models import GoalCounting, GoalTrigger
    from goals.services import goal_create
    from targets.services import target_create

    account = account_create(code=ACCOUNT, name="Soak")
    web = target_create(account=account, code="dt-web", name="Web", allow_external_vid=True)
    rest = target_create(
        account=account, code="dt-srv", name="Srv", kind="rest", allow_external_vid=True
    )
    once = goal_create(
        account=account, code=ONCE_GOAL, name="Buy", trigger=GoalTrigger.API, rest_send=True
    )
    every = goal_create(
        account=account, code=EVERY_GOAL, name="Spend", trigger=GoalTrigger.API,
        rest_send=True, counting=GoalCounting.EVERY,
    )  # fmt: skip
    agent_create(
        account=account, code=AGENT, name="Soak", status=AgentStatus.RUNNING,
        variations=[VariationSpec(code="A"), VariationSpec(code="B")],
        goals=[once, every], targets=[web, rest],
    )  # fmt: skip
    return {"web": web.api_key, "rest": rest.api_key}


def old_rows_load(*, rows: int) -> None:
    """Add `rows` raw rows 40 days old (past the retention) for the purge to delete."""
    from django.db import connection
    from django.utils import timezone

    from agents.models import Agent

    agent = Agent.objects.get(code=AGENT)
    a, b = agent.variations.values_list("pk", flat=True)
    old = timezone.now() - timedelta(days=40)
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO agents_assignment (account_id, agent_id, variation_id, identity,
                 session, vid, target_id, target_kind, traits, created_at, confirmed_at)
               SELECT %s, %s, CASE WHEN g %% 2 = 0 THEN %s ELSE %s END, 's:old' || g,
                 'old' || g, NULL, NULL, 'express', '[]', %s, %s
               FROM generate_series(1, %s) g""",
            [agent.account_id, agent.pk, a, b, *[old] * 2, rows],
        )


@dataclass
class Tally:
    """What the answers said was recorded."""

    new_visitors: Counter = field(default_factory=Counter)  # variation -> "p": "r" answers
    credits: Counter = field(default_factory=Counter)  # (goal, variation) -> credits
    values: Counter = field(default_factory=Counter)  # (goal, variation) -> value credited
    converted: dict = field(default_factory=dict)  # (goal, vid) -> variation first credited
    events: int = 0  # goal commands recorded (answered ok or none, not a replay)
    replays: int = 0
    replay_mismatches: int = 0
    statuses: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


class _Client:
    """One keep-alive HTTP connection to the server."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def post(self, params: dict, body: str) -> tuple[int, dict | None]:
        path = f"/{ACCOUNT}/v3/agent-api?{urlencode(params)}"
        for attempt in range(2):
            try:
                self.conn.request("POST", path, body=body, headers={"Content-Type": "text/plain"})
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server may close an idle keep-alive connection between requests;
                # only a request never answered is sent again, on a new connection
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, None


def _visitor(client: _Client, keys: dict, tally: Tally, rng: random.Random, vid: str) -> None:
    def call(params: dict, body: str, expect: int = 200) -> dict | None:
        status, answer = client.post(params, body)
        with tally.lock:
            tally.statuses[status] += 1
            if status != expect:
                tally.problems.append(f"{status} (expected {expect}) for {body[:80]}")
        return answer if status == 200 else None

    web = {"apikey": keys["web"], "session": f"s-{vid}", "vid": vid}
    answer = call(web, json.dumps([{"a": AGENT}]))
    if answer is None:
        return
    item = answer["data"]["items"][0]
    if item["p"] == "r":
        with tally.lock:
            tally.new_visitors[item["c"]] += 1
    rest = {"apikey": keys["rest"], "session": f"srv-{vid}", "vid": vid}
    sent: dict[str, dict] = {}
    for _ in range(rng.randint(0, 3)):
        roll = rng.random()
        if roll < 0.2 and sent:  # a retry of an event already sent: a replay
            event_id = rng.choice(list(sent))
            goal, value = sent[event_id]["goal"], sent[event_id]["value"]
        else:
            event_id = f"e-{vid}-{len(sent)}"
            goal = ONCE_GOAL if roll < 0.6 else EVERY_GOAL
            value = round(rng.uniform(0.5, 99.5), 2)
        answer = call(rest, json.dumps([{"g": goal, "v": value, "id": event_id}]))
        if answer is None:
            continue
        item = answer["data"]["items"][0]
        with tally.lock:
            if item.get("replay"):
                tally.replays += 1
                first = sent.get(event_id, {}).get("item", {})
                if (item["s"], item["rs"]) != (first.get("s"), first.get("rs")):
                    tally.replay_mismatches += 1
                continue
            tally.events += 1
            for credit in item["rs"]:
                key = (goal, credit["c"])
                tally.credits[key] += 1
                tally.values[key] += credit["v"]
                previous = tally.converted.setdefault((goal, vid), credit["c"])
                if previous != credit["c"]:
                    tally.problems.append(f"{vid} credited to {previous} and {credit['c']}")
        sent[event_id] = {"goal": goal, "value": value, "item": item}


def _bad_request(client: _Client, keys: dict, tally: Tally, rng: random.Random) -> None:
    kind = rng.randrange(3)
    if kind == 0:
        params, body, expect = {"apikey": keys["rest"], "session": "s"}, "[{", 400
    elif kind == 1:
        params = {"apikey": keys["rest"], "session": "s", "vid": "undefined"}
        body, expect = json.dumps([{"g": ONCE_GOAL}]), 400
    else:
        params, body, expect = {"apikey": "api-unknown", "session": "s"}, "[]", 401
    status, _ = client.post(params, body)
    with tally.lock:
        tally.statuses[status] += 1
        if status != expect:
            tally.problems.append(f"{status} (expected {expect}) for a bad request")


def traffic_run(*, base_url: str, keys: dict, seconds: float, threads: int = 8) -> Tally:
    """Send mixed traffic from `threads` clients for `seconds`; return what was answered."""
    tally = Tally()
    deadline = time.monotonic() + seconds

    def worker(number: int) -> None:
        rng = random.Random(number)  # traffic shapes, not secrets
        client = _Client(base_url)
        n = 0
        try:
            while time.monotonic() < deadline:
                n += 1
                if rng.random() < 0.05:
                    _bad_request(client, keys, tally, rng)
                else:
                    _visitor(client, keys, tally, rng, f"v{number}-{n}")
        except Exception as exc:  # every failure is reported, none hidden
            with tally.lock:
                tally.problems.append(f"client {number}: {exc.__class__.__name__}: {exc}")
        finally:
            client.conn.close()  # an open keep-alive connection holds a server's shutdown

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return tally


def tally_check(*, tally: Tally, since: datetime) -> list[str]:
    """Compare the answers with the database; return every disagreement (empty: none).

    Raw rows are counted from `since` (the purge only deletes rows older than the
    retention, so the soak's own rows are all there); aggregates as a whole.
    """
    from django.db.models import Count, Sum

    from reports.models import GoalDay, VisitorDay
    from visitors.models import Assignment, Credit, GoalEvent

    problems = list(tally.problems)
    fivexx = sum(n for status, n in tally.statuses.items() if status >= 500)
    if fivexx:
        problems.append(f"{fivexx} answers with a 5xx status")
    if tally.replay_mismatches:
        problems.append(f"{tally.replay_mismatches} replays differ from the first answer")

    def compare(what: str, answered: dict, stored: dict) -> None:
        for key in sorted(set(answered) | set(stored), key=str):
            a, s = answered.get(key, 0), stored.get(key, 0)
            if abs(a - s) > 1e-6 * max(1.0, abs(a)):
                problems.append(f"{what} {key}: answered {a}, stored {s}")

    agent_rows = Assignment.objects.filter(agent__code=AGENT, created_at__gte=since)
    compare(
        "assignments",
        dict(tally.new_visitors),
        dict(agent_rows.values_list("variation__code").annotate(n=Count("id"))),
    )
    visitor_days = VisitorDay.objects.filter(agent__code=AGENT).values_list("variation__code")
    compare("visitors in reports", dict(tally.new_visitors),
            dict(visitor_days.annotate(n=Sum("visitors"))))  # fmt: skip
    events = GoalEvent.objects.filter(goal__account__code=ACCOUNT, received_at__gte=since)
    compare("goal events", {"all": tally.events}, {"all": events.count()})
    ids = events.values("goal_id", "event_id").annotate(n=Count("id")).filter(n__gt=1)
    if ids.exists():
        problems.append(f"{ids.count()} event ids recorded more than once")
    credits = Credit.objects.filter(agent__code=AGENT, created_at__gte=since).values_list(
        "goal__code", "variation__code"
    )
    stored = {(g, v): n for g, v, n in credits.annotate(n=Count("id"))}
    compare("credits", dict(tally.credits), stored)
    stored_values = {(g, v): x for g, v, x in credits.annotate(x=Sum("value"))}
    compare("credited value", dict(tally.values), stored_values)
    goal_days = GoalDay.objects.filter(agent__code=AGENT).values_list(
        "goal__code", "variation__code"
    )
    sums = goal_days.annotate(c=Sum("credits"), v=Sum("value_sum"), n=Sum("conversions"))
    compare("credits in reports", dict(tally.credits), {(g, v): c for g, v, c, _, _ in sums})
    compare("value in reports", dict(tally.values), {(g, v): x for g, v, _, x, _ in sums})
    conversions = Counter((goal, c) for (goal, _vid), c in tally.converted.items())
    compare("conversions in reports", dict(conversions), {(g, v): n for g, v, _, _, n in sums})
    return problems


def _main() -> None:  # pragma: no cover - the standalone run
    import argparse
    import os
    import signal
    import subprocess
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from bench import agent_api

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--old-rows", type=int, default=2_000_000)
    parser.add_argument("--workers", type=int, default=6)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1/postgres"
        )
    env = agent_api._env(agent_api._database(base))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=agent_api.ROOT,
                   env=env, check=True)  # fmt: skip
    os.environ.update(env)
    import django

    django.setup()
    from django.utils import timezone

    keys = soak_setup()
    old_rows_load(rows=args.old_rows)
    server_args = argparse.Namespace(workers=args.workers, worker_class="gthread", threads=1)
    server = agent_api._serve(
        agent_api.PRODUCT_PORT, env, server_args, env["DJANGO_SETTINGS_MODULE"]
    )
    since = timezone.now()
    stop = threading.Event()
    purges: list[str] = []

    def purge_loop() -> None:
        while not stop.is_set():
            out = subprocess.run(
                [sys.executable, "manage.py", "purge_events", "--batch-size", "5000"],
                cwd=agent_api.ROOT, env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            purges.append(out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr)
            stop.wait(5)

    purger = threading.Thread(target=purge_loop)
    purger.start()
    began = time.monotonic()
    try:
        tally = traffic_run(base_url=f"http://127.0.0.1:{agent_api.PRODUCT_PORT}", keys=keys,
                            seconds=args.seconds, threads=args.threads)  # fmt: skip
    finally:
        stop.set()
        purger.join()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    elapsed = time.monotonic() - began
    problems = tally_check(tally=tally, since=since)
    print(f"{tally.requests:,} requests in {elapsed:.0f} s ({tally.requests / elapsed:.0f}/s), "
          f"{args.threads} clients, gunicorn -w {args.workers}")  # fmt: skip
    print(f"statuses: {dict(sorted(tally.statuses.items()))}")
    credits = sum(tally.credits.values())
    print(f"new visitors: {sum(tally.new_visitors.values()):,}; goal events recorded: "
          f"{tally.events:,}; replays: {tally.replays:,}; credits: {credits:,}")  # fmt: skip
    print(f"purge runs: {len(purges)}; first: {purges[0] if purges else 'none'}")
    print("checks: " + ("all agree (0 lost, 0 double-counted, 0 5xx)" if not problems
                        else f"{len(problems)} problems"))  # fmt: skip
    for problem in problems[:50]:
        print(f"  {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    _main()
