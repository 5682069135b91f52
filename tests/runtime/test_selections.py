"""Selections through the HTTP agent-api (SPEC §4 "Assignment")."""

import pytest

from agents import reasons
from agents.models import AgentStatus
from agents.services import VariationSpec, agent_create
from runtime import reasons as warn
from visitors.models import Assignment

pytestmark = pytest.mark.django_db


def _codes(warnings):
    return [w["reason"] for w in warnings]


def test_selection__new_visitor__gets_a_recorded_new_assignment(api, agent, express_target):
    data = api.data(express_target, [{"a": "a-hero"}])
    [item] = data["items"]
    assert set(item) == {"a", "c", "p", "s", "md"}
    assert item["p"] == reasons.POLICY_RANDOM
    assert item["s"] == reasons.STATUS_OK
    assert data["sels"] == {"a-hero": item["c"]}
    row = Assignment.objects.get()
    assert row.variation.code == item["c"]
    assert row.identity == "s:sess-1"
    assert row.confirmed_at is not None
    assert "warnings" not in data


def test_selection__repeat__is_sticky_and_records_nothing_new(api, agent, express_target):
    first = api.data(express_target, [{"a": "a-hero"}])["items"][0]
    second = api.data(express_target, [{"a": "a-hero"}])["items"][0]
    assert second["c"] == first["c"]
    assert second["p"] == reasons.POLICY_STICKY
    assert Assignment.objects.count() == 1


def test_selection__same_vid_on_two_sessions__gets_the_same_variation(api, agent, express_target):
    seen = set()
    for i in range(6):
        item = api.data(express_target, [{"a": "a-hero"}], session=f"s{i}", vid="lana-123")
        seen.add(item["items"][0]["c"])
    assert len(seen) == 1
    assert Assignment.objects.count() == 1
    assert Assignment.objects.get().identity == "v:lana-123"


def test_selection__bucketing_is_by_identity_across_agents_and_deterministic(
    api, agent, express_target
):
    variations = {
        api.data(express_target, [{"a": "a-hero"}], session=f"visitor-{i}")["items"][0]["c"]
        for i in range(40)
    }
    assert variations == {"A", "B"}  # 40 visitors of a 50/50 test see both


def test_selection__express_vid_not_allowed__served_by_session_with_warning(
    api, agent, express_target
):
    express_target.allow_external_vid = False
    express_target.save()
    data = api.data(express_target, [{"a": "a-hero"}], vid="lana-123")
    assert data["items"][0]["c"] in {"A", "B"}
    assert _codes(data["warnings"]) == [warn.VID_IGNORED]
    assert "Allow Passing of External Visitor ID" in data["warnings"][0]["detail"]
    row = Assignment.objects.get()
    assert row.identity == "s:sess-1"
    assert row.vid is None


@pytest.mark.parametrize(
    "vid", ["", "x" * 129, "ab\x01c", "undefined", "NULL", "None", "NaN", "anonymous", "0"]
)
def test_selection__express_invalid_vid__ignored_with_warning(api, agent, express_target, vid):
    data = api.data(express_target, [{"a": "a-hero"}], vid=vid)
    assert _codes(data["warnings"]) == [warn.VID_INVALID]
    assert Assignment.objects.get().identity == "s:sess-1"


def test_selection__paused_agent__answers_paused_variation_and_records_nothing(
    api, agent, express_target
):
    agent.status = AgentStatus.PAUSED
    agent.paused_variation = agent.variations.get(code="B")
    agent.save()
    data = api.data(express_target, [{"a": "a-hero"}])
    assert data["items"] == [{"a": "a-hero", "c": "B", "p": "p", "s": "ok", "md": {"h": "Hi"}}]
    assert not Assignment.objects.exists()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("stopped", reasons.AGENT_STOPPED),
        ("unknown", reasons.UNKNOWN_AGENT),
        ("off_target", reasons.NOT_ON_THIS_TARGET),
    ],
)
def test_selection__no_selection__gives_no_item_and_a_warning(
    api, agent, express_target, change, reason
):
    code = "a-hero"
    if change == "stopped":
        agent.status = AgentStatus.STOPPED
        agent.save()
    elif change == "unknown":
        code = "a-missing"
    else:
        agent.targets.remove(express_target)
    data = api.data(express_target, [{"a": code}])
    assert data["items"] == []
    assert data["sels"] == {}
    assert data["warnings"][0]["reason"] == reason
    assert data["warnings"][0]["a"] == code
    assert not Assignment.objects.exists()


