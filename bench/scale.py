"""The product as it runs at scale, on this one machine: PgBouncer in transaction-pooling
mode in front of PostgreSQL, several gunicorn app servers, HAProxy balancing them, Redis.

`Stack` starts and stops it (tests/project/test_scale.py drives it for a short mixed run
with faults). As a script it loads the stack with several clients for a while, with 1 and
then 2 app servers, and prints throughput:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/scale.py [--seconds 20] [--clients 16]

Needs haproxy and pgbouncer (Debian packages), gunicorn (pip install -e '.[bench]') and
Redis on 127.0.0.1:6379. docs/operations.md shows the same layout for production.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATABASE = "conductrics_scale"
ACCOUNT = "ac-scale"
BALANCER_PORT = 8300
PGBOUNCER_PORT = 6440
REDIS_URL = "redis://127.0.0.1:6379/7"

PGBOUNCER_INI = """[databases]
{db} = host={host} port={port} dbname={db} user={user}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {dir}/users.txt
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
logfile = {dir}/pgbouncer.log
pidfile = {dir}/pgbouncer.pid
log_connections = 0
log_disconnections = 0
"""

HAPROXY_CFG = """global
    maxconn 2000
    tune.bufsize 131072
defaults
    mode http
    timeout http-request 10s
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    option http-buffer-request
    retries 2
    option redispatch
    retry-on conn-failure empty-response response-timeout
    errorfile 502 {dir}/503.http
    errorfile 504 {dir}/503.http
