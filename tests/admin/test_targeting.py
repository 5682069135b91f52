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
        "qa": json.dumps(agent.qa),
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
