"""Benchmark: what targeting costs a selection, side by side in one run (SPEC §4b, issue 16).

In-process and on PostgreSQL (a fresh database): the whole agent-api stack (middleware,
DRF, parsing, the decision, the write) through Django's test client, alternating two
scenarios in rounds. Each request is a visitor's first selection on the Express target,
sent with the same traits, inputs and User-Agent in both scenarios, so that only the agent
differs:
  plain      an agent without conditions
  targeted   an agent with eligibility over inputs, traits and ua, and 5 rules (none of
             which holds for most visitors: every rule is evaluated)
It prints CPU per request (this process plus its PostgreSQL backend) per scenario, the
median of the rounds, and the ratio (target: targeted <= 1.10 x plain).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/targeting_cost.py [--requests 400] [--rounds 7]

With --plain-only it runs the plain scenario alone (for a tree without targeting).
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.agent_api import _database, _env, postgres_url_or_exit  # noqa: E402

UAS = [
    f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    f"Chrome/{100 + i}.0.0.0 Safari/537.36"
    for i in range(25)
] + [
    f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_{i} like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    f"like Gecko) Version/17.{i} Mobile/15E148 Safari/604.1"
    for i in range(25)
]
ELIGIBILITY = {"all": [
    {"source": "input", "name": "plan", "op": "in", "values": ["gold", "silver", "free"]},
    {"source": "trait", "name": "cust/tier", "op": "set"},
    {"not": {"source": "trait", "name": "ua/br", "op": "eq", "value": "ie"}},
]}  # fmt: skip
RULES = [
    {"name": "gold mobile", "variation": "B", "when": {"all": [
        {"source": "input", "name": "plan", "op": "eq", "value": "platinum"},
        {"source": "trait", "name": "ua/mo", "op": "eq", "value": "y"}]}},
    {"name": "edge users", "variation": "B",
     "when": {"source": "trait", "name": "ua/br", "op": "eq", "value": "edge"}},
    {"name": "big basket", "variation": "B",
     "when": {"source": "input", "name": "basket", "op": "gt", "value": 1000}},
    {"name": "campaign", "variation": "B",
     "when": {"source": "input", "name": "utm", "op": "starts_with", "value": "spring-"}},
    {"name": "staff", "variation": "B",
     "when": {"source": "trait", "name": "cust/tier", "op": "eq", "value": "staff"}},
]  # fmt: skip


def _setup(env: dict, targeted: bool) -> str:
    import subprocess

    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from accounts.services import account_create
    from agents.models import AgentStatus
    from agents.services import VariationSpec, agent_create
    from targets.services import target_create

    account = account_create(code="ac-bench", name="Bench")
    web = target_create(account=account, code="dt-web", name="Web", allow_external_vid=True)
    common = {
        "account": account, "status": AgentStatus.RUNNING, "targets": [web],
        "variations": [VariationSpec(code="A"), VariationSpec(code="B")],
    }  # fmt: skip
    agent_create(code="a-plain", name="Plain", **common)
    if targeted:
        agent_create(
            code="a-targeted", name="Targeted", eligibility=ELIGIBILITY, rules=RULES, **common
        )
    return web.api_key


def _backend_cpu(pid: int) -> float:
    """CPU seconds of a PostgreSQL backend so far (it runs on this machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(client, key: str, agent: str, count: int, start: int, backend: int) -> float:
    """CPU ms per request of `count` first selections of `agent`."""
    body = json.dumps({"commands": [{"a": agent}], "inputs": {"plan": "gold", "basket": "42"}})
    cpu0, db0 = time.process_time(), _backend_cpu(backend)
    for i in range(start, start + count):
        response = client.post(
            f"/ac-bench/v3/agent-api?apikey={key}&session={agent}-{i}&traits=tier:gold",
            data=body,
            content_type="text/plain",
            headers={"User-Agent": UAS[i % len(UAS)]},
        )
        assert response.status_code == 200, response.content
        assert response.json()["data"]["items"], response.content
    return (time.process_time() - cpu0 + _backend_cpu(backend) - db0) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="per scenario and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--plain-only", action="store_true")
    args = parser.parse_args()
    env = _env(_database(postgres_url_or_exit(), "conductrics_bench_targeting"))
    env["ALLOWED_HOSTS"] = "testserver"
    key = _setup(env, targeted=not args.plain_only)
    from django.db import connection
    from django.test import Client

    client = Client()
    scenarios = ["a-plain"] if args.plain_only else ["a-plain", "a-targeted"]
    for agent in scenarios:  # warm: snapshot loaded, statements prepared, UAs cached
        _run(client, key, agent, 200, 10**8, _pid(connection))
    backend = _pid(connection)
    cpu: dict[str, list[float]] = {agent: [] for agent in scenarios}
    for r in range(args.rounds):
        for agent in scenarios if r % 2 == 0 else reversed(scenarios):
            cpu[agent].append(_run(client, key, agent, args.requests, r * args.requests, backend))
    print(f"{args.rounds} rounds of {args.requests} first selections per scenario, "
          f"CPU ms per request (Python + its PostgreSQL backend), median [min-max]:")  # fmt: skip
    for agent, runs in cpu.items():
        print(f"  {agent:12s} {statistics.median(runs):7.3f}  [{min(runs):.3f}-{max(runs):.3f}]")
    if not args.plain_only:
        ratio = statistics.median(cpu["a-targeted"]) / statistics.median(cpu["a-plain"])
        print(f"targeted / plain: {ratio:.3f}x (target <= 1.10x)")
        _decisions()


def _decisions(count: int = 20_000) -> None:
    """The decision alone, in-process (no I/O): what the conditions add, in microseconds."""
    from datetime import UTC, datetime

    from agents.bucketing import random_number
    from agents.selection import Who, selection_decide
    from targeting.conditions import Facts
    from visitors.config import account_conf

    conf = account_conf(code="ac-bench")
    web = next(t for t in conf.targets if t.code == "dt-web")
    took = {}
    for code in ("a-plain", "a-targeted"):
        agent = conf.agents[code]
        began = time.perf_counter()
        for i in range(count):
            identity = f"s:decide-{i}"
            facts = Facts(
                target="dt-web", now=datetime.now(UTC),
                random=lambda a, identity=identity: random_number(agent_code=a, identity=identity),
                inputs={"plan": "gold", "basket": "42"},
                traits={"cust/tier": "gold", "ua/mo": "n", "ua/br": "chrome", "ua/os": "windows"},
            )  # fmt: skip
            selection_decide(
                agent=agent, agent_code=code, target_id=web.id, existing=None, allow=None,
                exclude=(), status=None, now=facts.now,
                who=Who(identity=identity, session=f"decide-{i}", facts=facts),
            )  # fmt: skip
        took[code] = (time.perf_counter() - began) / count * 1e6
    plain, targeted = took["a-plain"], took["a-targeted"]
    print(
        f"the decision alone: plain {plain:.1f} us, targeted {targeted:.1f} us "
        f"(+{targeted - plain:.1f} us)"
    )


def _pid(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


if __name__ == "__main__":
    main()
