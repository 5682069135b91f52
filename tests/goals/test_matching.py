"""The matching rules as a pure function (the HTTP tests cover them end to end)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from goals import reasons
from goals.matching import goal_match

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)


@dataclass
class G:
    id: int = 1
    trigger: str = "api"
    rest_send: bool = True
    counting: str = "once"
    window_hours: int = 72


@dataclass
class A:
    variation_id: int
    target_kind: str = "express"
    created_at: datetime = NOW - timedelta(hours=1)
    confirmed_at: datetime | None = NOW - timedelta(hours=1)


def _match(assignments, **kwargs):
    args = {
        "goal": G(),
        "target_kind": "rest",
        "agent_running": True,
        "already_credited": False,
        "now": NOW,
    }
    args.update(kwargs)
    return goal_match(assignments=assignments, **args)


def test_match__no_assignment__is_none():
    assert _match([]) is None


def test_match__rules_in_order():
    old = A(1, created_at=NOW - timedelta(hours=100), confirmed_at=NOW - timedelta(hours=100))
    assert _match([A(1)], agent_running=False).reason == reasons.AGENT_NOT_RUNNING
    assert _match([A(1, confirmed_at=None)]).reason == reasons.PROVISIONAL
    assert _match([old]).reason == reasons.OUTSIDE_WINDOW
    future = A(1, created_at=NOW + timedelta(hours=1), confirmed_at=NOW + timedelta(hours=1))
    assert _match([future]).reason == reasons.GOAL_BEFORE_SELECTION
    assert _match([A(1)], goal=G(rest_send=False)).reason == reasons.REST_SEND_NOT_ENABLED
    assert _match([A(1)], already_credited=True).reason == reasons.ALREADY_CREDITED
    assert _match([A(1)], already_credited=True, goal=G(counting="every")).credited


def test_match__earliest_inside_window_wins():
    early = A(1, created_at=NOW - timedelta(hours=5), confirmed_at=NOW - timedelta(hours=5))
    late = A(2, created_at=NOW - timedelta(hours=1), confirmed_at=NOW - timedelta(hours=1))
    assert _match([late, early]).assignment is early


def test_match__earliest_outside_window__next_one_inside_is_credited():
    old = A(1, created_at=NOW - timedelta(hours=80), confirmed_at=NOW - timedelta(hours=80))
    recent = A(2)
    assert _match([old, recent]).assignment is recent


def test_match__rest_send_matters_only_for_express_assignments_on_rest():
    assert _match([A(1, target_kind="rest")], goal=G(rest_send=False)).credited
    assert _match([A(1)], goal=G(rest_send=False), target_kind="express").credited