def test_selection__allow_list__restricts_new_assignments(api, agent, express_target):
    for i in range(10):
        item = api.data(express_target, [{"a": "a-hero", "c": ["B"]}], session=f"s{i}")
        assert item["items"][0]["c"] == "B"


def test_selection__exclude_list__restricts_new_assignments(api, agent, express_target):
    for i in range(10):
        item = api.data(express_target, [{"a": "a-hero", "x": ["B"]}], session=f"s{i}")
        assert item["items"][0]["c"] == "A"


def test_selection__nothing_eligible__is_no_eligible_variation(api, agent, express_target):
    data = api.data(express_target, [{"a": "a-hero", "c": ["Z"]}])
    assert data["items"] == []
    assert data["warnings"][0]["reason"] == reasons.NO_ELIGIBLE_VARIATION


def test_selection__provisional_then_confirmed(api, agent, express_target):
    first = api.data(express_target, [{"a": "a-hero", "s": "p"}])["items"][0]
    assert (first["p"], first["s"]) == ("r", "p")
    assert Assignment.objects.get().confirmed_at is None
    plain = api.data(express_target, [{"a": "a-hero"}])["items"][0]
    assert (plain["p"], plain["s"]) == ("s", "p")
    confirmed = api.data(express_target, [{"a": "a-hero", "s": "ok"}])["items"][0]
    assert (confirmed["c"], confirmed["p"], confirmed["s"]) == (first["c"], "s", "ok")
    assert Assignment.objects.get().confirmed_at is not None


def test_selection__metadata__lists_every_key_of_the_agent(api, account, express_target):
    agent_create(
        account=account,
        code="a-md",
        name="Md",
        status=AgentStatus.RUNNING,
        variations=[
            VariationSpec(code="A", weight=1, metadata={"title": "One"}),
            VariationSpec(code="B", weight=0, metadata={"color": "red"}),
        ],
        targets=[express_target],
    )
    item = api.data(express_target, [{"a": "a-md"}])["items"][0]
    assert item["md"] == {"color": "", "title": "One"}


def test_selection__agent_without_metadata__md_is_empty_object(api, account, express_target):
    agent_create(
        account=account,
        code="a-plain",
        name="Plain",
        status=AgentStatus.RUNNING,
        variations=[VariationSpec(code="A"), VariationSpec(code="B")],
        targets=[express_target],
    )
    assert api.data(express_target, [{"a": "a-plain"}])["items"][0]["md"] == {}


def test_selection__traits__are_echoed_and_stored(api, agent, express_target):
    data = api.data(express_target, [{"a": "a-hero"}], traits="tier:gold,region:eu-west")
    assert data["traits"] == ["cust/tier:gold", "cust/region:eu-west"]
    assert Assignment.objects.get().traits == data["traits"]


@pytest.mark.parametrize("traits", ["gold", "tier:", ":gold", "tier:go ld", "t:" + "x" * 65])
def test_selection__express_bad_traits__ignored_with_warning(api, agent, express_target, traits):
    data = api.data(express_target, [{"a": "a-hero"}], traits=traits)
    assert data["traits"] == []
    assert _codes(data["warnings"]) == [warn.TRAITS_INVALID]


def test_selection__inputs__are_accepted(api, agent, express_target):
    data = api.data(express_target, {"commands": [{"a": "a-hero"}], "inputs": {"page": "home"}})
    assert len(data["items"]) == 1


def test_selection__debug__explains_each_decision(api, agent, express_target):
    data = api.data(express_target, [{"a": "a-hero"}, {"a": "a-gone"}], debug="true")
    assert len(data["log"]) == 2
    assert "new assignment" in data["log"][0]
    assert "unknown_agent" in data["log"][1]
    assert "log" not in api.data(express_target, [{"a": "a-hero"}])


def test_selection__weights_changed_later__do_not_move_an_assignment(api, agent, express_target):
    first = api.data(express_target, [{"a": "a-hero"}])["items"][0]["c"]
    for variation in agent.variations.all():
        variation.weight = 1 if variation.code != first else 0
        variation.save()
    assert api.data(express_target, [{"a": "a-hero"}])["items"][0]["c"] == first