frontend agent_api
    bind 127.0.0.1:{port}
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
{servers}
"""

# A server that fell mid-request is a dependency that failed: 503 with Retry-After, which
# clients retry (goals with their event id, so a retry is a replay, never a second goal).
UNAVAILABLE = (
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    "Retry-After: 1\r\nConnection: close\r\n\r\n"
    '{"status": 503, "err": "An app server was unavailable: retry."}\n'
)


def tools_missing() -> str | None:
    """What the stack needs that this machine lacks (None: nothing)."""
    for tool in ("haproxy", "pgbouncer"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            return f"{tool} not found: apt-get install haproxy pgbouncer"
    if not (BIN / "gunicorn").exists():
        return "gunicorn not installed: pip install -e '.[dev]'"
    return None


def _tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _wait_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while _free(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")
        time.sleep(0.1)


@dataclass
class Response:
    status: int
    body: dict


def http(method: str, url: str, body: object = None, headers: dict | None = None) -> Response:
    """One HTTP call; any status is an answer (a refused connection, or an answer cut off
    by a server killed while sending it, is status 0: the caller retries, and the goal's
    event id makes the retry a replay)."""
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return Response(answer.status, _json(answer.read()))
    except urllib.error.HTTPError as error:
        return Response(error.code, _json(error.read()))
    except (urllib.error.URLError, ConnectionError, TimeoutError, HTTPException):
        return Response(0, {})


def _json(raw: bytes) -> dict:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        return {"raw": raw[:200].decode(errors="replace")}
    return parsed if isinstance(parsed, dict) else {"list": parsed}


@dataclass
class Stack:
    """PostgreSQL ← PgBouncer ← `servers` gunicorn app servers ← HAProxy."""

    base_url: str  # PostgreSQL, as DATABASE_URL names it
    servers: int = 2
    workers: int = 2
    first_port: int = 8301
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="conductrics-scale-")))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    admin_key: str = ""

    @property
    def balancer(self) -> str:
        return f"http://127.0.0.1:{BALANCER_PORT}"

    def server_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.first_port + i}"

    def direct_url(self) -> str:
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(path=f"/{DATABASE}"))

    def pooled_url(self) -> str:
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:"
                                         f"{PGBOUNCER_PORT}", path=f"/{DATABASE}"))  # fmt: skip

    def env(self, **extra: str) -> dict:
        return {
            **os.environ,
            "DATABASE_URL": self.pooled_url(),
            "DB_PREPARED_STATEMENTS": "false",  # transaction pooling: no prepared statements
            "CONN_MAX_AGE": "60",
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": "scale-test-only-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "AGENT_API_EXPRESS_RATE": "off",
            "AGENT_API_REST_RATE": "off",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "conductrics_admin.settings",
            "WHITENOISE_USE_FINDERS": "true",
            **extra,
        }

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> "Stack":
        import psycopg

        self.dir.chmod(0o777)  # PgBouncer runs as nobody
        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DATABASE}")
        migrate_env = {**self.env(), "DATABASE_URL": self.direct_url()}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=migrate_env, check=True
        )
        created = subprocess.run(
            [sys.executable, "manage.py", "create_account", ACCOUNT, "--name", "Scale", "--json"],
            cwd=ROOT, env=migrate_env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        self.admin_key = json.loads(created.stdout)["admin_key"]
        self._redis_flush()
        self._pgbouncer()
        for i in range(self.servers):
            self.start_server(i)
        self._haproxy()
        return self

    def _redis_flush(self) -> None:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()

    def _pgbouncer(self) -> None:
        parts = urlsplit(self.base_url)
        (self.dir / "users.txt").write_text(f'"{parts.username or "postgres"}" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            PGBOUNCER_INI.format(
                db=DATABASE, host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                user=parts.username or "postgres", listen=PGBOUNCER_PORT, dir=self.dir,
            )
        )  # fmt: skip
        for path in self.dir.iterdir():
            path.chmod(0o644)
        command = [_tool("pgbouncer"), "-q", str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "nobody"]  # it will not run as root
        self.processes["pgbouncer"] = subprocess.Popen(command, start_new_session=True)
        _wait_port(PGBOUNCER_PORT)

    def start_server(self, i: int) -> None:
        metrics = self.dir / f"metrics-{i}"
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir()
        port = self.first_port + i
        self.processes[f"app{i}"] = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:conductrics_admin.gunicorn_conf",
             "conductrics_admin.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(self.workers),
             "--worker-class", "gthread", "--threads", "4", "--graceful-timeout", "5"],
            cwd=ROOT, env=self.env(PROMETHEUS_MULTIPROC_DIR=str(metrics)),
            start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=open(self.dir / f"app{i}.log", "w"),  # noqa: SIM115 - the process keeps it
        )  # fmt: skip
        _wait_port(port)
        deadline = time.monotonic() + 30
        while http("GET", self.server_url(i) + "/readyz").status != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"app server {i} not ready: see {self.dir}/app{i}.log")
            time.sleep(0.2)

    def _haproxy(self) -> None:
        (self.dir / "503.http").write_text(UNAVAILABLE)
        servers = "\n".join(
            f"    server app{i} 127.0.0.1:{self.first_port + i} check inter 200ms fall 1 rise 2"
            for i in range(self.servers)
        )
        (self.dir / "haproxy.cfg").write_text(
            HAPROXY_CFG.format(dir=self.dir, port=BALANCER_PORT, servers=servers)
        )
        self.processes["haproxy"] = subprocess.Popen(
            [_tool("haproxy"), "-f", str(self.dir / "haproxy.cfg"), "-db"],
            start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "haproxy.log", "w"),  # noqa: SIM115
        )  # fmt: skip
        _wait_port(BALANCER_PORT)
        deadline = time.monotonic() + 10
        while http("GET", self.balancer + "/healthz").status != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"HAProxy not serving: see {self.dir}/haproxy.log")
            time.sleep(0.1)

    def kill_server(self, i: int) -> None:
        """SIGKILL an app server, master and workers, as a crash would."""
        process = self.processes.pop(f"app{i}")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for name, process in list(self.processes.items()):
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)
            del self.processes[name]
        import psycopg

        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- the account's set-up, through the management API ---------------------------------

    def api(self, method: str, path: str, body: object = None) -> Response:
        headers = {"Authorization": f"Bearer {self.admin_key}", "Content-Type": "application/json"}
        return http(method, f"{self.balancer}/api/{ACCOUNT}/{path}", body, headers)

    def seed(self, agents: int = 3) -> dict:
        """The seed's scenario: an Express and a REST target passing the vid, g-purchase
        sent via REST, running agents on both targets. Returns the runtime keys."""
        keys = {}
        for code, kind in (("dt-web", "express"), ("dt-server", "rest")):
            made = self.api("POST", "targets/", {"code": code, "name": code, "kind": kind,
                                                "allow_external_vid": True})  # fmt: skip
            assert made.status == 201, made.body
            keys[code] = made.body["api_key"]
        goal = {"code": "g-purchase", "name": "Purchase", "trigger": "api", "rest_send": True}
        assert self.api("POST", "goals/", goal).status == 201
        for i in range(agents):
            agent = {
                "code": f"a-t{i}", "name": f"T{i}", "status": "running",
                "variations": [{"code": "A"}, {"code": "B"}], "goals": ["g-purchase"],
                "targets": ["dt-web", "dt-server"],
            }  # fmt: skip
            assert self.api("POST", "agents/", agent).status == 201
        return keys


def agent_api(base: str, key: str, commands: list, *, session: str, vid: str) -> Response:
    return http(
        "POST", f"{base}/{ACCOUNT}/v3/agent-api?apikey={key}&session={session}&vid={vid}",
        json.dumps(commands).encode(), {"Content-Type": "text/plain"},
    )  # fmt: skip


@dataclass
class Traffic:
    """Several clients, each a stream of visitors: a page's selections on the Express
    target, then the purchase on the REST target with its event id. A 503 is retried (the
    event id makes a retry a replay); every answer's status is kept."""

    base: str
    keys: dict
    agents: int
    statuses: dict[int, int] = field(default_factory=dict)
    goals_sent: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Condition = field(default_factory=threading.Condition)

    def answered(self) -> int:
        """Answers so far, of any status."""
        with self.lock:
            return sum(self.statuses.values())

    def wait_answers(self, more: int, timeout: float = 60.0) -> bool:
        """Wait until `more` answers beyond those so far have come back (False: not within
        `timeout` seconds)."""
        with self.lock:
            target = sum(self.statuses.values()) + more
            return self.lock.wait_for(lambda: sum(self.statuses.values()) >= target, timeout)

    def _call(self, key: str, commands: list, visitor: str) -> Response:
        for _ in range(50):
            answer = agent_api(self.base, key, commands, session=visitor, vid=visitor)
            with self.lock:
                self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
                self.lock.notify_all()
            if answer.status not in (0, 503):
                return answer
            time.sleep(0.1)
        return answer

    def client(self, n: int) -> None:
        i = 0
        while not self.stop.is_set():
            visitor = f"c{n}-v{i}"
            i += 1
            pages = [{"a": f"a-t{a}"} for a in range(self.agents)]
            self._call(self.keys["dt-web"], pages, visitor)
            answer = self._call(
                self.keys["dt-server"], [{"g": "g-purchase", "v": 2.5, "id": f"e-{visitor}"}],
                visitor,
            )  # fmt: skip
            if answer.status == 200:
                with self.lock:
                    self.goals_sent += 1

    def run(self, clients: int) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self.client, args=(n,), daemon=True) for n in range(clients)
        ]
        for thread in threads:
            thread.start()
        return threads


