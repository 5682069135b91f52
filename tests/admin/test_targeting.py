"""Targeting on the agent's admin page: the JSON fields checked as the management API checks
them (the message names the path), and each condition shown in words."""

import json

import pytest
from django.urls import reverse

from agents.services import agent_update

pytestmark = pytest.mark.django_db

GOLD = {"source": "input", "name": "plan", "op": "eq", "value": "gold"}


def _change_post(agent, *, variations=None, **fields):
    """The agent's change form as a person submits it, with `fields` changed."""
    saved = list(agent.variations.all())
    rows = variations if variations is not None else [(v.code, v.weight, v.pk) for v in saved]
    kept = {pk for _, _, pk in rows if pk}
    # the saved variations first (each kept or deleted), then the new ones
    forms = [(v.code, v.weight, v.pk, v.pk not in kept) for v in saved]
    forms += [(code, weight, None, False) for code, weight, pk in rows if not pk]
    data = {
        "name": agent.name, "status": agent.status, "paused_variation": "",
        "goals": [g.pk for g in agent.goals.all()], "targets": [t.pk for t in agent.targets.all()],
        "eligibility": json.dumps(agent.eligibility), "rules": json.dumps(agent.rules),
        "qa": json.dumps(agent.qa), "allocation": agent.allocation,
        "phase_confirm": "on",  # a change of eligibility begins a phase (tests/reports)
        "variations-TOTAL_FORMS": str(len(forms)), "variations-INITIAL_FORMS": str(len(saved)),
        "variations-MIN_NUM_FORMS": "0", "variations-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for i, (code, weight, pk, delete) in enumerate(forms):
        data.update({
            f"variations-{i}-id": pk or "", f"variations-{i}-agent": agent.pk,
            f"variations-{i}-position": str(i), f"variations-{i}-code": code,
            f"variations-{i}-name": "", f"variations-{i}-weight": str(weight),
            f"variations-{i}-metadata": "{}",
        })  # fmt: skip
        if delete:
            data[f"variations-{i}-DELETE"] = "on"
    data.update({k: json.dumps(v) for k, v in fields.items()})
    return data


def test_agent_change__saves_rules_and_shows_them_in_words(admin_client, agent):
    url = reverse("admin:agents_agent_change", args=[agent.pk])
    rules = [{"name": "gold gets B", "when": GOLD, "variation": "B"}]
    eligibility = {"all": [GOLD, {"source": "random", "op": "lte", "value": 20}]}
    response = admin_client.post(url, _change_post(agent, rules=rules, eligibility=eligibility))
    assert response.status_code == 302, response.content.decode()[:3000]
    agent.refresh_from_db()
    assert agent.rules == rules
    assert agent.eligibility == eligibility
    html = admin_client.get(url).content.decode()
    assert "Applies to: input plan is gold and 20% of visitors" in html
    assert "Rule 1, “gold gets B”: input plan is gold → B" in html


def test_agent_change__bad_condition__shows_the_path_and_saves_nothing(admin_client, agent):
    url = reverse("admin:agents_agent_change", args=[agent.pk])
    rules = [{"name": "x", "when": {"all": [GOLD, {**GOLD, "op": "equals"}]}, "variation": "B"}]
    response = admin_client.post(url, _change_post(agent, rules=rules))
    assert response.status_code == 200
    assert (
        "rules[0].when.all[1].op: unknown operator &quot;equals&quot;" in response.content.decode()
    )
    agent.refresh_from_db()
    assert agent.rules == []


def test_agent_change__removing_the_variation_a_rule_forces__is_refused(admin_client, agent):
    agent_update(agent=agent, rules=[{"name": "b", "when": None, "variation": "B"}])
    url = reverse("admin:agents_agent_change", args=[agent.pk])
    a = agent.variations.get(code="A")
    response = admin_client.post(
        url, _change_post(agent, variations=[("A", 1, a.pk), ("C", 1, None)])
    )
    assert response.status_code == 200
    assert "rules[0].variation: &quot;B&quot; is not a variation" in response.content.decode()
    assert set(agent.variations.values_list("code", flat=True)) == {"A", "B"}


def test_agent_explain__answers_the_decision_and_records_nothing(admin_client, agent):
    from visitors.models import Assignment

    agent_update(agent=agent, rules=[{"name": "gold gets B", "when": GOLD, "variation": "B"}])
    page = reverse("admin:agents_agent_change", args=[agent.pk])
    url = reverse("admin:agents_agent_explain", args=[agent.pk])
    assert url in admin_client.get(page).content.decode()
    form = {"target": "dt-web", "session": "s-1", "inputs": '{"plan": "gold"}', "traits": "",
            "ua": "curl/8.4.0", "vid": ""}  # fmt: skip
    html = admin_client.post(url, form).content.decode()
    assert "Variation B" in html
    assert (
        "a-hero: rule &#x27;gold gets B&#x27; matched (input plan = &quot;gold&quot;): B (p=f)"
        in html
    )
    assert "Added trait &#x27;ua/mo:n&#x27; (apply)" in html
    assert not Assignment.objects.exists()
    bad = admin_client.post(url, {**form, "inputs": "[1]"}).content.decode()
    assert "must be an object of string values" in bad


def test_agent_explain__staff_of_another_account__get_404(client, other_setup, staff_user):
    client.force_login(staff_user)
    url = reverse("admin:agents_agent_explain", args=[other_setup["agent"].pk])
    assert client.get(url).status_code == 404


def test_group_admin__pickers_list_the_staff_members_agents_only(staff_client, agent, other_setup):
    html = staff_client.get(reverse("admin:agents_agentgroup_add")).content.decode()
    assert f'<option value="{agent.pk}">' in html
    assert f'<option value="{other_setup["agent"].pk}">' not in html


def test_group_admin__creates_a_group_with_its_agents(admin_client, agent, account):
    from agents.models import AgentGroup

    response = admin_client.post(reverse("admin:agents_agentgroup_add"), {
        "account": account.pk, "code": "mx-home", "name": "Home",
        "members-TOTAL_FORMS": "1", "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0", "members-MAX_NUM_FORMS": "1000",
        "members-0-position": "0", "members-0-agent": agent.pk, "members-0-weight": "2",
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    group = AgentGroup.objects.get(code="mx-home")
    assert [(m.agent.code, m.weight) for m in group.members.all()] == [("a-hero", 2.0)]
