"""The production recipe of the README, run for real: collectstatic, then gunicorn with
production settings (DEBUG off) serves the JavaScript client and the admin's CSS itself,
and behind the recipe's proxy slow clients stop no one."""

import contextlib
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import rjsmin

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, **headers: str) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - our own server
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return response.status, dict(response.headers), response.read()


@pytest.fixture(scope="module")
def production_env(tmp_path_factory) -> dict[str, str]:
    """The production recipe's environment: DEBUG off, a SQLite file, collected statics."""
    tmp = tmp_path_factory.mktemp("production")
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "production-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp / "static"),
        "WHITENOISE_USE_FINDERS": "false",  # collectstatic's output only, as in production
        "DJANGO_SETTINGS_MODULE": "conductrics_admin.settings",
        # the default of production (the tests' own is 0: each request's sent at once)
        "GOAL_DIAGNOSTICS_FLUSH_SECONDS": "1",
        "RECENT_REQUESTS_FLUSH_SECONDS": "1",
    }


@pytest.fixture(scope="module")
def production_server(production_env):
    if not GUNICORN.exists():
        pytest.fail("gunicorn is a test dependency: pip install -e '.[dev]'")
    env = production_env
    manage = [sys.executable, "manage.py"]
    for command in (["collectstatic", "--noinput"], ["migrate"]):
        subprocess.run([*manage, *command, "-v0"], cwd=ROOT, env=env, check=True)  # noqa: S603
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter's gunicorn, on loopback
        [str(GUNICORN), "-c", "python:conductrics_admin.gunicorn_conf", "conductrics_admin.wsgi",
         "-b", f"127.0.0.1:{port}", "-k", "gthread", "-w", "2", "--threads", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(base + "/admin/login/")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_production__serves_the_javascript_client_compressed_with_cache_headers(
    production_server,
):
    status, headers, body = _get(
        production_server + "/static/conductrics/conductrics.js", **{"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert "max-age=3600" in headers["Cache-Control"]
    source = (ROOT / "static" / "conductrics" / "conductrics.js").read_text(encoding="utf-8")
    assert gzip.decompress(body).decode() == rjsmin.jsmin(source, keep_bang_comments=True)
    assert len(body) <= 8 * 1024  # issue #17: the client at most 8 KB gzipped, as served


def test_production__serves_the_admin_css_its_pages_link(production_server):
    _, _, page = _get(production_server + "/admin/login/")
    assert b"/static/admin/css/base.css" in page
    status, headers, _ = _get(production_server + "/static/admin/css/base.css")
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")


def test_production__favicon_served_at_the_root(production_server):
    """Browsers ask every site for /favicon.ico: an icon, not a 404 in every log."""
    status, headers, body = _get(production_server + "/favicon.ico")
    assert status == 200
    assert headers["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file's header: reserved 0, type 1 (icon)
    assert body[22:30] == b"\x89PNG\r\n\x1a\n"  # its one image, a PNG


# Hardening 2, item 3 (SPEC §10), on the production recipe: Django decodes the query string
# with a Content-Type's charset while it builds the request, before any middleware, so the
# WSGI application gunicorn serves (conductrics_admin.wsgi) is what must hold.
NOT_TEXT_CHARSETS = ["base64", "rot13", "hex", "zlib", "punycode", "undefined", "no-such"]


def _send(url: str, charset: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - our own server
        url,
        data=body,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": f"application/json; charset={charset}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize("charset", NOT_TEXT_CHARSETS)
def test_production__charset_not_text__never_500(production_server, charset):
    for path in ("/healthz?probe=1", "/ac-acme/v3/agent-api?session=s", "/api/schema/?x=1"):
        status, _ = _send(production_server + path, charset)
        assert status < 500, (path, status)
    # the agent-api reads its body as JSON bytes: refused here for its key, not its charset
    status, body = _send(production_server + "/ac-acme/v3/agent-api?session=s", charset, b"[]")
    assert (status, json.loads(body)["status"]) == (401, 401)
    # a body the management API would decode with the charset: 415
    status, body = _send(production_server + "/api/ac-acme/goals/", charset, b'{"name": "B"}')
    assert status == 415, body
    assert "not a text encoding" in json.loads(body)["detail"]


# Hardening 2, item 4 (SPEC §10): a gunicorn worker reads a body itself, so clients that
# trickle bodies hold every worker. The recipe's proxy (conductrics_admin/haproxy.cfg, run
# as it stands) reads whole bodies first: the same trickle through it stops nobody.
HAPROXY_CFG = ROOT / "conductrics_admin" / "haproxy.cfg"
TRICKLERS = 6  # three times the production server's workers


@pytest.fixture(scope="module")
def buffered(production_server, tmp_path_factory):
    haproxy = shutil.which("haproxy", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if haproxy is None:
        if os.environ.get("CI") == "true":
            pytest.fail("haproxy is required in CI: apt-get install haproxy")
        pytest.skip("haproxy not found: apt-get install haproxy")
    port = _free_port()
    env = {**os.environ, "LISTEN": f"127.0.0.1:{port}",
           "APP_SERVER": production_server.removeprefix("http://")}  # fmt: skip
    log = tmp_path_factory.mktemp("haproxy") / "haproxy.log"
    proxy = subprocess.Popen(  # noqa: S603 - the recipe's proxy, on loopback
        [str(haproxy), "-f", str(HAPROXY_CFG), "-db"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"),  # noqa: SIM115
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if _get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proxy.poll() is not None:
                pytest.fail(f"haproxy did not serve: {log.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)


@contextlib.contextmanager
def _trickling(base: str, count: int):
    """`count` connections each sending an agent-api request whose body comes a byte every
    0.2 s, until the block ends."""
    host, port = base.removeprefix("http://").split(":")
    stop = threading.Event()
    head = (
        f"POST /ac-acme/v3/agent-api?session=s HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n["
    ).encode()

    def trickle() -> None:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(head)
            while not stop.wait(0.2):
                try:
                    sock.sendall(b" ")
                except OSError:
                    return

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # every trickler connected and its head forwarded, if it is to be
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)


def test_production__behind_its_proxy__slow_bodies_stop_no_one(buffered):
    with _trickling(buffered, TRICKLERS):
        for _ in range(5):
            started = time.monotonic()
            status, _, _ = _get(buffered + "/healthz")  # 5 s timeout: raises if held
            assert status == 200
            assert time.monotonic() - started < 2.0
        # a whole agent-api request is served too (refused for its key: it reached the app)
        status, body = _send(buffered + "/ac-acme/v3/agent-api?session=s", "utf-8", b"[]")
        assert (status, json.loads(body)["status"]) == (401, 401)


# Hardening 2, item 6: goal diagnostics counted by a worker that then gets no more
# requests stayed unflushed (30 goals sent, the goal page showed 1 until traffic reached
# every worker). Its timer writes them within a second or so (conductrics_admin.buffers).
def test_production__goal_diagnostics_of_idle_workers__written_without_more_traffic(
    production_server, production_env
):
    import sqlite3

    from goals.models import GoalOutcomeCount
    from targets.models import DeployTarget

    subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "-v0"], cwd=ROOT, env=production_env,
        check=True, capture_output=True,
    )  # fmt: skip
    database = production_env["DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(database)) as db:
        [(key,)] = db.execute(
            f"SELECT api_key FROM {DeployTarget._meta.db_table} WHERE code = 'dt-server'"  # noqa: S608
        ).fetchall()
    for i in range(30):
        status, _ = _send(
            f"{production_server}/ac-demo/v3/agent-api?session=s-idle-{i}&apikey={key}",
            "utf-8", b'[{"g": "g-purchase", "v": 1}]',
        )  # fmt: skip
        assert status == 200
    counted, deadline = 0, time.monotonic() + 10
    while counted < 30 and time.monotonic() < deadline:
        time.sleep(0.25)
        with contextlib.closing(sqlite3.connect(database)) as db:
            [(counted,)] = db.execute(
                f"SELECT COALESCE(SUM(count), 0) FROM {GoalOutcomeCount._meta.db_table}"  # noqa: S608
            ).fetchall()
    assert counted == 30
