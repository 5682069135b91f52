import pytest
from django.core.exceptions import ValidationError

from agents.models import AgentStatus
from agents.selectors import agent_paused_variation
from agents.services import VariationSpec, agent_create, agents_status_set

pytestmark = pytest.mark.django_db

AB = [VariationSpec(code="A"), VariationSpec(code="B")]


def test_agent__created_with_variations_in_order(account):
    agent = agent_create(
        account=account, name="Hero", variations=[VariationSpec(code="B"), VariationSpec(code="A")]
    )
    assert agent.code == "a-hero"
    assert agent.status == AgentStatus.PAUSED
    assert [v.code for v in agent.variations.all()] == ["B", "A"]


@pytest.mark.parametrize("variations", [[], [VariationSpec(code="A")]])
def test_agent__fewer_than_two_variations__is_refused(account, variations):
    with pytest.raises(ValidationError) as exc:
        agent_create(account=account, name="Hero", variations=variations)
    assert exc.value.code == "too_few_variations"
    assert not account.agents.exists()


def test_agent__all_weights_zero__is_refused(account):
    with pytest.raises(ValidationError) as exc:
        agent_create(
            account=account,
            name="Hero",
            variations=[VariationSpec(code="A", weight=0), VariationSpec(code="B", weight=0)],
        )
    assert exc.value.code == "all_weights_zero"


def test_agent__one_weight_zero__is_accepted(account):
    agent = agent_create(
        account=account,
        name="Hero",
        variations=[VariationSpec(code="A", weight=0), VariationSpec(code="B", weight=1)],
    )
    assert agent.variations.count() == 2


def test_agent__negative_weight__is_refused(account):
    with pytest.raises(ValidationError) as exc:
        agent_create(
            account=account,
            name="Hero",
            variations=[VariationSpec(code="A", weight=-1), VariationSpec(code="B", weight=2)],
        )
    assert "weight" in exc.value.message_dict["variations"][0]


def test_agent__duplicate_variation_code__is_refused(account):
    with pytest.raises(ValidationError) as exc:
        agent_create(account=account, name="Hero", variations=[VariationSpec(code="A")] * 2)
    assert exc.value.code == "duplicate_variation"


@pytest.mark.parametrize("code", ["", "A B", "A" * 33, "é"])
def test_agent__malformed_variation_code__is_refused(account, code):
    with pytest.raises(ValidationError) as exc:
        agent_create(
            account=account,
            name="Hero",
            variations=[VariationSpec(code=code), VariationSpec(code="B")],
        )
    assert exc.value.message_dict["variations"][0].startswith("Variation “")


@pytest.mark.parametrize(
    "metadata", [["a"], {"k": 1}, {"k": "x" * 257}, {"": "x"}, {f"k{i}": "v" for i in range(21)}]
)
def test_agent__bad_metadata__is_refused(account, metadata):
    with pytest.raises(ValidationError) as exc:
        agent_create(
            account=account,
            name="Hero",
            variations=[VariationSpec(code="A", metadata=metadata), VariationSpec(code="B")],
        )
    assert "Metadata" in exc.value.message_dict["variations"][0]


@pytest.mark.parametrize("code", ["hero", "a-", "a-x y", "a-" + "a" * 41])
def test_agent__malformed_code__is_refused(account, code):
    with pytest.raises(ValidationError) as exc:
        agent_create(account=account, name="Hero", code=code, variations=AB)
    assert "code" in exc.value.message_dict


def test_agent__duplicate_code__is_refused(account):
    agent_create(account=account, name="Hero", code="a-hero", variations=AB)
    with pytest.raises(ValidationError):
        agent_create(account=account, name="Hero 2", code="a-hero", variations=AB)


def test_agent__goal_of_another_account__is_refused(account, other_setup):
    with pytest.raises(ValidationError) as exc:
        agent_create(account=account, name="Hero", variations=AB, goals=[other_setup["goal"]])
    assert "goals" in exc.value.message_dict


def test_agent__target_of_another_account__is_refused(account, other_setup):
    with pytest.raises(ValidationError) as exc:
        agent_create(account=account, name="Hero", variations=AB, targets=[other_setup["target"]])
    assert "targets" in exc.value.message_dict


def test_agent__paused_variation__defaults_to_first_and_can_be_chosen(account):
    agent = agent_create(account=account, name="Hero", variations=AB)
    assert agent_paused_variation(agent=agent).code == "A"
    chosen = agent_create(account=account, name="Hero 2", variations=AB, paused_variation="B")
    assert agent_paused_variation(agent=chosen).code == "B"


def test_agent__unknown_paused_variation__is_refused_and_nothing_saved(account):
    with pytest.raises(ValidationError):
        agent_create(account=account, name="Hero", variations=AB, paused_variation="Z")
    assert not account.agents.exists()


def test_agent__paused_variation_of_another_agent__is_refused(account):
    first = agent_create(account=account, name="One", variations=AB)
    second = agent_create(account=account, name="Two", variations=AB)
    second.paused_variation = first.variations.first()
    with pytest.raises(ValidationError) as exc:
        second.full_clean()
    assert "paused_variation" in exc.value.message_dict


def test_agents_status_set__changes_status_and_refuses_unknown(agent):
    assert agents_status_set(agents=[agent], status=AgentStatus.STOPPED) == 1
    agent.refresh_from_db()
    assert agent.status == AgentStatus.STOPPED
    with pytest.raises(ValidationError):
        agents_status_set(agents=[agent], status="flying")
