"""The shared test vectors of local decisions (SPEC §5), on the server's side.

`tests/vectors/local_decisions.json` holds cases written by hand and the server's answers
to them: the hash, the identity, traits, inputs, numbers, conditions, the bundle of its
configuration, and whole decisions made through the agent-api. These tests compute every
answer again and compare; `node --test tests/js/local_decisions.test.js` makes the
browser client's JavaScript pass the same file. After a deliberate change of behaviour,
`UPDATE_VECTORS=1 pytest tests/runtime/test_local_vectors.py` writes the new answers
(then read the diff: it is the change both sides must agree on).
"""

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.http import QueryDict
from django.utils.dateparse import parse_datetime

from agents.bucketing import bucket_point, random_number, variation_pick
from agents.models import AgentStatus
from agents.services import MemberSpec, VariationSpec, agent_create, group_create
from goals.services import goal_create
from runtime.errors import AgentApiError
from runtime.parsing import request_parse
from targeting.conditions import (
    BROWSER_SOURCES,
    Facts,
    condition_check,
    condition_holds,
    number_read,
)
from targets.models import TargetKind
from targets.services import target_create
from visitors.config import TargetConf

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "local_decisions.json"
UPDATE = os.environ.get("UPDATE_VECTORS") == "1"
DATA = json.loads(VECTORS.read_text(encoding="utf-8"))


def _settle(section: str, key: str, answers: list) -> None:
    """Compare the server's answers with the file's (or write them, with UPDATE_VECTORS=1)."""
    cases = DATA[section]
    assert len(answers) == len(cases)
    if UPDATE:
        for case, answer in zip(cases, answers, strict=True):
            case[key] = answer
        VECTORS.write_text(json.dumps(DATA, ensure_ascii=False, indent=1) + "\n", "utf-8")
        return
    wrong = [
        (i, case, answer)
        for i, (case, answer) in enumerate(zip(cases, answers, strict=True))
        if key not in case or case[key] != answer
    ]
    assert not wrong, f"{len(wrong)} of {len(cases)} {section} vectors differ, e.g. {wrong[:3]}"


def _target(*, vid_allowed: bool = True) -> TargetConf:
    return TargetConf(
        id=1, code="dt-web", kind=TargetKind.EXPRESS, api_key="", enabled=True,
        allow_external_vid=vid_allowed, allowed_origins=(),
    )  # fmt: skip


def _parse(*, session="s-abc", vid=None, traits=None, inputs=None, vid_allowed=True):
    params = QueryDict(mutable=True)
    params["session"] = session
    if vid is not None:
        params["vid"] = vid
    if traits is not None:
        params["traits"] = traits
    body = {"commands": []} if inputs is None else {"commands": [], "inputs": inputs}
    return request_parse(
        params=params, body=json.dumps(body).encode(), target=_target(vid_allowed=vid_allowed)
    ).visitor


def test_sha256():
    _settle(
        "sha256", "hex", [hashlib.sha256(c["text"].encode()).hexdigest() for c in DATA["sha256"]]
    )


def test_bucket_points():
    _settle(
        "bucket",
        "point",
        [bucket_point(agent_code=c["code"], identity=c["identity"]) for c in DATA["bucket"]],
    )


def test_weighted_picks():
    answers = []
    for case in DATA["pick"]:
        options = [SimpleNamespace(weight=w, index=i) for i, w in enumerate(case["weights"])]
        picked = variation_pick(
            agent_code=case["code"], identity=case["identity"], variations=options
        )
        answers.append(None if picked is None else picked.index)
    _settle("pick", "index", answers)


def test_random_numbers():
    answers = [random_number(agent_code=c["code"], identity=c["identity"]) for c in DATA["random"]]
    assert all(1 <= n <= 100 for n in answers)
    _settle("random", "number", answers)


def test_identity():
    answers = [
        _parse(session=c["session"], vid=c["vid"], vid_allowed=c["vid_allowed"]).identity
        for c in DATA["identity"]
    ]
    _settle("identity", "identity", answers)


def test_traits():
    _settle("traits", "facts", [_parse(traits=c["raw"]).trait_values() for c in DATA["traits"]])


