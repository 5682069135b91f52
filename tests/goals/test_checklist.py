import pytest

from goals.checklist import (
    EXPRESS_PASSES_VID,
    GOAL_REST_SEND,
    GOAL_SERVER_ONLY,
    GOAL_TRIGGER_API,
    IDS_LINKED,
    REST_PASSES_VID,
    server_side_checklist,
)
from goals.models import Goal, GoalTrigger
from goals.services import goal_create
from targets.models import ALLOW_LINKING_LABEL, DeployTarget

pytestmark = pytest.mark.django_db


def _ok(items):
    return {item.key: item.ok for item in items}


def test_checklist__seed_setup__ticks_all_four__the_fifth_recommended(agent, purchase_goal):
    items = server_side_checklist(goal=purchase_goal)
    assert [i.key for i in items] == [
        EXPRESS_PASSES_VID,
        REST_PASSES_VID,
        GOAL_TRIGGER_API,
        GOAL_REST_SEND,
        GOAL_SERVER_ONLY,
        IDS_LINKED,
    ]
    assert [i.ok for i in items if not i.recommended] == [True] * 4
    fifth = items[4]
    assert fifth.recommended
    assert not fifth.ok  # accepted from any target: a page could forge it
    purchase_goal.accepted_from = "server"
    purchase_goal.save()
    assert all(i.ok for i in server_side_checklist(goal=purchase_goal))


def test_checklist__goal_without_a_value__no_fifth_item(account):
    from goals.services import goal_create

    click = goal_create(account=account, code="g-click", name="Click")  # page event, once
    assert GOAL_SERVER_ONLY not in [i.key for i in server_side_checklist(goal=click)]


def test_checklist__express_target_without_vid__is_unticked_and_points_at_it(
    agent, purchase_goal, express_target
):
    express_target.allow_external_vid = False
    express_target.save()
    items = {i.key: i for i in server_side_checklist(goal=purchase_goal)}
    assert items[EXPRESS_PASSES_VID].ok is False
    assert items[EXPRESS_PASSES_VID].fix == express_target
    assert items[REST_PASSES_VID].ok is True


def test_checklist__rest_target_without_vid__is_unticked(agent, purchase_goal, rest_target):
    rest_target.allow_external_vid = False
    rest_target.save()
    assert _ok(server_side_checklist(goal=purchase_goal))[REST_PASSES_VID] is False


def test_checklist__no_rest_target__points_at_adding_one(account, express_target):
    goal = goal_create(account=account, name="Buy", trigger=GoalTrigger.API)
    items = {i.key: i for i in server_side_checklist(goal=goal)}
    assert items[REST_PASSES_VID].ok is False
    assert items[REST_PASSES_VID].fix is DeployTarget


def test_checklist__page_event_goal__unticks_trigger_and_rest_send(account, express_target):
    goal = goal_create(account=account, name="Click")
    items = {i.key: i for i in server_side_checklist(goal=goal)}
    assert items[GOAL_TRIGGER_API].ok is False
    assert items[GOAL_REST_SEND].ok is False
    assert isinstance(items[GOAL_REST_SEND].fix, Goal)


def test_checklist__agent_targets__are_the_express_targets_judged(
    account, purchase_goal, express_target, rest_target
):
    from targets.services import target_create

    silent = target_create(account=account, name="Other site")  # vid off
    items = _ok(server_side_checklist(goal=purchase_goal, express_targets=[silent]))
    assert items[EXPRESS_PASSES_VID] is False
    items = _ok(server_side_checklist(goal=purchase_goal, express_targets=[express_target]))
    assert items[EXPRESS_PASSES_VID] is True


def test_checklist__one_express_target_of_several_without_vid__unticked_naming_it(
    account, agent, purchase_goal, express_target
):
    from targets.services import target_create

    silent = target_create(account=account, code="dt-shop", name="Shop")  # vid off
    agent.targets.add(silent)
    items = [
        i
        for i in server_side_checklist(goal=purchase_goal, express_targets=agent.targets.all())
        if i.key == EXPRESS_PASSES_VID
    ]
    assert sorted((i.label, i.ok, i.fix.pk) for i in items) == [
        ("Express target dt-shop passes the External Visitor ID", False, silent.pk),
        ("Express target dt-web passes the External Visitor ID", True, express_target.pk),
    ]
    assert "dt-shop" in next(i.detail for i in items if not i.ok)


def test_checklist__disabled_express_target__is_not_judged(
    account, agent, purchase_goal, express_target
):
    from targets.services import target_create

    agent.targets.add(target_create(account=account, name="Old", enabled=False))
    items = server_side_checklist(goal=purchase_goal, express_targets=agent.targets.all())
    assert all(i.ok for i in items if not i.recommended)


def test_checklist__linking__ok_through_a_rest_target_and_names_pages_that_may(
    agent, purchase_goal, express_target, rest_target
):
    item = {i.key: i for i in server_side_checklist(goal=purchase_goal)}[IDS_LINKED]
    assert (item.ok, item.recommended, item.fix) == (True, True, rest_target)
    assert "alias command on dt-server" in item.detail
    assert "dt-web" not in item.detail
    express_target.allow_linking = True
    express_target.save()
    item = {i.key: i for i in server_side_checklist(goal=purchase_goal)}[IDS_LINKED]
    assert f"pages on dt-web may (“{ALLOW_LINKING_LABEL}”" in item.detail
    rest_target.allow_external_vid = False
    rest_target.save()
    express_target.allow_linking = False
    express_target.save()
    item = {i.key: i for i in server_side_checklist(goal=purchase_goal)}[IDS_LINKED]
    assert item.ok is False
    assert "cannot find" in item.detail
