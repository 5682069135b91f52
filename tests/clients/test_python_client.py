"""Unit tests of the Python server-side client (clients/python) against a small recording
server in this process; the conformance scenarios against the product are in
test_conformance.py."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conductrics_client import (
    Client,
    ClientClosedError,
    QueueFullError,
    backoff_seconds,
)
from conductrics_client._client import _retry_after


class Recorder:
    """A goal-events endpoint that credits every event, once per event id; `script` holds
    answers (status, headers) to give first."""

    def __init__(self, script=()):
        self.script = list(script)
        self.requests = []
        self.ids = set()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.requests.append((self.path, self.headers, body))
                if recorder.script:
                    status, headers = recorder.script.pop(0)
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    data = json.dumps({"status": status, "err": "scripted"}).encode()
                else:
                    data = json.dumps(recorder.answer(body)).encode()
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, body):
        items = []
        for i, event in enumerate(json.loads(body)["events"]):
            replay = event["id"] in self.ids
            self.ids.add(event["id"])
            items.append({"g": event["g"], "s": "ok", "rs": [], "t": event["t"], "i": i,
                          **({"replay": True} if replay else {})})  # fmt: skip
        return {"status": 200, "data": {"items": items}}

    def events(self):
        return [e for _, _, body in self.requests for e in json.loads(body).get("events", [])]


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.server.shutdown()


def test_retry_after__seconds_or_http_date():
    assert _retry_after("3") == 3.0
    later = _retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=10)))
    assert 8 < later <= 10
    assert _retry_after("soon") is None
    assert _retry_after(None) is None


def test_backoff__grows_capped_and_never_under_retry_after():
    for attempt in range(1, 20):
        ceiling = min(60.0, 0.5 * 2 ** (attempt - 1))
        assert ceiling / 2 <= backoff_seconds(attempt) <= ceiling
    assert backoff_seconds(1, 5.0) == 5.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # neither vid nor session
        {"vid": ""},
        {"vid": "a\x00b"},
        {"vid": "x" * 129},
        {"vid": "v", "value": -1},
        {"vid": "v", "value": float("nan")},
        {"vid": "v", "value": True},
        {"vid": "v", "at": datetime(2026, 12, 1)},  # naive: which time zone?  # noqa: DTZ001
        {"vid": "v", "at": "yesterday"},
    ],
)
def test_goal__bad_arguments__raise_and_queue_nothing(kwargs):
    client = Client("http://127.0.0.1:9", "ac", "k")
    with pytest.raises(ValueError):  # noqa: PT011 - each names its argument
        client.goal("g-buy", **kwargs)
    assert client.queued == 0
    client.close(0)


def test_goal__batched_at_send_at__ids_times_key_header(recorder):
    verdicts = []
    client = Client(recorder.url, "ac-shop", "key-1", send_at=3, send_every=60,
                    on_verdict=verdicts.append)  # fmt: skip
    at = datetime(2026, 12, 1, 11, 0, 0, 250000, tzinfo=timezone(timedelta(hours=1)))
    client.goal("g-buy", vid="v1", value=9.5, event_id="order-1", at=at)
    client.goal("g-buy", vid="v2")
    client.goal("g-buy", session="s3")
    assert client.flush(5)
    (path, headers, body), = recorder.requests  # fmt: skip
    assert path == "/ac-shop/v3/goal-events"
    assert headers["x-conductrics-apikey"] == "key-1"
    events = json.loads(body)["events"]
    assert events[0] == {"g": "g-buy", "id": "order-1", "t": "2026-12-01T10:00:00.250Z",
                         "vid": "v1", "v": 9.5}  # fmt: skip
    assert len({e["id"] for e in events}) == 3
    assert [v.goal.event_id for v in verdicts][0] == "order-1"
    assert client.close()


def test_goal__sent_within_send_every_without_flush(recorder):
    client = Client(recorder.url, "ac", "k", send_every=0.2)
    client.goal("g-buy", vid="v1")
    deadline = time.monotonic() + 5
    while not recorder.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(recorder.events()) == 1
    client.close()


def test_refused__reported_once_not_retried():
    recorder = Recorder(script=[(401, {})])
    errors = []
    client = Client(recorder.url, "ac", "bad", on_error=errors.append)
    client.goal("g-buy", vid="v1")
    client.close(5)
    assert len(recorder.requests) == 1
    assert [(e.reason, e.status, e.detail) for e in errors] == [("refused", 401, "scripted")]


def test_503__retried_after_retry_after__same_event_ids():
    recorder = Recorder(script=[(503, {"Retry-After": "1"})])
    verdicts = []
    client = Client(recorder.url, "ac", "k", on_verdict=verdicts.append)
    began = time.monotonic()
    client.goal("g-buy", vid="v1")
    assert client.close(10)
    assert time.monotonic() - began >= 1.0
    first, second = (json.loads(b)["events"] for _, _, b in recorder.requests)
    assert first == second
    assert len(verdicts) == 1


def test_full_queue__raises__close_reports_what_was_left():
    errors = []
    client = Client("http://127.0.0.1:9", "ac", "k", max_queue=2, send_every=60,
                    on_error=errors.append)  # fmt: skip
    client.goal("g-buy", vid="v1")
    client.goal("g-buy", vid="v2")
    with pytest.raises(QueueFullError):
        client.goal("g-buy", vid="v3")
    assert client.close(0.3) is False
    assert [e.reason for e in errors] == ["not_sent", "not_sent"]
    with pytest.raises(ClientClosedError):
        client.goal("g-buy", vid="v4")


def test_context_manager__closes(recorder):
    with Client(recorder.url, "ac", "k", send_every=60) as client:
        client.goal("g-buy", vid="v1")
    assert len(recorder.events()) == 1


def test_thread_safe__goals_from_many_threads_each_sent_once(recorder):
    client = Client(recorder.url, "ac", "k", send_at=50)

    def send(n):
        for i in range(200):
            client.goal("g-buy", vid=f"t{n}-{i}")

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.close(20)
    events = recorder.events()
    assert len(events) == 1600
    assert len({e["id"] for e in events}) == 1600


CHILD = """
import os, sys, time
from conductrics_client import Client
client = Client(sys.argv[1], "ac", "k", send_every=60, send_at=1000)
mode = sys.argv[2]
for i in range(5):
    client.goal("g-buy", vid=f"early-{i}")
