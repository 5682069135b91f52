"""Authentication and tenant isolation of the management API, for every resource and method."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.services import admin_key_create, admin_key_revoke, membership_add
from agents.models import Agent
from goals.models import Goal
from targets.models import DeployTarget

pytestmark = pytest.mark.django_db

OPERATIONS = [
    ("get", "targets/", None),
    ("post", "targets/", {"name": "New", "code": "dt-new"}),
    ("get", "targets/dt-web/", None),
    ("patch", "targets/dt-web/", {"name": "Changed"}),
    ("delete", "targets/dt-web/", None),
    ("post", "targets/dt-web/rotate-key", None),
    ("get", "goals/", None),
    ("post", "goals/", {"name": "New", "code": "g-new"}),
    ("get", "goals/g-purchase/", None),
    ("patch", "goals/g-purchase/", {"name": "Changed"}),
    ("delete", "goals/g-purchase/?force=true", None),
    ("get", "agents/", None),
    (
        "post",
        "agents/",
        {"name": "New", "code": "a-new", "variations": [{"code": "A"}, {"code": "B"}]},
    ),
    ("get", "agents/a-hero/", None),
    ("patch", "agents/a-hero/", {"name": "Changed"}),
    ("delete", "agents/a-hero/?force=true", None),
    ("get", "agents/a-hero/report", None),
]
IDS = [f"{m} {p}" for m, p, _ in OPERATIONS]


def _call(client, method, path, body, headers=None, account="ac-other"):
    kwargs = {"headers": headers or {}}
    if body is not None:
        kwargs.update(data=body, content_type="application/json")
    return getattr(client, method)(f"/api/{account}/{path}", **kwargs)


def _state():
    return (
        sorted(DeployTarget.objects.values_list("account__code", "code", "name", "api_key")),
        sorted(Goal.objects.values_list("account__code", "code", "name")),
        sorted(Agent.objects.values_list("account__code", "code", "name")),
    )


@pytest.fixture
def victim(other_setup, other_account):
    """Account B, with the same codes as A's; A's key and staff must never reach it."""
    return other_account


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=IDS)
def test_key_of_another_account__is_403_and_changes_nothing(
    client, agent, victim, method, path, body
):
    _, key_a = admin_key_create(account=agent.account)
    before = _state()
    response = _call(client, method, path, body, {"x-conductrics-apikey": key_a})
    assert response.status_code == 403
    assert "Other" not in response.content.decode()
    assert _state() == before


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=IDS)
def test_staff_of_another_account__is_403_and_changes_nothing(
    agent, victim, staff_user, method, path, body
):
    client = Client()
    client.force_login(staff_user)  # a member of ac-acme only
    before = _state()
    assert _call(client, method, path, body).status_code == 403
    assert _state() == before


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=IDS)
def test_own_key__reaches_own_account(client, victim, method, path, body):
    _, key_b = admin_key_create(account=victim)
    response = _call(client, method, path, body, {"authorization": f"Bearer {key_b}"})
    assert response.status_code in (200, 201, 204), response.content


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-conductrics-apikey": "admin-unknown"},
        {"authorization": "Bearer admin-unknown"},
        {"authorization": "Basic YWRtaW46YWRtaW4="},
    ],
)
def test_missing_or_unknown_key__is_401(client, victim, headers):
    assert _call(client, "get", "goals/", None, headers).status_code == 401


def test_runtime_key__is_refused_on_the_management_api(client, victim, other_setup):
    response = _call(
        client, "get", "goals/", None, {"x-conductrics-apikey": other_setup["target"].api_key}
    )
    assert response.status_code == 401
    assert "runtime key" in response.json()["detail"]


def test_revoked_admin_key__is_401(client, victim):
    key, raw = admin_key_create(account=victim)
    admin_key_revoke(key=key)
    assert _call(client, "get", "goals/", None, {"x-conductrics-apikey": raw}).status_code == 401


def test_admin_key__is_refused_on_the_agent_api(api, agent, express_target):
    _, raw = admin_key_create(account=agent.account)
    assert api.call(express_target, [{"a": "a-hero"}], key=raw).status_code == 401


def test_staff_session__writes_need_csrf(agent, staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert _call(client, "get", "goals/", None, account="ac-acme").status_code == 200
    response = _call(client, "post", "goals/", {"name": "X"}, account="ac-acme")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Goal.objects.filter(name="X").exists()


def test_staff_member__reaches_own_account(client, agent):
    user = get_user_model().objects.create_user(username="bob", password="x", is_staff=True)
    membership_add(account=agent.account, user=user)
    client.force_login(user)
    assert _call(client, "get", "agents/", None, account="ac-acme").status_code == 200


def test_unknown_account__with_a_key__is_403_not_404(client, agent):
    _, key = admin_key_create(account=agent.account)
    assert (
        _call(
            client, "get", "goals/", None, {"x-conductrics-apikey": key}, account="ac-nope"
        ).status_code
        == 403
    )


# Hardening 2, item 6 (SPEC §10): the management API refuses a body over 1 MiB with 413
# before reading it.
def test_body_over_one_mib__413(admin_api):
    big = '{"name": "' + "x" * (1024 * 1024) + '"}'
    response = admin_api("post", "goals/", big)
    assert response.status_code == 413
    assert response.json() == {"detail": "The body is larger than 1048576 bytes (1 MiB)."}
    assert not Goal.objects.filter(code__startswith="g-").exclude(code="g-purchase").exists()


def test_body_announced_at_20_mb__413_without_reading_it(client, account):
    """The test client's body holds 10 bytes and raises if more are read: the 413 comes
    from the announced length alone."""
    _, key = admin_key_create(account=account)
    response = client.post(
        "/api/ac-acme/goals/", data='{"name": ', content_type="application/json",
        headers={"authorization": f"Bearer {key}"}, CONTENT_LENGTH=str(20 * 1024 * 1024),
    )  # fmt: skip
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The body is larger than")
