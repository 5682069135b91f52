"""The two high-severity faults of the second attack (issue: hardening 2), each held here:
a page's public key forging or pre-empting a server's purchase (`accepted_from`), and event
ids that leak another visitor's event or let a browser burn the server's (SPEC §4)."""

import pytest

from goals.reasons import EVENT_ID_TAKEN, SERVER_ONLY_GOAL
from visitors.models import Credit, GoalEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def server_only(purchase_goal):
    purchase_goal.accepted_from = "server"
    purchase_goal.save()
    return purchase_goal


def test_server_only_goal__from_a_page__refused_nothing_recorded(
    api, agent, express_target, server_only
):
    api.data(express_target, [{"a": "a-hero"}], session="p", vid="victim")
    data = api.data(express_target, [{"g": "g-purchase", "v": 999}], session="p", vid="victim")
    assert data["items"] == [{"g": "g-purchase", "s": "err", "rs": [], "err": SERVER_ONLY_GOAL}]
    assert not GoalEvent.objects.exists()


def test_server_only_goal__a_forged_copy_cannot_pre_empt_the_real_purchase(
    api, agent, express_target, rest_target, server_only
):
    chosen = api.data(express_target, [{"a": "a-hero"}], session="p", vid="victim")["sels"]
    api.call(express_target, [{"g": "g-purchase", "v": 1}], session="attacker", vid="victim")
    real = api.data(rest_target, [{"g": "g-purchase", "v": 42}], session="srv", vid="victim")
    assert real["items"][0]["rs"] == [{"a": "a-hero", "c": chosen["a-hero"], "v": 42}]
    assert Credit.objects.get().value == 42


def test_any_goal__from_a_page__still_taken(api, agent, express_target, purchase_goal):
    assert purchase_goal.accepted_from == "any"  # the default keeps what pages send
    api.data(express_target, [{"a": "a-hero"}], session="p")
    data = api.data(express_target, [{"g": "g-purchase"}], session="p")
    assert data["items"][0]["s"] == "ok"


def test_event_id__guessed_by_another_visitor__taken_nothing_revealed(
    api, agent, express_target, rest_target
):
    api.data(express_target, [{"a": "a-hero"}], session="p1", vid="alice")
    first = api.data(rest_target, [{"g": "g-purchase", "v": 500, "id": "order-7"}],
                     session="s1", vid="alice")  # fmt: skip
    assert first["items"][0]["s"] == "ok"
    guess = api.data(rest_target, [{"g": "g-purchase", "v": 1, "id": "order-7"}],
                     session="s2", vid="mallory")  # fmt: skip
    assert guess["items"] == [{"g": "g-purchase", "s": "err", "rs": [], "err": EVENT_ID_TAKEN}]
    assert "500" not in str(guess)
    assert "alice" not in str(guess)
    assert GoalEvent.objects.count() == 1


def test_event_id__retried_by_the_same_visitor__replayed_in_full(
    api, agent, express_target, rest_target
):
    api.data(express_target, [{"a": "a-hero"}], session="p1", vid="alice")
    goal = [{"g": "g-purchase", "v": 500, "id": "order-7"}]
    first = api.data(rest_target, goal, session="s1", vid="alice")["items"][0]
    by_vid = api.data(rest_target, goal, session="other-session", vid="alice")["items"][0]
    by_session = api.data(rest_target, goal, session="s1")["items"][0]
    for replay in (by_vid, by_session):
        assert replay == {**first, "replay": True}
    assert (GoalEvent.objects.count(), Credit.objects.count()) == (1, 1)


def test_event_id__sent_first_from_a_page__does_not_burn_the_servers(
    api, agent, express_target, rest_target
):
    api.data(express_target, [{"a": "a-hero"}], session="p1", vid="alice")
    api.data(express_target, [{"g": "g-purchase", "id": "order-9"}], session="p1", vid="alice")
    server = api.data(rest_target, [{"g": "g-purchase", "v": 80, "id": "order-9"}],
                      session="s1", vid="alice")["items"][0]  # fmt: skip
    assert "replay" not in server
    assert server["s"] in ("ok", "none")
    assert GoalEvent.objects.filter(event_id="order-9").count() == 2  # one per channel
