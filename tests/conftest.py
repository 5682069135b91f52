"""Shared fixtures: two accounts with the seed's set-up, and staff of each."""

import os

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Account
from accounts.roles import Role
from accounts.services import account_create, admin_key_create, membership_add
from agents.models import Agent, AgentStatus
from agents.services import VariationSpec, agent_create
from goals.models import Goal, GoalTrigger
from goals.services import goal_create
from targets.models import DeployTarget, TargetKind
from targets.services import target_create


def pytest_configure(config):
    """Passwords hashed by a fast hasher in the tests, as Django's testing docs advise: the
    default PBKDF2 (1,000,000 rounds) costs 0.35 s a user here, and the suite makes and
    signs in users hundreds of times. The product's own hasher is not changed."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


if os.environ.get("CITUS_TEST_URL"):  # the tests run on a Citus cluster (make test-citus)
    from tests.citus.database import citus_database_setup as django_db_setup  # noqa: F401


@pytest.fixture
def account(db) -> Account:
    return account_create(code="ac-acme", name="Acme")


@pytest.fixture
def other_account(db) -> Account:
    return account_create(code="ac-other", name="Other Inc")


@pytest.fixture
def express_target(account) -> DeployTarget:
    return target_create(
        account=account,
        code="dt-web",
        name="Web",
        kind=TargetKind.EXPRESS,
        allow_external_vid=True,
    )


@pytest.fixture
def rest_target(account) -> DeployTarget:
    return target_create(
        account=account,
        code="dt-server",
        name="Server",
        kind=TargetKind.REST,
        allow_external_vid=True,
    )


@pytest.fixture
def purchase_goal(account) -> Goal:
    return goal_create(
        account=account,
        code="g-purchase",
        name="Purchase",
        trigger=GoalTrigger.API,
        rest_send=True,
    )


@pytest.fixture
def agent(account, purchase_goal, express_target, rest_target) -> Agent:
    return agent_create(
        account=account,
        code="a-hero",
        name="Hero",
        status=AgentStatus.RUNNING,
        variations=[VariationSpec(code="A"), VariationSpec(code="B", metadata={"h": "Hi"})],
        goals=[purchase_goal],
        targets=[express_target, rest_target],
    )


@pytest.fixture
def other_setup(other_account):
    """The same set-up in another account, with the same codes."""
    web = target_create(account=other_account, code="dt-web", name="Other web")
    goal = goal_create(account=other_account, code="g-purchase", name="Other purchase")
    agent = agent_create(
        account=other_account,
        code="a-hero",
        name="Other hero",
        variations=[VariationSpec(code="A"), VariationSpec(code="B")],
        goals=[goal],
        targets=[web],
    )
    return {"target": web, "goal": goal, "agent": agent}


@pytest.fixture
def staff_user(account):
    """A staff member (not superuser) of `account` only, its owner (tests/accounts/
    test_roles.py has the other roles)."""
    user = get_user_model().objects.create_user(
        username="alice", password="pw-alice-123", is_staff=True
    )
    membership_add(account=account, user=user, role=Role.OWNER)
    return user


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture(autouse=True)
def _fresh_caches():
    """The config snapshot and throttle counters must not leak from one test to the next."""
    from django.core.cache import cache

    from conductrics_admin.buffers import buffers_reset
    from visitors.config import config_cache_clear

    config_cache_clear()
    buffers_reset()
    cache.clear()
    yield
    config_cache_clear()
    buffers_reset()  # nothing sent at exit to a database the test emptied


class AgentApi:
    """Calls the agent-api like a page or a server would."""

    def __init__(self, client) -> None:
        self.client = client

    def call(
        self,
        target,
        commands,
        *,
        session="sess-1",
        vid=None,
        account="ac-acme",
        key=None,
        path_target=None,
        content_type="text/plain",
        headers=None,
        raw=None,
        **params,
    ):
        import json
        from urllib.parse import urlencode

        query = {"apikey": key if key is not None else target.api_key}
        if session is not None:
            query["session"] = session
        if vid is not None:
            query["vid"] = vid
        query.update(params)
        query = {k: v for k, v in query.items() if v is not None}
        path = f"/{account}/v3/agent-api" + (f"/{path_target}" if path_target else "")
        body = raw if raw is not None else json.dumps(commands)
        return self.client.post(
            f"{path}?{urlencode(query)}",
            data=body,
            content_type=content_type,
            headers=headers or {},
        )

    def data(self, *args, **kwargs):
        response = self.call(*args, **kwargs)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == 200
        return body["data"]


@pytest.fixture
def api(client) -> AgentApi:
    return AgentApi(client)


class Api:
    """The management API with an admin key."""

    def __init__(self, client, key, account="ac-acme"):
        self.client = client
        self.headers = {"authorization": f"Bearer {key}"}
        self.base = f"/api/{account}/"

    def __call__(self, method, path, data=None, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        call = getattr(self.client, method)
        if data is None:
            return call(self.base + path, headers=headers, **kwargs)
        return call(
            self.base + path, data=data, content_type="application/json", headers=headers, **kwargs
        )


@pytest.fixture
def admin_api(client, account):
    _, key = admin_key_create(account=account)
    return Api(client, key)
