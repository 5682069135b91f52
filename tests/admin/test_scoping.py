"""Staff who are not superusers see and edit only their own accounts' objects."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.services import admin_key_create
from goals.models import Goal

pytestmark = pytest.mark.django_db

PAGES = [
    ("accounts_account", lambda s: s["account"]),
    ("targets_deploytarget", lambda s: s["target"]),
    ("goals_goal", lambda s: s["goal"]),
    ("agents_agent", lambda s: s["agent"]),
    ("accounts_adminapikey", lambda s: s["key"]),
]


@pytest.fixture
def two_tenants(agent, other_setup, other_account):
    mine_key, _ = admin_key_create(account=agent.account)
    theirs_key, _ = admin_key_create(account=other_account)
    return {
        "mine": {
            "account": agent.account,
            "target": agent.targets.first(),
            "goal": agent.goals.first(),
            "agent": agent,
            "key": mine_key,
        },
        "theirs": {
            "account": other_account,
            "target": other_setup["target"],
            "goal": other_setup["goal"],
            "agent": other_setup["agent"],
            "key": theirs_key,
        },
    }


@pytest.mark.parametrize(("page", "pick"), PAGES, ids=[p for p, _ in PAGES])
def test_staff__changelist__lists_only_their_account(staff_client, two_tenants, page, pick):
    response = staff_client.get(reverse(f"admin:{page}_changelist"))
    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert pick(two_tenants["mine"]).pk in shown
    assert pick(two_tenants["theirs"]).pk not in shown


@pytest.mark.parametrize(("page", "pick"), PAGES, ids=[p for p, _ in PAGES])
def test_staff__change_page_of_another_account__is_not_reachable(
    staff_client, two_tenants, page, pick
):
    mine = staff_client.get(reverse(f"admin:{page}_change", args=[pick(two_tenants["mine"]).pk]))
    assert mine.status_code == 200
    theirs = staff_client.get(
        reverse(f"admin:{page}_change", args=[pick(two_tenants["theirs"]).pk]), follow=True
    )
    # Django's admin answers an object outside the queryset with a redirect to the index.
    assert theirs.redirect_chain, theirs.status_code
    hidden = pick(two_tenants["theirs"])
    marker = getattr(hidden, "prefix", None) or hidden.name
    assert marker not in theirs.content.decode()


def test_staff__cannot_edit_another_accounts_goal(staff_client, two_tenants):
    goal = two_tenants["theirs"]["goal"]
    staff_client.post(
        reverse("admin:goals_goal_change", args=[goal.pk]),
        {"name": "hacked", "trigger": "api", "counting": "once"},
    )
    assert Goal.objects.get(pk=goal.pk).name != "hacked"


def test_staff__add_goal_form__offers_only_their_accounts(staff_client, two_tenants):
    response = staff_client.get(reverse("admin:goals_goal_add"))
    choices = {c for c, _ in response.context["adminform"].form.fields["account"].choices if c}
    assert {int(str(c)) for c in choices} == {two_tenants["mine"]["account"].pk}


def test_staff__add_goal_in_another_account__is_refused(staff_client, two_tenants):
    theirs = two_tenants["theirs"]["account"]
    response = staff_client.post(
        reverse("admin:goals_goal_add"),
        {
            "account": theirs.pk,
            "code": "g-sneaky",
            "name": "S",
            "trigger": "api",
            "counting": "once",
        },
    )
    assert response.status_code == 200
    assert not Goal.objects.filter(code="g-sneaky").exists()


def test_staff__agent_form__offers_only_their_goals(staff_client, two_tenants):
    agent = two_tenants["mine"]["agent"]
    response = staff_client.get(reverse("admin:agents_agent_change", args=[agent.pk]))
    offered = set(response.context["adminform"].form.fields["goals"].queryset)
    assert two_tenants["theirs"]["goal"] not in offered
    assert two_tenants["mine"]["goal"] in offered


def test_staff__cannot_add_or_delete_accounts(staff_client, two_tenants):
    assert staff_client.get(reverse("admin:accounts_account_add")).status_code == 403
    mine = two_tenants["mine"]["account"]
    response = staff_client.get(reverse("admin:accounts_account_delete", args=[mine.pk]))
    assert response.status_code == 403


def test_staff_without_membership__sees_nothing(client, two_tenants):
    user = get_user_model().objects.create_user(username="bob", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:goals_goal_changelist")).status_code == 403


def test_staff__raw_data_lists__show_only_their_account(staff_client, api, two_tenants):
    from visitors.models import Assignment

    mine = two_tenants["mine"]
    api.data(mine["target"], [{"a": "a-hero"}], session="mine")
    theirs = two_tenants["theirs"]
    api.data(theirs["target"], [], session="theirs", account="ac-other")
    theirs["agent"].status = "running"
    theirs["agent"].save()
    api.data(theirs["target"], [{"a": "a-hero"}], session="theirs", account="ac-other")
    assert Assignment.objects.count() == 2
    response = staff_client.get(reverse("admin:visitors_assignment_changelist"))
    shown = {a.session for a in response.context["cl"].result_list}
    assert shown == {"mine"}


@pytest.mark.parametrize(
    "page",
    [
        "goals_goal",
        "agents_agent",
        "targets_deploytarget",
        "visitors_assignment",
        "visitors_goalevent",
        "accounts_adminapikey",
    ],
)
def test_staff__filter_sidebar__lists_only_their_accounts_objects(
    staff_client, api, two_tenants, page
):
    api.data(two_tenants["theirs"]["target"], [{"a": two_tenants["theirs"]["agent"].code},
             {"g": two_tenants["theirs"]["goal"].code}], session="their-visitor",
             account="ac-other")  # fmt: skip
    api.data(two_tenants["mine"]["target"], [{"a": "a-hero"}, {"g": "g-purchase"}])
    response = staff_client.get(reverse(f"admin:{page}_changelist"))
    assert response.status_code == 200
    choices = " ".join(
        str(choice.get("display", ""))
        for spec in response.context["cl"].filter_specs
        for choice in spec.choices(response.context["cl"])
    )
    theirs = two_tenants["theirs"]
    for obj in (theirs["account"], theirs["goal"], theirs["agent"]):
        assert str(obj) not in choices
