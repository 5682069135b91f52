"""Benchmark: one gunicorn worker's memory over 100,000 agent-api requests.

The product alone under gunicorn with a single worker (the settings of bench/agent_api.py:
production, PostgreSQL, persistent connections), loaded with wrk by the four scenarios
of bench/agent_api.py in turn until the worker has answered --requests requests. Prints
the worker's RSS at each --every requests (target: under 150 MB after 100,000).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/worker_memory.py [--requests 100000] [--every 20000]

Needs wrk (Debian package) and gunicorn (pip install -e '.[bench]'). Its database is
its own (conductrics_bench_memory), so it can run beside bench/agent_api.py.
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agent_api import (
    SCENARIOS,
    _database,
    _env,
    _lua,
    _rss_mb,
    _serve,
    _setup,
    _wrk,
    postgres_url_or_exit,
)

PORT = 8103


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=20_000, help="print the RSS this often")
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    env = _env(_database(postgres_url_or_exit(), name="conductrics_bench_memory"))
    keys = _setup(env, 10_000)
    serve = SimpleNamespace(workers=1, worker_class="gthread", threads=1, worker_connections=1000)
    server = _serve(PORT, env, serve, "conductrics_admin.settings")
    try:
        served, next_print, began = 0, 0, time.monotonic()
        print(f"one gunicorn worker (gthread, 1 thread), wrk -c{args.connections}, "
              f"{args.seconds} s per scenario in turn")  # fmt: skip
        print(f"{'requests':>10s} {'worker RSS':>11s} {'elapsed':>8s}")
        while True:
            if served >= next_print:
                (rss,) = _rss_mb(server.pid)
                print(f"{served:>10,d} {rss:>8.1f} MB {time.monotonic() - began:>7.0f}s",
                      flush=True)  # fmt: skip
                next_print += args.every
                if served >= args.requests:
                    break
            for name in SCENARIOS:
                script = _lua(name, keys, 5_000)
                result = _wrk(PORT, script, args.seconds, args.connections)
                os.unlink(script)
                if result["non2xx"]:
                    raise SystemExit(f"{name}: {result['non2xx']} answers other than 2xx")
                served += result["requests"]
        print(f"\ntarget: under 150 MB after {args.requests:,} requests")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
