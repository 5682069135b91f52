"""Profile: where one agent-api request's CPU goes, scenario by scenario, beside the floor's.

In-process on PostgreSQL (a throw-away database set up as bench/agent_api.py sets it up):
each scenario's requests go straight into the WSGI application gunicorn serves
(`conductrics_admin.wsgi.application`, production settings, one thread), under cProfile
counting CPU time (`time.process_time`, so waiting on the socket costs nothing). Each
function's own time goes to the part of the request it belongs to (a C function's, such as
a socket call or a JSON encoder, to the part that called it), printed per request in
milliseconds. Beside it, PostgreSQL's own CPU per request (its processes' /proc counters),
and, where the server loads pg_stat_statements, each statement's calls and time per
request. cProfile's own overhead inflates the Python parts roughly in proportion to their
function calls: read the shares, and the totals of the last column (measured without it).

With `--served`, the independent instrument: the product and the floor under gunicorn as
bench/agent_api.py serves them, wrk at 16 connections on each scenario, and py-spy sampling
every worker (no instrumentation: a sample's innermost Python frame names its part, so a C
call counts for the code that made it). Only samples of a thread holding the GIL count: a
worker waiting on a socket (for PostgreSQL's answer, for the next request) releases it, so
the shares are of the workers' Python CPU.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/profile_agent_api.py [--requests 2000] [--top 25]
    DATABASE_URL=... .venv/bin/python bench/profile_agent_api.py --served [--seconds 8]
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agent_api import (
    SCENARIOS,
    _assignments_load,
    _cpu_seconds,
    _env,
    postgres_url_or_exit,
)

# each function's own time goes to the first part whose marks its file's path contains
PARTS = [
    ("the server: gunicorn, its sockets and threads", ("/gunicorn/", "/selectors.py",
                                                        "/socket.py", "/threading.py")),
    ("DRF (APIView, Request, Response, renderers)", ("/rest_framework/",)),
    ("SQL client (psycopg, Django's db layer)", ("/psycopg/", "/psycopg_c/", "/django/db/")),
    ("Django request cycle (handler, middleware, HttpRequest/Response, urls)", ("/django/",)),
    ("authentication, throttling, the configuration snapshot",
     ("runtime/authentication.py", "runtime/throttling.py", "visitors/config.py", "/accounts/")),
    ("parsing the request (query, body, commands, User-Agent)",
     ("runtime/parsing.py", "visitors/request.py", "targeting/useragent.py", "/ua_parser/",
      "/json/decoder.py")),
    ("deciding (selections, goals, conditions, bucketing)",
     ("visitors/execution.py", "/targeting/", "/agents/", "/goals/", "visitors/batch.py")),
    ("the visitor's read and the write (building statements)",
     ("visitors/selectors.py", "visitors/writes.py", "visitors/statements.py")),
    ("rendering the answer, CORS, recent requests, metrics",
     ("runtime/", "/json/encoder.py", "/prometheus_client/", "conductrics_admin/")),
    ("logging, standard library, other", ("",)),
]  # fmt: skip
FLOOR = "floor: a trivial DRF POST"
BATCH = "e goal-events, 1,000 events a request"
BATCH_SIZE = 1000
LOADED = {"c REST goal by vid": 1, BATCH: BATCH_SIZE}  # visitors assigned first, per request
SPY_RATE = 100  # py-spy's samples per second


def _part(filename: str) -> str:
    for name, marks in PARTS:
        if any(mark in filename for mark in marks):
            return name
    return PARTS[-1][0]


def _shares(stats: pstats.Stats) -> dict[str, float]:
    """Own CPU seconds per part; a C function's to its callers' parts, pro rata."""
    own: dict[str, float] = defaultdict(float)
    table = stats.stats  # type: ignore[attr-defined]

    def part_of(func: tuple, seen: frozenset = frozenset()) -> dict[str, float]:
        filename = func[0]
        if filename != "~":
            return {_part(filename): 1.0}
        callers = table.get(func, (0, 0, 0, 0, {}))[4]
        total = sum(numbers[2] for numbers in callers.values())  # its time, per caller
        weights: dict[str, float] = defaultdict(float)
        for caller, numbers in callers.items():
            if caller in seen:
                continue
            weight = numbers[2] / total if total else 1 / max(len(callers), 1)
            for name, share in part_of(caller, seen | {func}).items():
                weights[name] += weight * share
        return weights or {PARTS[-1][0]: 1.0}

    for func, (_cc, _nc, tottime, _ct, _callers) in table.items():
        for name, share in part_of(func).items():
            own[name] += tottime * share
    return own


def _environ(path: str, query: str, body: bytes) -> dict:
    return {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": query,
        "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8101", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8101", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_USER_AGENT": "wrk/4.1", "HTTP_ACCEPT": "*/*",
    }  # fmt: skip


def _requests(name: str, keys: dict, n: int, run: str) -> list[tuple[str, str, bytes]]:
    """`n` requests of scenario `name`, as bench/agent_api.py's wrk script sends them."""
    if name == BATCH:
        return [
            ("/ac-bench/v3/goal-events", f"apikey={keys['rest']}", json.dumps({"events": [
                {"vid": f"p{run}-{i * BATCH_SIZE + k}", "g": "g-purchase", "v": 9.5,
                 "id": f"o{run}-{i * BATCH_SIZE + k}"} for k in range(BATCH_SIZE)
            ]}).encode())
            for i in range(n)
        ]  # fmt: skip
    commands = {
        "a first selection": '[{"a":"a-hero"}]',
        "b sticky repeat": '[{"a":"a-hero"}]',
        "c REST goal by vid": '[{"g":"g-purchase","v":9.5}]',
        "d mixed, 10 commands": "["
        + ",".join(f'{{"a":"a-t{i}"}}' for i in range(9))
        + ',{"g":"g-purchase","v":1}]',
        FLOOR: '[{"a":"a-hero"}]',
    }[name].encode()
    path = "/ac-bench/v3/agent-api"
    out = []
    for i in range(n):
        query = {
            "a first selection": f"apikey={keys['web']}&session=s{run}-{i}",
            "b sticky repeat": f"apikey={keys['web']}&session=sticky-{run}",
            "c REST goal by vid": f"apikey={keys['rest']}&session=p{run}-{i}&vid=p{run}-{i}",
            "d mixed, 10 commands": f"apikey={keys['rest']}&session=m{run}-{i}&vid=m{run}-{i}",
            FLOOR: f"apikey={keys['web']}&session=s{run}-{i}",
        }[name]
        out.append((path, query, commands))
    return out


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().startswith("postgres"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _statements(cursor) -> bool:
    try:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cursor.execute("SELECT pg_stat_statements_reset()")
        return True
    except Exception:  # not in shared_preload_libraries: the per-statement table is skipped
        return False


def _run(app, requests: list, *, profile: bool) -> tuple[float, pstats.Stats | None]:
    """CPU seconds the app spent on `requests` (and its profile)."""
    profiler = cProfile.Profile(time.process_time) if profile else None
    statuses: list[str] = []

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        statuses.append(status)

    began = time.process_time()
    for path, query, body in requests:
        if profiler:
            profiler.enable()
        chunks = app(_environ(path, query, body), start_response)
        answer = b"".join(chunks)
        getattr(chunks, "close", lambda: None)()
        if profiler:
            profiler.disable()
        if not statuses[-1].startswith("200"):
            raise SystemExit(f"{path}?{query}: {statuses[-1]} {answer[:300]!r}")
    return time.process_time() - began, pstats.Stats(profiler) if profiler else None


def _served(args: argparse.Namespace) -> None:
    """py-spy on gunicorn's workers while wrk loads each scenario, floor first."""
    from bench import agent_api

    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    env = agent_api._env(agent_api._database(postgres_url_or_exit()))
    keys = agent_api._setup(env, 10_000)
    serve = argparse.Namespace(workers=6, worker_class="gthread", threads=1)
    ports = {"floor": agent_api.FLOOR_PORT, "product": agent_api.PRODUCT_PORT}
    for server, port in ports.items():
        settings = "bench.floor_settings" if server == "floor" else "conductrics_admin.settings"
        agent_api.SERVERS[port] = agent_api._serve(port, env, serve, settings)
    try:
        for name in SCENARIOS:
            script = agent_api._lua(name, keys, 40_000)
            for server, port in ports.items():
                agent_api._wrk(port, script, 2, 16)  # warm
                raw = tempfile.NamedTemporaryFile(suffix=".txt", delete=False).name  # noqa: SIM115
                sampler = subprocess.Popen(
                    [spy, "record", "--pid", str(agent_api.SERVERS[port].pid), "--subprocesses",
                     "--format", "raw", "--rate", str(SPY_RATE), "--gil", "--nonblocking",
                     "--duration", str(args.seconds), "--output", raw],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(0.5)
                result = agent_api._wrk(port, script, args.seconds - 1, 16)
                sampler.wait()
                parts, samples, others = _collapsed(raw)
                os.unlink(raw)
                per_request = 1000 / SPY_RATE / max(result["requests"], 1)  # ms a sample
                print(f"## {name}, {server}: {result['rps']:.0f} req/s under py-spy, "
                      f"{result['cpu_ms']:.2f} ms CPU/req (workers + PostgreSQL), "
                      f"{samples * per_request:.2f} ms/req of Python holding the GIL")  # fmt: skip
                for part, _marks in PARTS:
                    count = parts.get(part, 0)
                    print(f"  {count * per_request:6.3f} ms {100 * count / max(samples, 1):5.1f}%"
                          f"  {part}")  # fmt: skip
                print("         other, by file: " + ", ".join(
                    f"{file} {100 * n / max(samples, 1):.1f}%" for file, n in others[:8]
                ))  # fmt: skip
            os.unlink(script)
            print()
    finally:
        for process in agent_api.SERVERS.values():
            process.terminate()
            process.wait()


def _collapsed(path: str) -> tuple[dict[str, int], int, list[tuple[str, int]]]:
    """Samples per part, from py-spy's raw (collapsed) stacks, by each innermost frame."""
    parts: dict[str, int] = defaultdict(int)
    others: dict[str, int] = defaultdict(int)
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        found = re.search(r"\((.*):\d+\)$", leaf)
        file = "/" + found.group(1) if found else leaf  # paths as imported
        part = _part(file)
        parts[part] += int(count)
        if part == PARTS[-1][0] or os.environ.get("PROFILE_FILES") == part.split()[0]:
            others[file] += int(count)
        total += int(count)
    return parts, total, sorted(others.items(), key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per scenario")
    parser.add_argument("--top", type=int, default=0, help="also print the top N functions")
    parser.add_argument("--served", action="store_true", help="py-spy on gunicorn under wrk")
    parser.add_argument("--seconds", type=int, default=8, help="--served: per run")
    parser.add_argument(
        "--only", action="append", metavar="LETTER",
        help="in-process: only these scenarios (a, b, c, d, e; the floor always runs)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.served:
        _served(args)
        return
    env = _env(postgres_url_or_exit())
    env["ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ.update(env)
    from bench._django import throwaway_database

    with throwaway_database():
        from django.db import connection
        from django.test.utils import override_settings

        from bench.agent_api import _bench_account
        from conductrics_admin.wsgi import application

        keys = _bench_account(args.requests * 2)
        with connection.cursor() as cursor:
            statements = _statements(cursor)
        print(f"{args.requests:,} requests per scenario, in-process, one thread; "
              f"pg_stat_statements: {'on' if statements else 'not loaded'}\n")  # fmt: skip
        names = [n for n in [*SCENARIOS, BATCH] if not args.only or n[0] in args.only]
        for name in [FLOOR, *names]:
            run = f"{time.monotonic_ns():x}"
            count = args.requests if name != BATCH else max(2, args.requests // 100)
            warmup = 200 if name != BATCH else 1
            for part, n in (("w", warmup), ("p", count), ("q", count)):
                if name in LOADED:  # the visitors each run's goals are for, assigned first
                    _assignments_load(count=LOADED[name] * n, prefix=f"p{run}{part}-", vid=True)
            settings = {"ROOT_URLCONF": "bench.floor_urls"} if name == FLOOR else {}
            with override_settings(**settings):
                warm = _requests(name, keys, warmup, run + "w")
                _run(application, warm, profile=False)
                plain, _ = _run(application, _requests(name, keys, count, run + "p"),
                                profile=False)  # fmt: skip
                pids = _postgres_pids()
                pg_before = _cpu_seconds(pids)
                if statements:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_stat_statements_reset()")
                _, stats = _run(application, _requests(name, keys, count, run + "q"),
                                profile=True)  # fmt: skip
                pg = _cpu_seconds(pids) - pg_before
            app_ms, pg_ms = 1000 * plain / count, 1000 * pg / count
            print(f"## {name}: {app_ms:.3f} ms of the app's CPU per request (unprofiled); "
                  f"PostgreSQL {pg_ms:.3f} ms")  # fmt: skip
            shares = _shares(stats)
            total = sum(shares.values())
            for part, _marks in PARTS:
                ms = 1000 * shares.get(part, 0) / count
                print(f"  {ms:7.3f} ms {100 * shares.get(part, 0) / total:5.1f}%  {part}")
            if statements:
                _print_statements(count)
            if args.top:
                stats.sort_stats("tottime").print_stats(args.top)
            print()
        from conductrics_admin.buffers import buffers_reset

        buffers_reset()  # nothing left to write at exit to the database about to go


def _print_statements(n: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT calls, total_exec_time, total_plan_time, left(regexp_replace(query, "
            "'\\s+', ' ', 'g'), 90) FROM pg_stat_statements WHERE calls >= %s "
            "AND query NOT LIKE '%%pg_stat_statements%%' ORDER BY total_exec_time DESC LIMIT 8",
            [n // 2],
        )
        for calls, exec_ms, plan_ms, query in cursor.fetchall():
            print(f"    SQL {calls / n:4.1f}×/req {exec_ms / n:6.3f} ms exec "
                  f"{plan_ms / n:6.3f} ms plan  {query}")  # fmt: skip


if __name__ == "__main__":
    main()
