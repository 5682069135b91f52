"""Drafts and schedules as the agent-api serves them (SPEC §6b): a draft is served to its
QA overrides only; a running agent runs only between its starts_at and ends_at, judged at
each request, for selections and for goals (sent now or late with their event time)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from agents import reasons
from agents.models import AgentStatus
from agents.selection import Action, Who, schedule_describe, schedule_holds, selection_decide
from agents.services import agent_update
from goals.reasons import AGENT_NOT_RUNNING
from runtime.bundle import SERVER_ONLY_QA, SERVER_ONLY_SCHEDULE
from visitors.config import account_conf

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _warning(data, agent="a-hero"):
    return next((w["reason"] for w in data.get("warnings", []) if w.get("a") == agent), None)


def test_draft__served_to_nobody_but_its_qa_overrides(api, agent, express_target):
    agent_update(agent=agent, status=AgentStatus.DRAFT, qa=[{"session": "qa-1", "variation": "B"}])
    data = api.data(express_target, [{"a": "a-hero"}], session="visitor-1")
    assert data["items"] == []
    assert "a-hero" not in data.get("sels", {})
    assert _warning(data) == reasons.AGENT_DRAFT
    qa = api.data(express_target, [{"a": "a-hero"}], session="qa-1")
    assert qa["sels"] == {"a-hero": "B"}
    assert qa["items"][0]["p"] == "f"


def test_draft__goal_is_not_credited(api, agent, express_target, rest_target):
    api.data(express_target, [{"a": "a-hero"}], session="s1", vid="v1")  # running: assigned
    agent_update(agent=agent, status=AgentStatus.DRAFT)
    goal = api.data(rest_target, [{"g": "g-purchase", "v": 5}], session="srv", vid="v1")
    assert goal["items"][0]["s"] == "none"
    assert goal["items"][0]["skipped"][0]["reason"] == AGENT_NOT_RUNNING


@pytest.mark.parametrize(
    ("starts", "ends", "served"),
    [
        (timedelta(hours=1), None, False),  # not started yet
        (None, timedelta(hours=-1), False),  # ended
        (timedelta(hours=-1), timedelta(hours=1), True),  # inside
        (None, timedelta(hours=1), True),
    ],
)
def test_schedule__selection_only_inside(api, agent, express_target, starts, ends, served):
    now = timezone.now()
    agent_update(
        agent=agent,
        starts_at=now + starts if starts is not None else None,
        ends_at=now + ends if ends is not None else None,
    )
    data = api.data(express_target, [{"a": "a-hero"}], session="s1")
    assert ("a-hero" in data.get("sels", {})) is served
    if not served:
        assert _warning(data) == reasons.OUTSIDE_SCHEDULE
        assert "runs " in next(w["detail"] for w in data["warnings"])


def test_schedule__an_assigned_visitor_gets_nothing_after_the_end(api, agent, express_target):
    api.data(express_target, [{"a": "a-hero"}], session="s1")
    agent_update(agent=agent, ends_at=timezone.now() - timedelta(seconds=1))
    data = api.data(express_target, [{"a": "a-hero"}], session="s1")
    assert data["items"] == []
    assert _warning(data) == reasons.OUTSIDE_SCHEDULE


def test_schedule__paused_agent_is_served_whatever_the_schedule(api, agent, express_target):
    agent_update(agent=agent, status=AgentStatus.PAUSED, ends_at=timezone.now() - timedelta(1))
    data = api.data(express_target, [{"a": "a-hero"}], session="s1")
    assert data["items"][0]["p"] == "p"


def test_schedule__goals_count_only_inside_it(api, agent, express_target, rest_target):
    """A goal sent now after the end is not credited; one sent late with an event time
    inside the schedule is."""
    api.data(express_target, [{"a": "a-hero"}], session="s1", vid="v1")
    api.data(express_target, [{"a": "a-hero"}], session="s2", vid="v2")
    happened = timezone.now()
    agent_update(agent=agent, ends_at=happened + timedelta(milliseconds=500))
    later = api.data(
        rest_target,
        [{"g": "g-purchase", "v": 1, "t": happened.isoformat().replace("+00:00", "Z")}],
        session="srv",
        vid="v1",
    )
    assert later["items"][0]["s"] == "ok"
    agent_update(agent=agent, ends_at=timezone.now() - timedelta(seconds=1))
    now = api.data(rest_target, [{"g": "g-purchase", "v": 1}], session="srv", vid="v2")
    assert now["items"][0]["skipped"][0]["reason"] == AGENT_NOT_RUNNING


def test_schedule_holds__start_included_end_excluded():
    hour = timedelta(hours=1)
    assert schedule_holds(T0, T0 + hour, T0)
    assert not schedule_holds(T0, T0 + hour, T0 + hour)
    assert not schedule_holds(T0, None, T0 - timedelta(microseconds=1))
    assert schedule_holds(None, None, T0)
    assert schedule_describe(T0, None) == "from 2026-12-01 09:00 UTC"
    assert schedule_describe(None, None) == "at any time"


def test_selection_decide__schedule_judged_at_the_time_given(agent):
    agent_update(agent=agent, starts_at=T0, ends_at=T0 + timedelta(days=1))
    conf = account_conf(code="ac-acme").agents["a-hero"]
    target_id = next(iter(conf.target_ids))

    def decide(now):
        return selection_decide(
            agent=conf, agent_code="a-hero", target_id=target_id, existing=None, allow=None,
            exclude=(), status=None, now=now, who=Who(identity="s:x", session="x"),
        )  # fmt: skip

    assert decide(T0 - timedelta(seconds=1)).reason == reasons.OUTSIDE_SCHEDULE
    assert decide(T0).action is Action.NEW
    assert decide(T0 + timedelta(days=1)).reason == reasons.OUTSIDE_SCHEDULE


def test_bundle__drafts_left_out_schedules_and_qa_server_only(client, agent, express_target):
    def bundle():
        url = f"/ac-acme/v3/agent-api/js/dt-web?apikey={express_target.api_key}"
        return client.get(url).json()["agents"]

    agent_update(agent=agent, status=AgentStatus.DRAFT)
    assert "a-hero" not in bundle()
    agent_update(agent=agent, qa=[{"session": "qa-1", "variation": "B"}])
    assert bundle()["a-hero"]["server_only"] == SERVER_ONLY_QA
    agent_update(agent=agent, status=AgentStatus.RUNNING, qa=[], ends_at=T0 + timedelta(days=3650))
    assert bundle()["a-hero"]["server_only"] == SERVER_ONLY_SCHEDULE
    agent_update(agent=agent, ends_at=None)
    assert "variations" in bundle()["a-hero"]
