"""The demo set-up of SPEC §8 (`seed_demo`): the seed's whole scenario, ready to try.

An Express target and a REST target that both pass the External Visitor ID, the goal
g-purchase triggered via API with REST sending on, accepted from servers only, and a
running agent a-hero.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from accounts.models import Account, AdminApiKey
from accounts.roles import Role
from accounts.services import account_create, admin_key_create, membership_add
from agents.models import Agent, AgentStatus
from agents.services import VariationSpec, agent_create
from goals.choices import GoalAcceptedFrom, GoalCounting, GoalTrigger
from goals.models import Goal
from goals.services import goal_create
from targets.models import DeployTarget, TargetKind
from targets.services import target_create

DEMO_ACCOUNT = "ac-demo"
DEMO_EXPRESS_TARGET = "dt-web"
DEMO_REST_TARGET = "dt-server"
DEMO_GOAL = "g-purchase"
DEMO_CLICK_GOAL = "g-signup-click"
DEMO_AGENT = "a-hero"


@dataclass(frozen=True)
class DemoSetup:
    account: Account
    express_target: DeployTarget
    rest_target: DeployTarget
    agent: Agent
    admin_key: str | None  # None when the account already had one (keys are shown once)
    user: AbstractBaseUser | None
    created: bool


@transaction.atomic
def demo_seed(
    *, username: str | None = None, password: str | None = None, new_admin_key: bool = False
) -> DemoSetup:
    """Create the demo set-up, or complete it if part exists (idempotent); return it.

    With `username` and `password`, also make that user a staff superuser of the demo
    (created, or its password reset).
    """
    account = Account.objects.filter(code=DEMO_ACCOUNT).first()
    created = account is None
    if account is None:
        account = account_create(code=DEMO_ACCOUNT, name="Demo")

    def target(code: str, name: str, kind: str) -> DeployTarget:
        existing = DeployTarget.objects.filter(account=account, code=code).first()
        return existing or target_create(
            account=account, code=code, name=name, kind=kind, allow_external_vid=True,
            allow_linking=kind == TargetKind.EXPRESS,  # the demo page links its first id
        )  # fmt: skip

    express = target(DEMO_EXPRESS_TARGET, "Web site (Express / JS)", TargetKind.EXPRESS)
    rest = target(DEMO_REST_TARGET, "Checkout servers (REST)", TargetKind.REST)

    purchase = Goal.objects.filter(account=account, code=DEMO_GOAL).first() or goal_create(
        account=account,
        code=DEMO_GOAL,
        name="Purchase",
        trigger=GoalTrigger.API,
        rest_send=True,
        counting=GoalCounting.ONCE,
        accepted_from=GoalAcceptedFrom.SERVER,  # a purchase: never from a page's public key
    )
    click = Goal.objects.filter(account=account, code=DEMO_CLICK_GOAL).first() or goal_create(
        account=account, code=DEMO_CLICK_GOAL, name="Sign-up button click"
    )

    agent = Agent.objects.filter(account=account, code=DEMO_AGENT).first() or agent_create(
        account=account,
        code=DEMO_AGENT,
        name="Hero headline",
        status=AgentStatus.RUNNING,
        variations=[
            VariationSpec(
                code="A", name="Original", metadata={"headline": "Find your next adventure"}
            ),
            VariationSpec(
                code="B",
                name="Urgent",
                metadata={"headline": "Adventures sell out fast: book today"},
            ),
        ],
        goals=[purchase, click],
        targets=[express, rest],
        hypothesis="A headline that says adventures sell out makes more visitors book.",
        tags=["homepage", "copy"],
    )

    raw_key = None
    if (
        new_admin_key
        or not AdminApiKey.objects.filter(account=account, revoked_at__isnull=True).exists()
    ):
        _, raw_key = admin_key_create(account=account, name="created by seed_demo")

    user = None
    if username and password:
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model.objects.create_superuser(username=username, password=password)
        else:
            user.set_password(password)
            user.is_staff = user.is_superuser = user.is_active = True
            user.save()
        membership_add(account=account, user=user, role=Role.OWNER)
        if agent.owner_id is None:
            agent.owner = user
            agent.save(update_fields=["owner"])

    return DemoSetup(
        account=account,
        express_target=express,
        rest_target=rest,
        agent=agent,
        admin_key=raw_key,
        user=user,
        created=created,
    )
