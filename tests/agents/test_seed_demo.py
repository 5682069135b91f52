import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import Account, AdminApiKey
from agents.models import Agent, AgentStatus
from goals.checklist import server_side_checklist
from goals.models import Goal
from targets.models import DeployTarget, TargetKind

pytestmark = pytest.mark.django_db


def test_seed_demo__creates_the_seed_setup_and_prints_keys(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    account = Account.objects.get(code="ac-demo")
    express = DeployTarget.objects.get(account=account, kind=TargetKind.EXPRESS)
    rest = DeployTarget.objects.get(account=account, kind=TargetKind.REST)
    assert express.allow_external_vid
    assert rest.allow_external_vid
    assert express.api_key in out
    assert rest.api_key in out
    assert "admin-" in out
    agent = Agent.objects.get(account=account, code="a-hero")
    assert agent.status == AgentStatus.RUNNING
    purchase = Goal.objects.get(account=account, code="g-purchase")
    assert purchase in agent.goals.all()
    assert all(item.ok for item in server_side_checklist(goal=purchase))


def test_seed_demo__twice__neither_fails_nor_duplicates(capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out
    assert Account.objects.count() == 1
    assert DeployTarget.objects.count() == 2
    assert Goal.objects.count() == 2
    assert Agent.objects.count() == 1
    assert AdminApiKey.objects.count() == 1
    assert "already created" in second
    express_key = DeployTarget.objects.get(code="dt-web").api_key
    assert express_key in first
    assert express_key in second


def test_seed_demo__user__is_a_superuser_member_and_password_is_reset():
    call_command("seed_demo", "--username", "admin", "--password", "first")
    call_command("seed_demo", "--username", "admin", "--password", "second")
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser
    assert user.is_staff
    assert user.check_password("second")
    assert Account.objects.get(code="ac-demo").members.filter(pk=user.pk).exists()


def test_seed_demo__username_without_password__is_refused():
    with pytest.raises(CommandError, match="go together"):
        call_command("seed_demo", "--username", "admin")
