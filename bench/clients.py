"""Benchmark: goals per second through each server-side client, and what `goal()` costs
its caller (SPEC §5b), on PostgreSQL.

In one run: a fresh database and the product under gunicorn as bench/agent_api.py serves
it; --goals visitors shown a variation first. Then, for the Python client (in this
process) and the Node.js client (a `node` process), --goals goals of those visitors, each
`goal()` call timed in the caller, then `close()`: goals per second from the first call to
the last verdict (the queue holds all of them: the callers here make goals far faster than
any server takes them), and the median and p99 of one `goal()` call. Every verdict is checked:
all credited, none twice.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/clients.py [--goals 50000] [--workers 6]

Targets: at least 5,000 goals/s through each client with batching; `goal()` under 20 µs
(median) in Python.
"""

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agent_api import (
    PRODUCT_PORT,
    SERVERS,
    _assignments_load,
    _database,
    _env,
    _serve,
    _setup,
    postgres_url_or_exit,
)

ROOT = Path(__file__).resolve().parent.parent
NODE_SCRIPT = """
import { Client } from %s;
const [url, key, prefix, n] = process.argv.slice(1);
const counts = {};
let replays = 0;
const client = new Client({ baseUrl: url, account: "ac-bench", apiKey: key, maxQueue: Number(n),
  onVerdict: (v) => { counts[v.status] = (counts[v.status] ?? 0) + 1; replays += v.replay; },
  onError: (e) => { counts["error:" + e.reason] = (counts["error:" + e.reason] ?? 0) + 1; } });
const calls = new Float64Array(Number(n));
const began = process.hrtime.bigint();
for (let i = 0; i < Number(n); i++) {
  const t = process.hrtime.bigint();
  client.goal("g-purchase", { vid: prefix + i, value: 9.5 });
  calls[i] = Number(process.hrtime.bigint() - t) / 1000;
  if (i %% 1000 === 999) await new Promise((r) => setImmediate(r));  // let the sender run
}
await client.close();
const seconds = Number(process.hrtime.bigint() - began) / 1e9;
calls.sort();
process.stdout.write(JSON.stringify({ seconds, counts, replays,
  median_us: calls[calls.length >> 1], p99_us: calls[Math.floor(calls.length * 0.99)] }));
"""


def _python(url: str, key: str, prefix: str, n: int) -> dict:
    from conductrics_client import Client

    counts: dict[str, int] = {}
    replays = [0]

    def on_verdict(v) -> None:
        counts[v.status] = counts.get(v.status, 0) + 1
        replays[0] += v.replay

    def on_error(e) -> None:
        counts[f"error:{e.reason}"] = counts.get(f"error:{e.reason}", 0) + 1

    client = Client(url, "ac-bench", key, on_verdict=on_verdict, on_error=on_error, max_queue=n)
    calls = []
    began = time.perf_counter()
    for i in range(n):
        t = time.perf_counter_ns()
        client.goal("g-purchase", vid=f"{prefix}{i}", value=9.5)
        calls.append((time.perf_counter_ns() - t) / 1000)
    client.close()
    seconds = time.perf_counter() - began
    calls.sort()
    return {"seconds": seconds, "counts": counts, "replays": replays[0],
            "median_us": calls[n // 2], "p99_us": calls[int(n * 0.99)]}  # fmt: skip


def _node(url: str, key: str, prefix: str, n: int) -> dict:
    node = shutil.which("node")
    if node is None:
        sys.exit("node not found: apt-get install nodejs")
    module = json.dumps((ROOT / "clients/node/index.js").as_uri())
    done = subprocess.run(
        [node, "--input-type=module", "-e", NODE_SCRIPT % module, url, key, prefix, str(n)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goals", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=6)
    args = parser.parse_args()
    env = _env(_database(postgres_url_or_exit()))
    keys = _setup(env, 1000)
    serve_args = argparse.Namespace(workers=args.workers, worker_class="gthread", threads=1)
    SERVERS[PRODUCT_PORT] = server = _serve(
        PRODUCT_PORT, env, serve_args, "conductrics_admin.settings"
    )
    url = f"http://127.0.0.1:{PRODUCT_PORT}"
    try:
        _python(url, keys["rest"], "v", 500)  # warm: connections opened, statements prepared
        print(f"{args.goals:,} goals per client, gunicorn -w {args.workers}, PostgreSQL")
        print(f"{'client':8s} {'goals/s':>9s} {'goal() median':>14s} {'goal() p99':>11s}  verdicts")
        for name, run in (("python", _python), ("node", _node)):
            prefix = f"{name}-"
            _assignments_load(count=args.goals, prefix=prefix, vid=True)
            result = run(url, keys["rest"], prefix, args.goals)
            rate = args.goals / result["seconds"]
            print(f"{name:8s} {rate:9,.0f} {result['median_us']:11.1f} µs "
                  f"{result['p99_us']:8.1f} µs  {result['counts']}, "
                  f"{result['replays']} replays")  # fmt: skip
            assert result["counts"] == {"ok": args.goals}, result
        print("\ntargets: >= 5,000 goals/s through each client; goal() median < 20 µs in Python")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
