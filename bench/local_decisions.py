"""Benchmark of local decisions (issue #17), both halves measured side by side in one run.

1. Time to variation in a real Chromium (Playwright, /usr/bin/chromium), on the demo page:
   `/demo/?mode=local` with a warm bundle (kept from an earlier page) against `/demo/`,
   the agent-api round trip, loaded in alternation. The page itself records, when it
   shows its variation, the time since its script started and how many agent-api
   answers had arrived by then. Each mode on loopback, then with Chromium emulating a
   network round trip of --latency-ms (a phone's, on the page's requests only).
2. Server CPU per request under wrk: the bundle (GET .../agent-api/js/dt-web) against a
   first selection (POST .../agent-api), alternated; CPU of the gunicorn workers and of
   PostgreSQL's processes, per request.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/local_decisions.py [--loads 40] [--rounds 2] [--seconds 8]

Needs wrk and chromium (Debian packages), gunicorn and playwright (pip install -e '.[dev,bench]').
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agent_api import (
    ROOT,
    SERVERS,
    _database,
    _env,
    _lua,
    _serve,
    _setup,
    _wrk,
    postgres_url_or_exit,
)

PORT = 8111
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
BUNDLE_LUA = """
wrk.method = "GET"
request = function() return wrk.format(nil, "/ac-bench/v3/agent-api/js/dt-web?apikey={web}") end
"""


def _load(page, url: str) -> tuple[float, int, str]:
    page.goto(url)
    page.wait_for_selector("#headline[data-state=shown]", timeout=20_000)
    headline = page.locator("#headline")
    return (
        float(headline.get_attribute("data-shown-ms")),
        int(headline.get_attribute("data-api-answers-before")),
        headline.get_attribute("data-variation"),
    )


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):7.2f}  p95 {p95:7.2f}  max {ordered[-1]:7.2f}"


def browser_half(base: str, loads: int, rounds: int, latency_ms: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        for latency in (0, latency_ms):
            results = {"local": [], "round trip": []}
            answered_before = []
            contexts = {}
            for mode in results:
                context = browser.new_context()
                context.add_cookies([{"name": "our_visitor_id", "value": f"bench-{mode[0]}",
                                      "url": base}])  # fmt: skip
                page = context.new_page()
                if latency:
                    cdp = context.new_cdp_session(page)
                    cdp.send("Network.enable")
                    cdp.send("Network.emulateNetworkConditions", {
                        "offline": False, "latency": latency,
                        "downloadThroughput": -1, "uploadThroughput": -1,
                    })  # fmt: skip
                contexts[mode] = page
            _load(contexts["local"], base + "/demo/?mode=local")  # warms the bundle
            _load(contexts["round trip"], base + "/demo/")
            for _ in range(rounds):
                for mode, path in (("local", "/demo/?mode=local"), ("round trip", "/demo/")):
                    for _ in range(loads):
                        ms, answered, _variation = _load(contexts[mode], base + path)
                        results[mode].append(ms)
                        if mode == "local":
                            answered_before.append(answered)
            label = f"loopback + {latency} ms emulated round trip" if latency else "loopback"
            print(f"\ntime from the page's script to its variation, ms ({label}; "
                  f"{len(results['local'])} loads each, alternated)")  # fmt: skip
            for mode, values in results.items():
                print(f"  {mode:<11} {_summary(values)}")
            ratio = statistics.median(results["round trip"]) / statistics.median(results["local"])
            print(f"  round trip / local (medians): {ratio:.0f}x; local loads shown before any "
                  f"agent-api answer: {answered_before.count(0)} of {len(answered_before)}; "
                  f"within 5 ms: {sum(ms <= 5 for ms in results['local'])} of "
                  f"{len(results['local'])}")  # fmt: skip
        browser.close()


def cpu_half(keys: dict, seconds: int, rounds: int) -> None:
    bundle = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
    bundle.write(BUNDLE_LUA.replace("{web}", keys["web"]))
    bundle.close()
    runs: dict[str, list[dict]] = {"bundle (GET js/dt-web)": [], "first selection (POST)": []}
    _wrk(PORT, bundle.name, 2, 8)  # warm both
    _wrk(PORT, _lua("a first selection", keys), 2, 8)
    for _ in range(rounds):
        runs["bundle (GET js/dt-web)"].append(_wrk(PORT, bundle.name, seconds, 8))
        runs["first selection (POST)"].append(
            _wrk(PORT, _lua("a first selection", keys), seconds, 8)
        )
    print(f"\nserver CPU per request (gunicorn workers + PostgreSQL), wrk -c8 -d{seconds}s, "
          f"{rounds} rounds alternated")  # fmt: skip
    print(f"  {'request':<24} {'req/s':>8} {'p50 ms':>8} {'CPU ms/req':>11} {'errors':>7}")
    medians = {}
    for name, results in runs.items():
        cpu = statistics.median(r["cpu_ms"] for r in results)
        rps = statistics.median(r["rps"] for r in results)
        p50 = statistics.median(r["p50"] for r in results)
        medians[name] = cpu
        errors = sum(r["errors"] for r in results)
        print(f"  {name:<24} {rps:>8.0f} {p50:>8.2f} {cpu:>11.3f} {errors:>7}")
    bundle_cpu, selection_cpu = medians.values()
    print(f"  a bundle request costs {bundle_cpu / selection_cpu:.2f}x the CPU of a selection")
    os.unlink(bundle.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=40, help="page loads per mode and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8, help="of each wrk run")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    database = _database(postgres_url_or_exit(), "conductrics_bench_local")
    static_root = tempfile.mkdtemp(prefix="bench-static-")
    env = {**_env(database), "DEMO_ENABLED": "true", "STATIC_ROOT": static_root}
    keys = _setup(env, 0)
    for command in (["seed_demo"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    server_args = argparse.Namespace(workers=args.workers, worker_class="gthread", threads=4)
    SERVERS[PORT] = _serve(PORT, env, server_args, "conductrics_admin.settings")
    try:
        print(f"gunicorn -w {args.workers} -k gthread --threads 4 on PostgreSQL; "
              f"Chromium {CHROMIUM}; {os.cpu_count()} cores")  # fmt: skip
        browser_half(f"http://127.0.0.1:{PORT}", args.loads, args.rounds, args.latency_ms)
        cpu_half(keys, args.seconds, args.rounds)
    finally:
        SERVERS[PORT].terminate()
        SERVERS[PORT].wait(timeout=10)


if __name__ == "__main__":
    main()
