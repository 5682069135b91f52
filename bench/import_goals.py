"""Benchmark: `import_goals` of a large CSV on PostgreSQL: rows/s and the command's peak
memory, for two file sizes (memory must stay flat in the file's size).

In one run, on a throw-away database: an account with a REST target, a goal and an agent;
a tenth of the file's visitors assigned on the Express target (so that a tenth of the
rows are credited, the rest are judged `none`); then `manage.py import_goals` run as a
subprocess on a file of --small rows, then on one of --rows rows, each timed, with its
peak RSS.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/import_goals.py [--rows 1000000] [--small 100000]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _django import ROOT, throwaway_database


def _setup(visitors: int) -> None:
    from accounts.services import account_create
    from agents.models import AgentStatus
    from agents.services import VariationSpec, agent_create
    from goals.models import GoalTrigger
    from goals.services import goal_create
    from targets.services import target_create
    from visitors.models import Assignment

    account = account_create(code="ac-import", name="Import")
    web = target_create(account=account, code="dt-web", name="Web", allow_external_vid=True)
    rest = target_create(
        account=account, code="dt-srv", name="Srv", kind="rest", allow_external_vid=True
    )
    goal = goal_create(
        account=account, code="g-purchase", name="Buy", trigger=GoalTrigger.API, rest_send=True
    )
    agent = agent_create(
        account=account, code="a-hero", name="Hero", status=AgentStatus.RUNNING,
        variations=[VariationSpec(code="A"), VariationSpec(code="B")], goals=[goal],
        targets=[web, rest],
    )  # fmt: skip
    variations = list(agent.variations.values_list("id", flat=True))
    now = agent.created_at
    batch = []
    for n in range(0, visitors, 10):  # a tenth of the visitors seen on the page
        batch.append(Assignment(
            account_id=account.pk, agent_id=agent.pk, variation_id=variations[n % 2],
            identity=f"v:u{n}", session=f"p{n}", vid=f"u{n}", target_id=web.pk,
            target_kind="express", created_at=now, confirmed_at=now,
        ))  # fmt: skip
        if len(batch) == 5000:
            Assignment.objects.bulk_create(batch)
            batch = []
    Assignment.objects.bulk_create(batch)


def _file(rows: int, start: int, directory: str) -> Path:
    path = Path(directory) / f"goals-{rows}.csv"
    with path.open("w") as out:
        out.write("vid,g,v,id\n")
        for n in range(start, start + rows):
            out.write(f"u{n},g-purchase,{n % 50 + 0.99},order-{n}\n")
    return path


def _import(path: Path, env: dict) -> tuple[float, float]:
    began = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", "import_goals", str(path), "--account", "ac-import",
         "--target", "dt-srv"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = time.monotonic() - began
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL server")
    with throwaway_database():
        from django.db import connection

        _setup(args.small + args.rows)
        name = connection.settings_dict["NAME"]
        url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
        env = {**os.environ, "DATABASE_URL": url, "GOAL_DIAGNOSTICS_FLUSH_SECONDS": "1"}
        with tempfile.TemporaryDirectory() as directory:
            for rows, start in ((args.small, 0), (args.rows, args.small)):
                path = _file(rows, start, directory)
                size = path.stat().st_size / 1e6
                seconds, peak = _import(path, env)
                print(f"{rows:>10,} rows ({size:,.0f} MB): {seconds:6.1f} s, "
                      f"{rows / seconds:8,.0f} rows/s, peak RSS so far {peak:5.0f} MB")  # fmt: skip
        connection.close()


if __name__ == "__main__":
    main()
