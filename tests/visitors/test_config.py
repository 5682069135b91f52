"""The configuration snapshot: every server process sees a change within a second (SPEC §10)."""

import pytest
from django.conf import settings

from agents.models import AgentStatus
from agents.services import VariationSpec, agent_update
from goals.services import goal_update
from targets.models import DeployTarget
from targets.services import target_rotate_key, target_update
from visitors import config
from visitors.config import config_version, config_version_bump
from visitors.models import ConfigVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """This process's monotonic clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(config.time, "monotonic", lambda: now[0])
    return now


def _elsewhere(account, **target_changes):
    """A change saved by another server process: this one's snapshot is not dropped, only
    the account's version moves (as that process's save raised it)."""
    DeployTarget.objects.filter(account=account, code="dt-web").update(**target_changes)
    config_version_bump(account_id=account.pk)


def test_target_disabled_in_another_process__refused_here_within_a_second(
    api, agent, express_target, account, clock
):
    api.data(express_target, [{"a": "a-hero"}])
    _elsewhere(account, enabled=False)
    clock[0] += settings.CONFIG_CHECK_SECONDS / 2
    assert api.call(express_target, [{"a": "a-hero"}]).status_code == 200  # not checked yet
    clock[0] += settings.CONFIG_CHECK_SECONDS
    response = api.call(express_target, [{"a": "a-hero"}])
    assert response.status_code == 403
    assert "disabled" in response.json()["err"]
    assert settings.CONFIG_CHECK_SECONDS <= 0.5


def test_key_rotated_in_another_process__old_key_refused_here_within_a_second(
    api, agent, express_target, account, clock
):
    old_key = express_target.api_key
    api.data(express_target, [{"a": "a-hero"}])
    _elsewhere(account, api_key="api-" + "N" * 32)
    clock[0] += settings.CONFIG_CHECK_SECONDS + 0.01
    assert api.call(express_target, [{"a": "a-hero"}], key=old_key).status_code == 401
    assert api.data(express_target, [{"a": "a-hero"}], key="api-" + "N" * 32)["items"]


def test_unchanged_version__snapshot_kept_with_one_query(
    api, agent, express_target, account, clock, django_assert_num_queries
):
    api.data(express_target, [{"a": "a-hero"}])
    clock[0] += settings.CONFIG_CHECK_SECONDS + 0.01
    with django_assert_num_queries(1):  # the version, nothing reloaded
        assert config.account_conf(code="ac-acme").code == "ac-acme"
    with django_assert_num_queries(0):  # fresh again for the next CONFIG_CHECK_SECONDS
        config.account_conf(code="ac-acme")


def test_every_kind_of_change__raises_the_account_version(agent, express_target, account):
    goal = agent.goals.get()
    changes = [
        lambda: target_update(target=express_target, name="Web 2"),
        lambda: target_rotate_key(target=express_target),
        lambda: goal_update(goal=goal, name="Buy"),
        lambda: agent_update(agent=agent, status=AgentStatus.PAUSED),
        lambda: agent_update(
            agent=agent, variations=[VariationSpec("A", weight=3), VariationSpec("B")]
        ),
        lambda: agent_update(agent=agent, goals=[]),
        lambda: agent_update(agent=agent, targets=[express_target]),
    ]
    for change in changes:
        before = config_version(account_id=account.pk)
        change()
        assert config_version(account_id=account.pk) > before, change


def test_account_deleted__its_version_goes_too(agent, account):
    config_version_bump(account_id=account.pk)
    account.delete()
    assert not ConfigVersion.objects.filter(account_id=account.pk).exists()
