"""The admin's forms: labels of SPEC §6, the domain's validation, code generation, actions."""

import pytest
from django.urls import reverse

from agents.models import Agent, AgentStatus
from goals.models import Goal
from targets.models import DeployTarget

pytestmark = pytest.mark.django_db


def test_target_change__shows_data_passing_with_the_option(admin_client, express_target):
    url = reverse("admin:targets_deploytarget_change", args=[express_target.pk])
    html = admin_client.get(url).content.decode()
    assert "Data Passing" in html
    assert "Allow Passing of External Visitor ID" in html
    assert express_target.api_key in html


def test_target_add__blank_code__is_generated_and_origins_parsed(admin_client, account):
    response = admin_client.post(
        reverse("admin:targets_deploytarget_add"),
        {
            "account": account.pk,
            "code": "",
            "name": "Shop Front",
            "kind": "express",
            "enabled": "on",
            "allow_external_vid": "on",
            "allowed_origins": "https://shop.example.com\n\nhttp://localhost:3000\n",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    target = DeployTarget.objects.get(name="Shop Front")
    assert target.code == "dt-shop-front"
    assert target.allow_external_vid is True
    assert target.allowed_origins == ["https://shop.example.com", "http://localhost:3000"]
    assert target.api_key.startswith("api-")


def test_target_add__bad_origin__shows_the_error(admin_client, account):
    response = admin_client.post(
        reverse("admin:targets_deploytarget_add"),
        {"account": account.pk, "name": "Shop", "kind": "express", "allowed_origins": "shop"},
    )
    assert response.status_code == 200
    assert "is not an origin" in response.content.decode()
    assert not DeployTarget.objects.filter(name="Shop").exists()


def _cookies_text(client) -> str:
    return " ".join(f"{c.key}={c.value}" for c in client.cookies.values())


def test_target_rotate_key_action__changes_the_key_and_shows_it_once_on_the_page(
    admin_client, express_target
):
    old = express_target.api_key
    response = admin_client.post(
        reverse("admin:targets_deploytarget_changelist"),
        {"action": "rotate_key", "_selected_action": [express_target.pk]},
    )
    express_target.refresh_from_db()
    assert express_target.api_key != old
    assert response.status_code == 200  # the page itself, not a redirect carrying it
    assert "no-store" in response["Cache-Control"]
    assert f'<code class="shown-once-key">{express_target.api_key}</code>' in (
        response.content.decode()
    )
    assert express_target.api_key not in _cookies_text(admin_client)
    next_page = admin_client.get(reverse("admin:targets_deploytarget_changelist"))
    assert express_target.api_key not in next_page.content.decode()  # no message carried it


def test_goal_change__shows_trigger_rest_send_and_checklist(admin_client, agent, purchase_goal):
    html = admin_client.get(
        reverse("admin:goals_goal_change", args=[purchase_goal.pk])
    ).content.decode()
    assert "Programmatically, via API" in html
    assert "Goal events to be sent via REST API" in html
    assert "Server-side goal checklist" in html
    assert html.count('data-ok="true"') == 5  # the four, and ids linked through dt-server
    # the fifth, recommended: a purchase accepted from any target
    assert html.count('data-ok="false" data-recommended="true"') == 1
    assert "Goal events accepted from" in html


def test_goal_change__servers_only__the_recommended_item_ticked(admin_client, agent, purchase_goal):
    purchase_goal.accepted_from = "server"
    purchase_goal.save()
    html = admin_client.get(
        reverse("admin:goals_goal_change", args=[purchase_goal.pk])
    ).content.decode()
    assert html.count('data-ok="true"') == 6
    assert 'data-ok="false"' not in html


def test_goal_change__checklist_links_to_the_target_to_fix(
    admin_client, agent, purchase_goal, rest_target
):
    rest_target.allow_external_vid = False
    rest_target.save()
    html = admin_client.get(
        reverse("admin:goals_goal_change", args=[purchase_goal.pk])
    ).content.decode()
    assert html.count('data-ok="false" data-recommended="false"') == 1
    fix_url = reverse("admin:targets_deploytarget_change", args=[rest_target.pk]) + "#data-passing"
    assert fix_url in html


def test_goal_add__rest_send_on_page_goal__shows_the_domain_message(admin_client, account):
    response = admin_client.post(
        reverse("admin:goals_goal_add"),
        {
            "account": account.pk,
            "code": "g-buy",
            "name": "Buy",
            "trigger": "page_event",
            "rest_send": "on",
            "counting": "once",
        },
    )
    assert response.status_code == 200
    assert "can only be turned on for API goals" in response.content.decode()
    assert not Goal.objects.filter(code="g-buy").exists()


def _agent_post(account, variations, **extra):
    data = {
        "account": account.pk,
        "code": "",
        "name": "Banner",
        "status": "running",
        "variations-TOTAL_FORMS": str(len(variations)),
        "variations-INITIAL_FORMS": "0",
        "variations-MIN_NUM_FORMS": "0",
        "variations-MAX_NUM_FORMS": "1000",
    }
    for i, (code, weight) in enumerate(variations):
        data.update(
            {
                f"variations-{i}-position": str(i),
                f"variations-{i}-code": code,
                f"variations-{i}-name": "",
                f"variations-{i}-weight": str(weight),
                f"variations-{i}-metadata": "{}",
            }
        )
    data.update(extra)
    return data


def test_agent_add__with_inline_variations__is_created(admin_client, account, purchase_goal):
    response = admin_client.post(
        reverse("admin:agents_agent_add"),
        _agent_post(account, [("A", 1), ("B", 1)], goals=[purchase_goal.pk]),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    agent = Agent.objects.get(code="a-banner")
    assert [v.code for v in agent.variations.all()] == ["A", "B"]
    assert list(agent.goals.all()) == [purchase_goal]


@pytest.mark.parametrize(
    ("variations", "message"),
    [
        ([("A", 1)], "two or more variations"),
        ([("A", 0), ("B", 0)], "all 0"),
        ([("A", 1), ("A", 1)], "duplicate"),
    ],
)
def test_agent_add__bad_variations__are_refused(admin_client, account, variations, message):
    response = admin_client.post(
        reverse("admin:agents_agent_add"), _agent_post(account, variations)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Agent.objects.filter(name="Banner").exists()


def test_agent_add__goal_of_another_account__is_refused(admin_client, account, other_setup):
    response = admin_client.post(
        reverse("admin:agents_agent_add"),
        _agent_post(account, [("A", 1), ("B", 1)], goals=[other_setup["goal"].pk]),
    )
    assert response.status_code == 200
    assert "belong to another account" in response.content.decode()
    assert not Agent.objects.filter(name="Banner").exists()


def test_agent_change__shows_checklist_per_goal(admin_client, agent):
    html = admin_client.get(reverse("admin:agents_agent_change", args=[agent.pk])).content.decode()
    assert "Server-side goal checklist" in html
    assert "g-purchase" in html
    assert html.count('data-ok="true"') == 5


def test_agent_status_actions__change_the_status(admin_client, agent):
    admin_client.post(
        reverse("admin:agents_agent_changelist"),
        {"action": "mark_paused", "_selected_action": [agent.pk]},
    )
    agent.refresh_from_db()
    assert agent.status == AgentStatus.PAUSED


def test_account_create_admin_key_action__shows_key_once(admin_client, account):
    import re

    response = admin_client.post(
        reverse("admin:accounts_account_changelist"),
        {"action": "create_admin_key", "_selected_action": [account.pk]},
    )
    html = response.content.decode()
    [key] = re.findall(r'<code class="shown-once-key">(admin-[A-Za-z0-9_-]{32})</code>', html)
    assert "<td>ac-acme (write)</td>" in html
    assert account.admin_keys.count() == 1
    assert key not in _cookies_text(admin_client)
    again = admin_client.get(reverse("admin:accounts_account_changelist")).content.decode()
    assert key not in again


def test_target_add_form__shows_no_key_before_one_is_made(admin_client, account):
    html = admin_client.get(reverse("admin:targets_deploytarget_add")).content.decode()
    assert "api-" not in html
    assert "Runtime API key" not in html
