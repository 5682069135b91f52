"""Sizes of local decisions (SPEC §5, issue #17): the browser client as `collectstatic`
serves it (minified, gzip) at most 8 KB, and still passing the shared test vectors; the
bundle of a target with 20 agents with rules at most 10 KB gzipped."""

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from agents.models import AgentStatus
from agents.services import VariationSpec, agent_create

CLIENT_GZIP_MAX = 8 * 1024
BUNDLE_GZIP_MAX = 10 * 1024
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def collected(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", "--noinput", verbosity=0)
    return settings.STATIC_ROOT / "conductrics"


def test_client_as_served__minified_gzip_at_most_8_kb(collected):
    source = (ROOT / "static" / "conductrics" / "conductrics.js").read_bytes()
    served = (collected / "conductrics.js").read_bytes()
    compressed = (collected / "conductrics.js.gz").read_bytes()
    assert len(served) < len(source) * 0.8  # minified: comments and spaces gone
    assert gzip.decompress(compressed) == served
    assert len(compressed) <= CLIENT_GZIP_MAX, f"{len(compressed)} bytes gzipped"


def test_client_as_served__passes_the_shared_vectors(collected):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required: the client's vectors run on the minified build")
    result = subprocess.run(  # noqa: S603 - our own test file, with the system's node
        [node, "--test", str(ROOT / "tests" / "js" / "local_decisions.test.js")],
        env={"CONDUCTRICS_JS": str(collected / "conductrics.js"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "# fail 0" in result.stdout


def _rules(n: int) -> list[dict]:
    return [
        {
            "name": f"rule {n}.{i}",
            "when": {
                "all": [
                    {"source": "input", "name": f"plan{i}", "op": "in", "values": ["pro", "team"]},
                    {"source": "trait", "name": "cust/tier", "op": "ne", "value": f"tier-{i}"},
                    {"source": "random", "op": "lte", "value": 20 + i},
                ]
            },
            "variation": "C",
        }  # fmt: skip
        for i in range(3)
    ]


@pytest.mark.django_db
def test_bundle_of_20_agents_with_rules__at_most_10_kb_gzipped(client, account, express_target):
    for n in range(20):
        agent_create(
            account=account, code=f"a-test-number-{n:02d}", name=f"Test {n}",
            status=AgentStatus.RUNNING, targets=[express_target],
            variations=[
                VariationSpec("A", metadata={"headline": "Find your next adventure"}),
                VariationSpec("B", metadata={"headline": "Adventures sell out fast"}),
                VariationSpec("C", weight=0, metadata={"headline": "Members save 10%"}),
            ],
            eligibility={"any": [
                {"source": "target", "op": "eq", "value": "dt-web"},
                {"source": "input", "name": "country", "op": "in", "values": ["DE", "FR", "US"]},
            ]},
            rules=_rules(n),
        )  # fmt: skip
    response = client.get(f"/ac-acme/v3/agent-api/js/dt-web?apikey={express_target.api_key}")
    body = response.content
    assert len(response.json()["agents"]) == 20
    assert all("server_only" not in a for a in response.json()["agents"].values())
    compressed = len(gzip.compress(body, 9))
    assert compressed <= BUNDLE_GZIP_MAX, f"{compressed} bytes gzipped ({len(body)} raw)"