def counts_match(direct_url: str) -> dict:
    """Every count of the reports against the raw rows: visitors, conversions, credits and
    value per agent and variation. Returns {name: (report, raw)}."""
    import psycopg

    with psycopg.connect(direct_url) as conn:
        rows = {}
        for name, report_sql, raw_sql in (
            ("visitors",
             "SELECT agent_id, variation_id, SUM(visitors) FROM reports_visitorday GROUP BY 1, 2",
             "SELECT agent_id, variation_id, COUNT(*) FROM agents_assignment "
             "WHERE confirmed_at IS NOT NULL GROUP BY 1, 2"),
            ("conversions",
             "SELECT agent_id, variation_id, SUM(conversions) FROM reports_goalday GROUP BY 1, 2",
             "SELECT agent_id, variation_id, COUNT(*) FROM goals_credit WHERE first GROUP BY 1, 2"),
            ("credits",
             "SELECT agent_id, variation_id, SUM(credits) FROM reports_goalday GROUP BY 1, 2",
             "SELECT agent_id, variation_id, COUNT(*) FROM goals_credit GROUP BY 1, 2"),
            ("value",
             "SELECT agent_id, variation_id, ROUND(SUM(value_sum)::numeric, 6) FROM "
             "reports_goalday GROUP BY 1, 2",
             "SELECT agent_id, variation_id, ROUND(SUM(value)::numeric, 6) FROM goals_credit "
             "GROUP BY 1, 2"),
        ):  # fmt: skip
            report = {(a, v): n for a, v, n in conn.execute(report_sql)}
            raw = {(a, v): n for a, v, n in conn.execute(raw_sql)}
            rows[name] = (report, raw)
        events = conn.execute("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM goals_goalevent")
        rows["events"] = tuple(events.fetchone())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    args = parser.parse_args()
    missing = tools_missing()
    if missing:
        sys.exit(missing)
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server")
    print(f"{os.cpu_count()} cores; {args.clients} clients for {args.seconds} s; "
          f"{args.workers} workers per app server; PgBouncer transaction pooling")  # fmt: skip
    for servers in (1, 2):
        stack = Stack(base, servers=servers, workers=args.workers).start()
        try:
            keys = stack.seed()
            traffic = Traffic(stack.balancer, keys, agents=3)
            threads = traffic.run(args.clients)
            began = time.monotonic()
            time.sleep(args.seconds)
            traffic.stop.set()
            for thread in threads:
                thread.join(timeout=30)
            took = time.monotonic() - began
            requests = sum(traffic.statuses.values())
            counts = counts_match(stack.direct_url())
            same = all(r == w for name, (r, w) in counts.items() if name != "events")
            print(f"{servers} app server(s): {requests / took:7.0f} requests/s "
                  f"({traffic.goals_sent / took:.0f} visitors/s), statuses {traffic.statuses}, "
                  f"reports equal raw rows: {same}")  # fmt: skip
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
