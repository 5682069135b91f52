"""/metrics: Prometheus text, behind a token, bounded labels, exact across gunicorn workers."""

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
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db

TOKEN = "metrics-test-token"
ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _samples(text: str) -> dict:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _scrape(client) -> dict:
    response = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return _samples(response.content.decode())


def _requests(samples, kind, status, reason):
    key = ("conductrics_agent_api_requests_total",
           (("kind", kind), ("reason", reason), ("status", status)))  # fmt: skip
    return samples.get(key, 0.0)


def test_metrics__without_a_token_configured__404(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_metrics__wrong_or_missing_token__401(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"authorization": "Bearer nope"}).status_code == 401


def test_metrics__count_requests_goal_outcomes_and_database_errors(
    client, api, agent, express_target, rest_target, settings
):
    settings.METRICS_TOKEN = TOKEN
    before = _scrape(client)
    api.data(express_target, [{"a": "a-hero"}], session="m", vid="metrics-visitor")
    api.data(rest_target, [{"g": "g-purchase"}], session="srv", vid="metrics-visitor")
    api.call(express_target, [{"a": "a-hero"}], key="api-" + "x" * 32)  # 401
    after = _scrape(client)
    assert _requests(after, "express", "200", "ok") - _requests(before, "express", "200", "ok") == 1
    assert _requests(after, "rest", "200", "ok") - _requests(before, "rest", "200", "ok") == 1
    unauthenticated = ("unauthenticated", "401", "key_unknown")
    assert _requests(after, *unauthenticated) - _requests(before, *unauthenticated) == 1
    credited = ("conductrics_goal_outcomes_total", (("outcome", "credited"),))
    assert after[credited] - before.get(credited, 0.0) == 1
    duration = ("conductrics_agent_api_request_seconds_count", (("kind", "express"),))
    assert after[duration] - before.get(duration, 0.0) == 1


def test_metrics__labels_never_carry_keys_vids_sessions_or_codes(
    client, api, agent, express_target, rest_target, settings
):
    settings.METRICS_TOKEN = TOKEN
    secret_vid, secret_session = "vid-Secret-123", "session-Secret-456"
    api.data(express_target, [{"a": "a-made-up"}, {"g": "g-made-up"}], session=secret_session,
             vid=secret_vid)  # fmt: skip
    api.call(rest_target, [{"g": "g-purchase"}], session=secret_session, vid="%%bad")
    api.call(express_target, [], key="api-" + "S" * 32)
    text = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"}).content.decode()
    for secret in (secret_vid, secret_session, express_target.api_key, "api-SSS", "made-up"):
        assert secret not in text
    from goals.diagnostics import OUTCOMES
    from runtime.metrics import KINDS, REASONS, STATUSES
    from visitors.metrics import PURGED_TABLES

    allowed = {*KINDS, *REASONS, *map(str, STATUSES), *OUTCOMES, *PURGED_TABLES, "other"}
    for metric, labels in _samples(text):
        if not metric.startswith("conductrics_"):
            continue  # the client library's own (process, garbage collector)
        for name, value in labels:
            if name == "le":  # a histogram bucket's bound
                assert float(value) > 0
            else:
                assert value in allowed, (name, value)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_metrics__gunicorn_workers__counts_add_up_across_processes(tmp_path):
    """Requests served by two workers, each replaced after 10 requests (as `--max-requests`
    does in production): /metrics, from whichever worker, counts them all, the exited
    workers' included."""
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "metrics-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "AGENT_API_EXPRESS_RATE": "off",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter's gunicorn, on loopback
        [str(GUNICORN), "-c", "python:conductrics_admin.gunicorn_conf", "conductrics_admin.wsgi",
         "-b", f"127.0.0.1:{port}", "-w", "2", "--max-requests", "10"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    sent = 60

    def call(path, **headers):
        request = urllib.request.Request(base + path, data=b"[]", headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:  # not listening yet
            return None

    try:
        deadline = time.monotonic() + 30
        while call("/ac-nobody/v3/agent-api?session=warm") != 401:
            assert time.monotonic() < deadline
            assert server.poll() is None
            time.sleep(0.2)
        threads = [
            threading.Thread(target=call, args=("/ac-nobody/v3/agent-api?session=s&apikey=x",))
            for _ in range(sent)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        per_process = []  # each process's own count, read from its file alone
        for path in multiproc.glob("counter_*.db"):
            alone = tmp_path / path.stem
            alone.mkdir()
            shutil.copy(path, alone / path.name)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=str(alone))
            counts = _samples(generate_latest(registry).decode())
            per_process.append(_requests(counts, "unauthenticated", "401", "key_unknown"))
        assert len([n for n in per_process if n]) >= 2, per_process  # several processes
        request = urllib.request.Request(  # noqa: S310
            base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            samples = _samples(response.read().decode())
        assert _requests(samples, "unauthenticated", "401", "key_unknown") == sent
        assert _requests(samples, "unauthenticated", "401", "key_missing") >= 1  # the warm-up
    finally:
        server.terminate()
        server.wait(timeout=10)
