"""The Express target's bundle (SPEC §5 "Local decisions"): what it holds and what it
never holds, caching (ETag, 304, Cache-Control), CORS and refusals; and the warning the
agent-api adds when a visitor's existing assignment overrules a local decision."""

import json

import pytest

from agents.models import AgentStatus
from agents.services import VariationSpec, agent_create, agent_update
from visitors.models import Assignment

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com"


def _bundle(client, target, *, key=None, path_target=None, headers=None, account="ac-acme"):
    key = target.api_key if key is None else key
    return client.get(
        f"/{account}/v3/agent-api/js/{path_target or target.code}?apikey={key}",
        headers=headers or {},
    )


def test_bundle__holds_the_targets_running_and_paused_agents(client, agent, express_target):
    agent_create(
        account=agent.account, code="a-paused", name="Paused", status=AgentStatus.PAUSED,
        variations=[VariationSpec("A"), VariationSpec("B")], paused_variation="B",
        targets=[express_target],
    )  # fmt: skip
    agent_create(
        account=agent.account, code="a-stopped", name="Stopped", status=AgentStatus.STOPPED,
        variations=[VariationSpec("A"), VariationSpec("B")], targets=[express_target],
    )  # fmt: skip
    response = _bundle(client, express_target)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    bundle = response.json()
    assert bundle["target"] == "dt-web"
    assert bundle["vid"] is True
    assert bundle["format"] == 1
    assert sorted(bundle["agents"]) == ["a-hero", "a-paused"]
    assert bundle["agents"]["a-hero"]["variations"] == [
        {"code": "A", "weight": 1.0, "md": {"h": ""}},
        {"code": "B", "weight": 1.0, "md": {"h": "Hi"}},
    ]
    assert bundle["agents"]["a-paused"]["status"] == "paused"
    assert bundle["agents"]["a-paused"]["paused"] == "B"


def test_bundle__holds_no_visitor_data_and_marks_server_only_agents(
    api, client, agent, express_target
):
    api.data(express_target, [{"a": "a-hero"}], session="s-secret-session", vid="lana-secret")
    agent_update(agent=agent, qa=[{"vid": "qa-person", "variation": "B"}])
    agent_create(
        account=agent.account, code="a-returning", name="Returning", status=AgentStatus.RUNNING,
        variations=[VariationSpec("A"), VariationSpec("B")], targets=[express_target],
        eligibility={"source": "goal", "name": "g-purchase", "op": "reached"},
    )  # fmt: skip
    agent_create(
        account=agent.account, code="a-mobile", name="Mobile", status=AgentStatus.RUNNING,
        variations=[VariationSpec("A"), VariationSpec("B")], targets=[express_target],
        rules=[{"name": "m", "when": {"source": "trait", "name": "ua/mo", "op": "eq",
                                       "value": "y"}, "variation": "B"}],
    )  # fmt: skip
    body = _bundle(client, express_target).content.decode()
    for secret in ("s-secret-session", "lana-secret", "qa-person", express_target.api_key):
        assert secret not in body
    agents = json.loads(body)["agents"]
    assert set(agents["a-hero"]) == {"status", "server_only"}
    assert "QA overrides" in agents["a-hero"]["server_only"]
    assert "goals" in agents["a-returning"]["server_only"]
    assert "user agent" in agents["a-mobile"]["server_only"]


def test_bundle__etag_and_304__and_a_change_makes_a_new_etag(client, agent, express_target):
    first = _bundle(client, express_target)
    etag = first["ETag"]
    assert etag.startswith('"')
    assert first["Cache-Control"] == "public, max-age=60"
    # also without an Origin: shared caches keep origins apart, and keys sent in a header
    # (Hardening 2, item 6: a bundle asked with the key in a header was cached by URL alone)
    assert first["Vary"] == "Origin, x-conductrics-apikey"
    again = _bundle(client, express_target, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    weak = _bundle(client, express_target, headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    agent_update(agent=agent, variations=[VariationSpec("A", weight=3), VariationSpec("B")])
    changed = _bundle(client, express_target, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["agents"]["a-hero"]["variations"][0]["weight"] == 3.0


def test_bundle__cors_as_the_target(client, agent, express_target):
    express_target.allowed_origins = [SHOP]
    express_target.save()
    ok = _bundle(client, express_target, headers={"Origin": SHOP})
    assert ok.status_code == 200
    assert ok["Access-Control-Allow-Origin"] == SHOP
    refused = _bundle(client, express_target, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused


@pytest.mark.parametrize(
    ("case", "status"),
    [("rest", 400), ("other target", 403), ("no key", 401), ("bad key", 401),
     ("another account", 403), ("disabled", 403)],
)  # fmt: skip
def test_bundle__refusals_are_clear_4xx(client, agent, express_target, rest_target, case, status):
    target, kwargs = express_target, {}
    if case == "rest":
        target = rest_target
    elif case == "other target":
        kwargs = {"path_target": "dt-server"}
    elif case == "no key":
        kwargs = {"key": ""}
    elif case == "bad key":
        kwargs = {"key": "api-" + "x" * 32}
    elif case == "another account":  # a real key, named under another account
        kwargs = {"account": "ac-nobody"}
    else:
        express_target.enabled = False
        express_target.save()
    response = _bundle(client, target, **kwargs)
    assert response.status_code == status
    assert response.json()["status"] == status
    assert response.json()["err"]


def test_bundle__post_is_405_and_preflight_allows_get(client, agent, express_target):
    url = f"/ac-acme/v3/agent-api/js/dt-web?apikey={express_target.api_key}"
    assert client.post(url, data="{}", content_type="text/plain").status_code == 405
    preflight = client.options(
        url, headers={"origin": SHOP, "access-control-request-method": "GET"}
    )
    assert preflight.status_code == 204
    assert "GET" in preflight["Access-Control-Allow-Methods"]


def test_existing_assignment_overrules_a_restricted_selection__with_a_warning(
    api, agent, express_target
):
    api.data(express_target, [{"a": "a-hero", "c": ["A"]}], session="s-1")
    data = api.data(express_target, [{"a": "a-hero", "c": ["B"]}], session="s-1")
    assert data["items"][0]["c"] == "A"
    assert data["items"][0]["p"] == "s"
    assert data["warnings"] == [
        {"reason": "assignment_kept", "a": "a-hero",
         "detail": "the visitor is assigned A already: kept, whatever c/x ask"},
    ]  # fmt: skip
    excluded = api.data(express_target, [{"a": "a-hero", "x": ["A"]}], session="s-1")
    assert excluded["warnings"][0]["reason"] == "assignment_kept"
    plain = api.data(express_target, [{"a": "a-hero", "c": ["A", "B"]}], session="s-1")
    assert "warnings" not in plain
    assert Assignment.objects.count() == 1
