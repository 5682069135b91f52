"""The hot path's budget: at most 3 SQL round trips per request, whatever the commands."""

import pytest

from agents.models import AgentStatus
from agents.services import VariationSpec, agent_create

# transactional: the request's own transaction is then the outermost one, as in production
# (inside a test transaction it would add SAVEPOINT statements that production never sends).
pytestmark = pytest.mark.django_db(transaction=True)

BUDGET = 3


@pytest.fixture
def warm(api, agent, express_target, rest_target):
    """Nine more agents on both targets, and a warm configuration cache."""
    for i in range(9):
        agent_create(
            account=agent.account,
            code=f"a-t{i}",
            name=f"T{i}",
            status=AgentStatus.RUNNING,
            variations=[VariationSpec(code="A"), VariationSpec(code="B")],
            goals=list(agent.goals.all()),
            targets=[express_target, rest_target],
        )
    api.data(express_target, [], session="warm-up")
    return agent


def test_budget__first_selection(api, warm, express_target, django_assert_max_num_queries):
    with django_assert_max_num_queries(BUDGET):
        api.data(express_target, [{"a": "a-hero"}], session="new", vid="v-1")


def test_budget__sticky_selection(api, warm, express_target, django_assert_max_num_queries):
    api.data(express_target, [{"a": "a-hero"}], session="again")
    with django_assert_max_num_queries(1):
        api.data(express_target, [{"a": "a-hero"}], session="again")


def test_budget__rest_goal_matched_by_vid(
    api, warm, express_target, rest_target, django_assert_max_num_queries
):
    api.data(express_target, [{"a": f"a-t{i}"} for i in range(9)], session="p", vid="lana")
    with django_assert_max_num_queries(BUDGET):
        data = api.data(rest_target, [{"g": "g-purchase", "v": 2}], session="lana", vid="lana")
    assert len(data["items"][0]["rs"]) == 9


def test_budget__mixed_request_of_10_commands(
    api, warm, express_target, rest_target, django_assert_max_num_queries
):
    api.data(express_target, [{"a": "a-t0"}], session="m", vid="mixed")
    commands = [{"a": f"a-t{i}"} for i in range(1, 8)] + [
        {"g": "g-purchase", "v": 1, "id": "e-1"},
        {"g": "g-purchase", "v": 1},
        {"a": "a-t0"},
    ]
    with django_assert_max_num_queries(BUDGET):
        data = api.data(rest_target, commands, session="m", vid="mixed")
    assert len(data["items"]) == 10
