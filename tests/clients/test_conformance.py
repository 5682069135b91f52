"""The clients' conformance scenarios (clients/conformance/scenarios.json, SPEC §5b), each
run by the Python client in this process and by the Node.js client in a `node` process,
against the live test server behind a proxy that fails on purpose (`FaultProxy`). What a
runner saw (verdicts, errors, raised errors, selections) and what the database holds are
checked against the scenario's `expect`, the same for both languages."""

import json
import os
import shutil
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import requests

from tests.clients import python_runner
from tests.clients.fault_proxy import FaultProxy
from visitors.models import Credit

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = json.loads((ROOT / "clients/conformance/scenarios.json").read_text())["scenarios"]
NODE_RUNNER = ROOT / "clients/node/scripts/conformance.mjs"


def _node(scenario: dict, config: dict) -> dict:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            raise AssertionError("node not found: CI requires it")
        pytest.skip("node not found (CI requires it)")
    done = subprocess.run(  # noqa: S603 - our own runner
        [node, str(NODE_RUNNER)],
        input=json.dumps({"scenario": scenario, "config": config}),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


RUNNERS = {"python": python_runner.run, "node": _node}


def _closed_url() -> str:
    """A URL on which nothing listens (a port just bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _show(live_server, express_target, vid: str) -> None:
    """Show vid a variation of a-hero on the Express target, as its page would."""
    answer = requests.post(
        f"{live_server.url}/ac-acme/v3/agent-api?apikey={express_target.api_key}"
        f"&session={vid}&vid={vid}",
        data='[{"a": "a-hero"}]', timeout=10,
    ).json()  # fmt: skip
    assert answer["data"]["sels"]["a-hero"] in ("A", "B"), answer


@pytest.mark.parametrize("language", list(RUNNERS))
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario(scenario, language, live_server, agent, express_target, rest_target):
    for vid in scenario["visitors"]:
        _show(live_server, express_target, vid)
    with FaultProxy(live_server.url, scenario["faults"]) as proxy:
        config = {
            "proxy_url": proxy.url,
            "closed_url": _closed_url(),
            "account": "ac-acme",
            "keys": {
                "rest": rest_target.api_key,
                "express": express_target.api_key,
                "wrong": "not-a-key-of-this-account",
            },
        }
        seen = RUNNERS[language](scenario, config)
    expect = scenario["expect"]
    verdicts = seen["verdicts"]
    if "credits" in expect:
        assert Credit.objects.count() == expect["credits"], seen
    if "verdicts" in expect:
        assert dict(Counter(v["s"] for v in verdicts)) == expect["verdicts"], seen
    if "replays_at_least" in expect:
        assert sum(v["replay"] for v in verdicts) >= expect["replays_at_least"], seen
    if "errors" in expect:
        assert dict(Counter(e["reason"] for e in seen["errors"])) == expect["errors"], seen
    if "raised" in expect:
        assert dict(Counter(seen["raised"])) == expect["raised"], seen
    if "selections" in expect:
        assert len(seen["selections"]) == len(expect["selections"]), seen
        for got, wanted in zip(seen["selections"], expect["selections"], strict=True):
            assert got in ("A", "B") if wanted == "*" else got == wanted, seen
    if expect.get("t_echoes_at"):
        assert verdicts, seen
        assert all(v["t"] == v["at"] for v in verdicts), seen
    if expect.get("faults_used"):
        assert proxy.used == scenario["faults"], (proxy.used, seen)
    if "requests" in expect:
        assert proxy.requests == expect["requests"], seen


def _readme_block(language: str) -> str:
    """The README's example of a client in `language` (its "Send goals from your server")."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Send goals from your server", 1)[1].split("\n## ", 1)[0]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def _readme_runnable(code: str, live_server, rest_target) -> str:
    return (
        code.replace("https://experiments.example.com", live_server.url)
        .replace("api-...a REST target's key...", rest_target.api_key)
        .replace("ac-demo", "ac-acme")
    )


def test_readme_examples__run_as_written__goal_credited_once_each(
    live_server, agent, express_target, rest_target, tmp_path
):
    """The README's Python and Node.js examples, run against the live server with its URL
    and key put in: each credits its purchase (the same order id: once in all) and
    selects a variation."""
    _show(live_server, express_target, "lana-123")
    python = _readme_runnable(_readme_block("python"), live_server, rest_target)
    python += "\nprint('variation', variation)\n"
    done = subprocess.run(  # noqa: S603 - this interpreter and the README's code
        [sys.executable, "-c", python], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert " ok " in done.stdout, done.stdout
    assert "variation " in done.stdout, done.stdout
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            raise AssertionError("node not found: CI requires it")
        pytest.skip("node not found (CI requires it)")
    script = tmp_path / "example.mjs"
    js = _readme_runnable(_readme_block("js"), live_server, rest_target)
    module = (ROOT / "clients/node/index.js").as_uri()
    script.write_text(js.replace('"conductrics-client"', json.dumps(module)))
    done = subprocess.run(  # noqa: S603 - node and the README's code
        [node, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[1:] == ["ok"], done.stdout  # the order id: a replay, still ok
    assert Credit.objects.count() == 1