if mode == "kill":
    client.flush(10)  # the five early goals are answered
    for i in range(7):
        client.goal("g-buy", vid=f"late-{i}")  # queued, never sent
    os.kill(os.getpid(), 9)
elif mode == "exit":
    for i in range(7):
        client.goal("g-buy", vid=f"late-{i}")
    # the program ends: the client is closed at exit and sends the twelve
elif mode == "fork":
    pid = os.fork()
    if pid == 0:  # a forked worker: its own queue and sender
        client.goal("g-buy", vid="child-0")
        client.close(10)
        os._exit(0)
    os.waitpid(pid, 0)
    client.close(10)
"""


def _child(recorder, mode, python=sys.executable, env=None):
    return subprocess.run(  # noqa: S603 - an interpreter and a script of this test
        [python, "-c", CHILD, recorder.url, mode],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip


def test_killed_process__loses_at_most_what_was_queued(recorder):
    done = _child(recorder, "kill")
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert sorted(e["vid"] for e in recorder.events()) == [f"early-{i}" for i in range(5)]


def test_process_exit__closes_the_client__nothing_lost(recorder):
    done = _child(recorder, "exit")
    assert done.returncode == 0, done.stderr
    assert len(recorder.events()) == 12


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_fork__child_sends_its_own__parent_its_own__none_twice(recorder):
    done = _child(recorder, "fork")
    assert done.returncode == 0, done.stderr
    vids = sorted(e["vid"] for e in recorder.events())
    assert vids == ["child-0"] + [f"early-{i}" for i in range(5)]


CLIENT_SOURCE = Path(__file__).resolve().parents[2] / "clients" / "python"
# the oldest Python the client supports and the newest on this kind of machine (pyenv's)
PYENV = Path("/root/.pyenv/versions")
OTHER_PYTHONS = sorted(str(p) for v in ("3.9", "3.13") for p in PYENV.glob(f"{v}.*/bin/python3"))


@pytest.mark.skipif(not OTHER_PYTHONS, reason="no Python 3.9 or 3.13 here (pyenv's)")
@pytest.mark.parametrize("python", OTHER_PYTHONS)
@pytest.mark.parametrize("mode", ["exit", "fork"])
def test_other_pythons__the_client_from_source__nothing_lost(recorder, python, mode):
    """The client as it stands in clients/python (standard library only), under the oldest
    Python it supports and the newest here."""
    env = {**os.environ, "PYTHONPATH": str(CLIENT_SOURCE)}
    done = _child(recorder, mode, python=python, env=env)
    assert done.returncode == 0, done.stderr
    assert len(recorder.events()) == (12 if mode == "exit" else 6)


def test_limits__the_same_as_the_servers():
    """The clients cannot import the server's values (each is its own package): they are
    checked here against them, the Node.js client's read from its source."""
    from conductrics_client import _client

    from runtime.authentication import KEY_HEADER_NAME
    from runtime.parsing import MAX_BATCH_BYTES, MAX_EVENTS
    from visitors.request import MAX_ID_LENGTH

    assert (_client.BATCH_MAX_EVENTS, _client.BATCH_MAX_BYTES) == (MAX_EVENTS, MAX_BATCH_BYTES)
    assert _client.KEY_HEADER == KEY_HEADER_NAME
    assert _client.MAX_TEXT == MAX_ID_LENGTH
    node = (CLIENT_SOURCE.parent / "node" / "index.js").read_text()
    assert f"const BATCH_MAX_EVENTS = {MAX_EVENTS};" in node
    assert f"const BATCH_MAX_BYTES = {MAX_BATCH_BYTES // 1024} * 1024;" in node
    assert f'const KEY_HEADER = "{KEY_HEADER_NAME}";' in node
    assert f"const MAX_TEXT = {MAX_ID_LENGTH};" in node
