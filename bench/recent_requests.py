"""Benchmark: writing the install page's recent requests (runtime/recent.py), the ORM's bulk
insert against the one statement of arrays the flush now uses, side by side in one run.

Each agent-api request that reaches a target adds a row, written by its process at most
every second; this is that row's share of a worker's CPU.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/recent_requests.py [--rows 200] [--rounds 5]
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agent_api import _env, postgres_url_or_exit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200, help="rows a flush (its maximum)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env = _env(postgres_url_or_exit())
    env["ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ.update(env)
    from bench._django import throwaway_database

    with throwaway_database():
        from django.db import transaction
        from django.utils import timezone

        from bench.agent_api import _bench_account
        from runtime.recent import _rows_insert
        from targets.models import DeployTarget, RecentRequest

        _bench_account(10)
        target = DeployTarget.objects.get(code="dt-srv")
        rows = [(target.account_id, target.pk, timezone.now(), 200, "answered", 1)] * args.rows

        def orm() -> None:
            RecentRequest.objects.bulk_create(
                [RecentRequest(account_id=a, target_id=t, at=at, status=s, reasons=r, commands=n)
                 for a, t, at, s, r, n in rows]
            )  # fmt: skip

        def arrays() -> None:
            _rows_insert(rows)

        best = {"ORM bulk_create": float("inf"), "one statement of arrays": float("inf")}
        for _ in range(args.rounds):
            for name, write in (("ORM bulk_create", orm), ("one statement of arrays", arrays)):
                began = time.process_time()
                with transaction.atomic():
                    write()
                best[name] = min(best[name], time.process_time() - began)
        for name, seconds in best.items():
            print(f"{name:26s} {1e6 * seconds / args.rows:6.1f} µs of CPU a row "
                  f"({args.rows} rows a flush, best of {args.rounds})")  # fmt: skip
        ratio = best["ORM bulk_create"] / best["one statement of arrays"]
        print(f"the statement of arrays: {ratio:.1f}x cheaper a row")


if __name__ == "__main__":
    main()