def test_inputs():
    answers = []
    for case in DATA["inputs"]:
        try:
            answers.append(dict(_parse(inputs=case["inputs"]).inputs))
        except AgentApiError as exc:  # refused as a whole (400): the client never sends them
            answers.append({} if exc.status_code == 400 else {"status": exc.status_code})
    _settle("inputs", "facts", answers)


def test_numbers():
    _settle("numbers", "number", [number_read(c["value"]) for c in DATA["numbers"]])


def test_conditions():
    answers = []
    for case in DATA["conditions"]:
        condition_check(case["when"], path="when", sources=BROWSER_SOURCES)
        identity = case["identity"]
        facts = Facts(
            target=case["target"],
            now=datetime(2026, 1, 1, tzinfo=UTC),
            random=lambda code, identity=identity: random_number(
                agent_code=code, identity=identity
            ),
            inputs=case["inputs"],
            traits=case["traits"],
        )
        answers.append(condition_holds(case["when"], facts, case["agent"]))
    assert 0.2 < sum(answers) / len(answers) < 0.8  # the cases hit both outcomes
    _settle("conditions", "holds", answers)


# --- the bundle and whole decisions, through the agent-api ---------------------------------


@pytest.fixture
def vector_config(account):
    """The file's configuration, saved in `account`: its targets, agents and group."""
    config = DATA["config"]
    targets = {
        code: target_create(
            account=account,
            code=code,
            name=code,
            kind=TargetKind.EXPRESS,
            allow_external_vid=config["vid"],
        )  # fmt: skip
        for code in (config["target"], "dt-other")
    }
    goal_create(account=account, code="g-signup", name="Sign-up")
    agents = {}
    for spec in config["agents"]:
        agents[spec["code"]] = agent_create(
            account=account,
            code=spec["code"],
            name=spec["code"],
            status=spec.get("status", AgentStatus.RUNNING),
            paused_variation=spec.get("paused"),
            variations=[
                VariationSpec(v["code"], weight=v["weight"], metadata=v.get("md", {}))
                for v in spec["variations"]
            ],
            targets=[targets[t] for t in spec.get("targets", [config["target"]])],
            eligibility=spec.get("eligibility"),
            rules=spec.get("rules", ()),
            qa=spec.get("qa", ()),
            starts_at=parse_datetime(spec["starts_at"]) if "starts_at" in spec else None,
        )
    for group in config["groups"]:
        group_create(
            account=account,
            code=group["code"],
            name=group["code"],
            members=[MemberSpec(agents[code], weight) for code, weight in group["members"]],
        )
    return targets[config["target"]]


def _select(api, target, case, commands):
    body = {"commands": commands}
    if case.get("inputs") is not None:
        body["inputs"] = case["inputs"]
    params = {key: case.get(key) for key in ("vid", "traits")}  # None: not sent
    return api.data(target, None, session=case["session"], raw=json.dumps(body), **params)


def test_bundle(client, vector_config):
    response = client.get(f"/ac-acme/v3/agent-api/js/dt-web?apikey={vector_config.api_key}")
    assert response.status_code == 200
    bundle = response.json()
    expected = DATA.get("bundle", {})
    if UPDATE:
        DATA["bundle"] = bundle
        VECTORS.write_text(json.dumps(DATA, ensure_ascii=False, indent=1) + "\n", "utf-8")
        return
    assert {**bundle, "version": None} == {**expected, "version": None}
    assert set(bundle["agents"]) == {
        a["code"]
        for a in DATA["config"]["agents"]
        if a.get("status") not in ("stopped", "draft") and "targets" not in a
    }


def test_decisions(api, vector_config):
    answers = []
    for case in DATA["decisions"]:
        command = {"a": case["agent"]}
        for key in ("c", "x"):
            if key in case:
                command[key] = case[key]
        if "before" in case:  # the visitor holds this assignment already
            _select(api, vector_config, case, [{"a": case["agent"], "c": [case["before"]]}])
        data = _select(api, vector_config, case, [command])
        item = next((i for i in data["items"] if i.get("a") == case["agent"]), None)
        if item is not None:
            answers.append({"variation": item["c"], "policy": item["p"]})
        else:
            reasons = [w["reason"] for w in data.get("warnings", []) if w.get("a") == case["agent"]]
            answers.append({"none": reasons[0]})
    seen = {json.dumps(a, sort_keys=True) for a in answers}
    assert len(seen) > 10  # variations, policies and reasons of every kind
    _settle("decisions", "expect", answers)
