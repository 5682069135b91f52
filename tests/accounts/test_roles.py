"""Roles (SPEC §6b): viewer, editor and owner members, read and write admin keys, each
against every write of the management API (taken from its own schema, so a new write
cannot go unchecked) and of the admin; expired keys."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.roles import Role
from accounts.services import admin_key_create, membership_add
from agents.services import MemberSpec, group_create
from notifications.models import Webhook
from tests.helpers import member_make

pytestmark = pytest.mark.django_db

# the role each write needs, by the resource its path names (the table of SPEC §6b)
NEEDED = {"agents": Role.EDITOR, "goals": Role.EDITOR, "groups": Role.EDITOR,
          "targets": Role.OWNER, "visitors": Role.OWNER, "webhooks": Role.OWNER}  # fmt: skip
READS_ONLY = ("/explain/",)  # POSTs that record nothing: any member or key


def _needed(path):
    if any(mark in path for mark in READS_ONLY):
        return Role.VIEWER
    return NEEDED[path.split("/")[3]]


def _url(path):
    resource = path.split("/")[3]
    code = {"agents": "a-hero", "goals": "g-purchase", "groups": "mx-roles",
            "targets": "dt-web"}.get(resource, "")  # fmt: skip
    path = path.replace("{account}", "ac-acme").replace("{code}", code).replace("{vid}", "v-1")
    hook = Webhook.objects.filter(account__code="ac-acme").values_list("pk", flat=True).first()
    return path.replace("{id}", str(hook))


@pytest.fixture
def world(agent, express_target, rest_target, purchase_goal):
    group_create(account=agent.account, code="mx-roles", name="Roles", members=[MemberSpec(agent)])
    Webhook.objects.create(account=agent.account, name="Roles", url="https://hooks.example.com/")
    return agent.account


def _call(client, method, url, **headers):
    return getattr(client, method)(
        url, data=json.dumps({}), content_type="application/json", headers=headers
    )


def _writes_static():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        if path.startswith("/api/"):
            for method in operations:
                if method in ("post", "put", "patch", "delete"):
                    yield method, path


WRITES = sorted(set(_writes_static()))


def test_every_management_write_has_its_role():
    """A write whose resource has no role in NEEDED would be refused to everyone but owners
    by accident; the table above must name each."""
    assert WRITES
    for _, path in WRITES:
        assert _needed(path) in Role.values


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.OWNER])
@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_member_role__each_write__refused_with_the_role_named_or_allowed(
    client, world, role, method, path
):
    client.force_login(member_make(world, role))
    response = _call(client, method, _url(path))
    needed = _needed(path)
    allowed = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}
    if allowed[role] >= allowed[needed]:
        assert response.status_code != 403, response.content
    else:
        assert response.status_code == 403, response.content
        detail = response.json()["detail"]
        assert f"needs the {needed} role in ac-acme" in detail
        assert f"you are a{'n' if role[0] in 'aeiou' else ''} {role}" in detail


@pytest.mark.parametrize("scope", ["read", "write"])
@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_key_scope__each_write__read_keys_refused(client, world, scope, method, path):
    _, raw = admin_key_create(account=world, scope=scope)
    response = _call(client, method, _url(path), Authorization=f"Bearer {raw}")
    if scope == "write" or _needed(path) == Role.VIEWER:
        assert response.status_code != 403, response.content
    else:
        assert response.status_code == 403, response.content
        assert "this admin key is read-only" in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.OWNER])
def test_member_role__reads_allowed_to_every_role(client, world, role):
    client.force_login(member_make(world, role))
    assert client.get("/api/ac-acme/agents/").status_code == 200
    assert client.get("/api/ac-acme/targets/").status_code == 200


def test_expired_key__refused_with_when(client, world):
    key, raw = admin_key_create(account=world, expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get("/api/ac-acme/agents/", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    key.expires_at = timezone.now() + timedelta(days=1)
    key.save()
    response = client.get("/api/ac-acme/agents/", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None  # shown in the admin


# --- the admin: the same roles, hidden actions and refused posts ---

ADMIN_CHANGES = [  # (model admin URL name, object, the role that may change it)
    ("agents_agent", "agent", Role.EDITOR),
    ("goals_goal", "purchase_goal", Role.EDITOR),
    ("targets_deploytarget", "express_target", Role.OWNER),
    ("accounts_account", "account", Role.OWNER),
]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.OWNER])
@pytest.mark.parametrize(
    ("name", "fixture", "needed"), ADMIN_CHANGES, ids=[c[0] for c in ADMIN_CHANGES]
)
def test_admin__change_page__read_only_and_post_refused_below_the_role(
    client, world, request, role, name, fixture, needed
):
    obj = request.getfixturevalue(fixture)
    client.force_login(member_make(world, role))
    url = reverse(f"admin:{name}_change", args=[obj.pk])
    page = client.get(url)
    assert page.status_code == 200  # every member reads
    may = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}[role] >= {
        Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}[needed]  # fmt: skip
    assert ('name="_save"' in page.content.decode()) is may  # no save button below it
    posted = client.post(url, {"name": "renamed"})
    if not may:
        assert posted.status_code == 403
        obj.refresh_from_db()
        assert obj.name != "renamed"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_admin__actions_hidden_and_refused_below_the_role(client, world, express_target, role):
    client.force_login(member_make(world, role))
    changelist = reverse("admin:targets_deploytarget_changelist")
    assert "rotate_key" not in client.get(changelist).content.decode()
    old = express_target.api_key
    response = client.post(
        changelist, {"action": "rotate_key", "_selected_action": [express_target.pk]}
    )
    express_target.refresh_from_db()
    assert express_target.api_key == old
    assert response.status_code in (200, 302, 403)


def test_admin__editor_runs_agent_actions_only_in_its_accounts(client, world, agent, other_setup):
    """An action on a selection of two accounts changes only where the role allows it."""
    user = member_make(world, Role.EDITOR)
    membership_add(account=other_setup["agent"].account, user=user, role=Role.VIEWER)
    client.force_login(user)
    response = client.post(
        reverse("admin:agents_agent_changelist"),
        {"action": "mark_stopped", "_selected_action": [agent.pk, other_setup["agent"].pk]},
        follow=True,
    )
    agent.refresh_from_db()
    other_setup["agent"].refresh_from_db()
    assert agent.status == "stopped"
    assert other_setup["agent"].status == "paused"  # as it was
    assert "1 of the selected objects belong to accounts where your role" in (
        response.content.decode()
    )


def _account_form(account, memberships):
    """The account's change form as posted, with `memberships` as (membership, role,
    delete) rows."""
    form = {
        "code": account.code, "name": account.name,
        "attribution_window_hours": account.attribution_window_hours,
        "retention_days": account.retention_days, "mde_rel": account.mde_rel,
        "sequential_tuning": account.sequential_tuning,
        "adaptive_period_minutes": account.adaptive_period_minutes,
        "adaptive_floor": account.adaptive_floor, "adaptive_burn_in": account.adaptive_burn_in,
        "match_rate_min": account.match_rate_min,
        "memberships-TOTAL_FORMS": len(memberships),
        "memberships-INITIAL_FORMS": len(memberships),
        "admin_keys-TOTAL_FORMS": 0, "admin_keys-INITIAL_FORMS": 0,
    }  # fmt: skip
    for i, (membership, role, delete) in enumerate(memberships):
        form[f"memberships-{i}-id"] = membership.pk
        form[f"memberships-{i}-account"] = account.pk
        form[f"memberships-{i}-role"] = role
        if delete:
            form[f"memberships-{i}-DELETE"] = "on"
    return form


def test_admin__owner_changes_a_members_role__audited(client, world, staff_user):
    viewer = member_make(world, Role.VIEWER)
    client.force_login(staff_user)  # the account's owner
    membership = Membership.objects.get(user=viewer)
    url = reverse("admin:accounts_account_change", args=[world.pk])
    page = client.get(url).content.decode()
    assert 'name="memberships-' in page
    rows = [(m, Role.EDITOR if m.pk == membership.pk else m.role, False)
            for m in Membership.objects.filter(account=world).order_by("pk")]  # fmt: skip
    form = _account_form(world, rows)
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    membership.refresh_from_db()
    assert membership.role == Role.EDITOR


@pytest.mark.parametrize("how", ["demoted", "removed"])
def test_admin__the_last_owner__cannot_be_demoted_or_removed(client, world, staff_user, how):
    editor = member_make(world, Role.EDITOR)
    client.force_login(staff_user)  # the account's one owner
    mine = Membership.objects.get(account=world, user=staff_user)
    theirs = Membership.objects.get(account=world, user=editor)
    url = reverse("admin:accounts_account_change", args=[world.pk])
    rows = [(mine, Role.VIEWER, False) if how == "demoted" else (mine, Role.OWNER, True),
            (theirs, Role.EDITOR, False)]  # fmt: skip
    response = client.post(url, _account_form(world, rows))
    assert response.status_code == 200  # the form again, with the reason
    assert f"{world.code} needs an owner" in response.content.decode()
    assert Membership.objects.get(pk=mine.pk).role == Role.OWNER
    # another owner first: then the same change is saved
    rows = [rows[0], (theirs, Role.OWNER, False)]
    assert client.post(url, _account_form(world, rows)).status_code == 302
    assert Membership.objects.get(pk=theirs.pk).role == Role.OWNER
