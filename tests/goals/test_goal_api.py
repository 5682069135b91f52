"""Goals through the HTTP agent-api: matching by External Visitor ID, every skip and refusal."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from agents.models import AgentStatus
from goals import reasons
from goals.event_time import event_time_shown
from goals.models import GoalCounting, GoalTrigger
from goals.services import goal_create
from visitors.models import Assignment, Credit, GoalEvent

pytestmark = pytest.mark.django_db

PURCHASE = [{"g": "g-purchase", "v": 19.99}]


def _select(api, target, *, session="page-session", vid="lana-123", **kwargs):
    return api.data(target, [{"a": "a-hero"}], session=session, vid=vid, **kwargs)["items"][0]


def _goal(api, target, commands=PURCHASE, *, session="lana-123", vid="lana-123", **kwargs):
    return api.data(target, commands, session=session, vid=vid, **kwargs)["items"]


def test_seed_scenario__rest_goal_by_vid__credits_the_variation_seen_in_the_browser(
    api, agent, express_target, rest_target
):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        seen = _select(api, express_target)["c"]
        clock.shift(timedelta(hours=1))
        [item] = _goal(api, rest_target)
        assert item == {
            "g": "g-purchase",
            "s": "ok",
            "rs": [{"a": "a-hero", "c": seen, "v": 19.99}],
            "skipped": [],
            "t": event_time_shown(timezone.now()),  # no t sent: the arrival time, echoed
        }
        credit = Credit.objects.get()
        assert credit.variation.code == seen
        assert credit.value == pytest.approx(19.99)
        assert credit.channel == "server"
        clock.shift(timedelta(hours=73))
        [late] = _goal(api, rest_target, session="lana-123-later")
        assert late["s"] == reasons.STATUS_NONE
        assert late["skipped"][0]["reason"] in {reasons.OUTSIDE_WINDOW, reasons.ALREADY_CREDITED}


def test_goal__73_hours_after_selection__is_outside_window(api, agent, express_target, rest_target):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        seen = _select(api, express_target)["c"]
        clock.shift(timedelta(hours=73))
        [item] = _goal(api, rest_target)
    assert item["s"] == reasons.STATUS_NONE
    assert item["rs"] == []
    assert item["skipped"] == [{"a": "a-hero", "c": seen, "reason": reasons.OUTSIDE_WINDOW}]
    assert not Credit.objects.exists()
    assert GoalEvent.objects.count() == 1


def test_goal__exactly_72_hours_after__is_still_credited(api, agent, express_target, rest_target):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _select(api, express_target)
        clock.shift(timedelta(hours=72))
        assert _goal(api, rest_target)[0]["s"] == reasons.STATUS_OK


def test_goal__own_window__overrides_the_account(
    api, agent, express_target, rest_target, purchase_goal
):
    purchase_goal.attribution_window_hours = 2
    purchase_goal.save()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _select(api, express_target)
        clock.shift(timedelta(hours=3))
        assert _goal(api, rest_target)[0]["skipped"][0]["reason"] == reasons.OUTSIDE_WINDOW


def test_goal__dated_before_the_selection__is_goal_before_selection(
    api, agent, express_target, rest_target
):
    start = timezone.now()
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        _select(api, express_target)
    with time_machine.travel(start, tick=False):
        [item] = _goal(api, rest_target)
    assert item["skipped"][0]["reason"] == reasons.GOAL_BEFORE_SELECTION


def test_goal__counted_once__second_is_already_credited(api, agent, express_target, rest_target):
    _select(api, express_target)
    assert _goal(api, rest_target)[0]["s"] == reasons.STATUS_OK
    [second] = _goal(api, rest_target)
    assert second["s"] == reasons.STATUS_NONE
    assert second["skipped"][0]["reason"] == reasons.ALREADY_CREDITED
    assert Credit.objects.count() == 1
    assert GoalEvent.objects.count() == 2


def test_goal__counted_every__credits_each_event(
    api, agent, express_target, rest_target, purchase_goal
):
    purchase_goal.counting = GoalCounting.EVERY
    purchase_goal.save()
    _select(api, express_target)
    items = _goal(api, rest_target, [{"g": "g-purchase", "v": 10}, {"g": "g-purchase", "v": 5}])
    assert [i["rs"][0]["v"] for i in items] == [10, 5]
    assert sorted(c.value for c in Credit.objects.all()) == [5, 10]


def test_goal__value__defaults_to_1_and_is_capped(
    api, agent, express_target, rest_target, purchase_goal
):
    purchase_goal.counting = GoalCounting.EVERY
    purchase_goal.max_value = 50
    purchase_goal.save()
    _select(api, express_target)
    items = _goal(api, rest_target, [{"g": "g-purchase"}, {"g": "g-purchase", "v": 80}])
    assert [i["rs"][0]["v"] for i in items] == [1, 50]


@pytest.mark.parametrize("raw_v", ["-1", "NaN", "Infinity", "1e999", "-0.5"])
def test_goal__bad_number__is_invalid_value_item(api, agent, express_target, rest_target, raw_v):
    _select(api, express_target)
    response = api.call(
        rest_target,
        None,
        session="lana-123",
        vid="lana-123",
        raw='[{"g": "g-purchase", "v": ' + raw_v + '}, {"a": "a-hero"}]',
    )
    assert response.status_code == 200
    item = response.json()["data"]["items"][0]
    assert item == {"g": "g-purchase", "s": "err", "err": reasons.INVALID_VALUE, "rs": []}
    assert not GoalEvent.objects.exists()


def test_goal__unknown__is_unknown_goal_item(api, agent, rest_target):
    data = api.data(rest_target, [{"g": "g-nope"}], session="x")
    assert data["items"] == [{"g": "g-nope", "s": "err", "err": reasons.UNKNOWN_GOAL, "rs": []}]
    assert data["warnings"][0]["g"] == "g-nope"


def test_goal__page_event_goal_on_rest_target__is_not_an_api_goal(api, account, agent, rest_target):
    goal_create(account=account, code="g-click", name="Click", trigger=GoalTrigger.PAGE_EVENT)
    [item] = api.data(rest_target, [{"g": "g-click"}], session="x")["items"]
    assert item["err"] == reasons.NOT_AN_API_GOAL


def test_goal__agent_paused_after_selection__is_agent_not_running(
    api, agent, express_target, rest_target
):
    _select(api, express_target)
    agent.status = AgentStatus.PAUSED
    agent.save()
    [item] = _goal(api, rest_target)
    assert item["skipped"][0]["reason"] == reasons.AGENT_NOT_RUNNING


def test_goal__provisional_selection__is_skipped_until_confirmed(
    api, agent, express_target, rest_target
):
    api.data(express_target, [{"a": "a-hero", "s": "p"}], session="p", vid="lana-123")
    assert _goal(api, rest_target)[0]["skipped"][0]["reason"] == reasons.PROVISIONAL
    api.data(express_target, [{"a": "a-hero", "s": "ok"}], session="p", vid="lana-123")
    assert _goal(api, rest_target)[0]["s"] == reasons.STATUS_OK


def test_goal__window_of_a_confirmed_provisional_starts_at_confirmation(
    api, agent, express_target, rest_target
):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        api.data(express_target, [{"a": "a-hero", "s": "p"}], session="p", vid="lana-123")
        clock.shift(timedelta(hours=70))
        api.data(express_target, [{"a": "a-hero", "s": "ok"}], session="p", vid="lana-123")
        clock.shift(timedelta(hours=70))
        assert _goal(api, rest_target)[0]["s"] == reasons.STATUS_OK


def test_goal__rest_send_off__is_rest_send_not_enabled(
    api, agent, express_target, rest_target, purchase_goal
):
    purchase_goal.rest_send = False
    purchase_goal.save()
    _select(api, express_target)
    [item] = _goal(api, rest_target)
    assert item["skipped"][0]["reason"] == reasons.REST_SEND_NOT_ENABLED


def test_goal__rest_send_off__still_credits_an_assignment_made_on_rest(
    api, agent, rest_target, purchase_goal
):
    purchase_goal.rest_send = False
    purchase_goal.save()
    api.data(rest_target, [{"a": "a-hero"}], session="srv", vid="lana-123")
    assert _goal(api, rest_target)[0]["s"] == reasons.STATUS_OK


def test_goal__no_selection_for_visitor__is_none_with_empty_skipped(api, agent, rest_target):
    [item] = _goal(api, rest_target, vid="somebody-else", session="somebody-else")
    assert item.pop("t")  # the arrival time (echoed on a REST target)
    assert item == {"g": "g-purchase", "s": "none", "rs": [], "skipped": []}


def test_goal__rest_vid_not_allowed__is_403_and_records_nothing(
    api, agent, express_target, rest_target
):
    _select(api, express_target)
    rest_target.allow_external_vid = False
    rest_target.save()
    response = api.call(rest_target, PURCHASE, session="lana-123", vid="lana-123")
    assert response.status_code == 403
    body = response.json()
    assert body["status"] == 403
    assert "dt-server" in body["err"]
    assert "Allow Passing of External Visitor ID" in body["err"]
    assert not GoalEvent.objects.exists()


def test_goal__express_vid_not_allowed__selection_not_found_by_vid(
    api, agent, express_target, rest_target
):
    express_target.allow_external_vid = False
    express_target.save()
    _select(api, express_target)  # served by session: the vid is ignored
    [item] = _goal(api, rest_target)
    assert item["s"] == reasons.STATUS_NONE
    assert item["skipped"] == []


def test_goal__same_id__is_replayed_and_recorded_once(api, agent, express_target, rest_target):
    _select(api, express_target)
    command = [{"g": "g-purchase", "v": 19.99, "id": "evt-123"}]
    [first] = _goal(api, rest_target, command)
    [again] = _goal(api, rest_target, command)
    assert first["s"] == reasons.STATUS_OK
    assert again == {**first, "replay": True}
    assert GoalEvent.objects.count() == 1
    assert Credit.objects.count() == 1


def test_goal__same_id_within_one_request__is_replayed(api, agent, express_target, rest_target):
    _select(api, express_target)
    command = {"g": "g-purchase", "id": "evt-9"}
    first, second = _goal(api, rest_target, [command, command])
    assert second == {**first, "replay": True}
    assert GoalEvent.objects.count() == 1


def test_goal__same_id_on_another_goal__is_another_event(
    api, account, agent, express_target, rest_target
):
    other = goal_create(
        account=account, code="g-signup", name="Signup", trigger=GoalTrigger.API, rest_send=True
    )
    agent.goals.add(other)
    _select(api, express_target)
    items = _goal(
        api, rest_target, [{"g": "g-purchase", "id": "e1"}, {"g": "g-signup", "id": "e1"}]
    )
    assert [i["s"] for i in items] == ["ok", "ok"]
    assert GoalEvent.objects.count() == 2


def test_goal__two_assignments_in_an_agent__earliest_is_the_only_credited(
    api, agent, express_target, rest_target
):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        # The page first ran without the visitor's id (by session), then with it.
        by_session = api.data(express_target, [{"a": "a-hero"}], session="s-42")["items"][0]
        clock.shift(timedelta(minutes=5))
        api.data(express_target, [{"a": "a-hero"}], session="other", vid="lana-123")
        assert Assignment.objects.count() == 2
        clock.shift(timedelta(minutes=5))
        [item] = _goal(api, rest_target, session="s-42", vid="lana-123")
    assert item["rs"] == [{"a": "a-hero", "c": by_session["c"], "v": 19.99}]
    assert item["skipped"] == []
    assert Credit.objects.get().assignment.identity == "s:s-42"


def test_goal__once_is_per_visitor_across_its_assignments(api, agent, express_target, rest_target):
    api.data(express_target, [{"a": "a-hero"}], session="s-42")
    api.data(express_target, [{"a": "a-hero"}], session="other", vid="lana-123")
    _goal(api, rest_target, session="s-42", vid="lana-123")
    [again] = _goal(api, rest_target, session="nobody", vid="lana-123")
    assert again["skipped"][0]["reason"] == reasons.ALREADY_CREDITED


def test_goal__client_side_on_express__is_credited_by_session(api, agent, express_target):
    api.data(express_target, [{"a": "a-hero"}], session="browser")
    [item] = api.data(express_target, [{"g": "g-purchase"}], session="browser")["items"]
    assert item["s"] == reasons.STATUS_OK
    assert Credit.objects.get().channel == "client"


def test_goal__mixed_request__selection_then_goal_credits_it(api, agent, rest_target):
    data = api.data(rest_target, [{"a": "a-hero"}, {"g": "g-purchase", "v": 3}], session="m")
    selection, goal = data["items"]
    assert goal["rs"] == [{"a": "a-hero", "c": selection["c"], "v": 3}]


@pytest.mark.parametrize("raw_v", ["1000000000001", "1e154", "1e200", "1.7e308"])
def test_goal__value_above_10_to_the_12__is_invalid_value_and_reports_stay_up(
    api, admin_client, agent, express_target, rest_target, purchase_goal, raw_v
):
    purchase_goal.counting = GoalCounting.EVERY
    purchase_goal.save()
    _select(api, express_target)
    response = api.call(
        rest_target, None, session="lana-123", vid="lana-123",
        raw='[{"g": "g-purchase", "v": ' + raw_v + '}, {"g": "g-purchase", "v": 1e12}]',
    )  # fmt: skip
    assert response.status_code == 200
    refused, credited = response.json()["data"]["items"]
    assert refused["err"] == reasons.INVALID_VALUE
    assert credited["rs"][0]["v"] == 1e12
    from accounts.services import admin_key_create

    _, key = admin_key_create(account=agent.account)
    report = admin_client.get(
        "/api/ac-acme/agents/a-hero/report/", headers={"authorization": f"Bearer {key}"}
    )
    assert report.status_code == 200
    assert report.json()["goals"][0]["variations"][0]["value_sum"] in (0, 1e12)


def test_goal__no_selection_for_visitor__says_so_in_a_warning(api, agent, rest_target):
    data = api.data(rest_target, PURCHASE, session="somebody-else", vid="somebody-else")
    assert data["warnings"] == [
        {
            "reason": "no_selection",
            "g": "g-purchase",
            "detail": "no selection was found for this session or vid in the agents that "
            "track g-purchase: the page must pass the same vid",
        }
    ]


def test_goal__credited_or_skipped__has_no_no_selection_warning(
    api, agent, express_target, rest_target
):
    _select(api, express_target)
    data = api.data(rest_target, PURCHASE + PURCHASE, session="lana-123", vid="lana-123")
    assert [i["s"] for i in data["items"]] == ["ok", "none"]  # credited, then already_credited
    assert "warnings" not in data
