"""The audit log (SPEC §6): who changed what and when, with the values before and after,
shown on the object and per account; runtime keys never stored; other accounts unseen."""

import json

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from agents.services import VariationSpec, agent_update
from targets.services import target_rotate_key

pytestmark = pytest.mark.django_db


def _target_post(target, **changes):
    data = {
        "name": target.name, "kind": target.kind, "enabled": "on" if target.enabled else "",
        "allow_external_vid": "on" if target.allow_external_vid else "",
        "allowed_origins": "\n".join(target.allowed_origins or []),
    }  # fmt: skip
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_data_passing_turned_off__kept_with_who_and_the_values(
    staff_client, staff_user, account, rest_target
):
    url = reverse("admin:targets_deploytarget_change", args=[rest_target.pk])
    response = staff_client.post(url, _target_post(rest_target, allow_external_vid=""))
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = LogEntry.objects.get_for_object(rest_target).latest("timestamp")
    assert entry.actor == staff_user
    assert entry.changes_dict["allow_external_vid"] == ["True", "False"]
    assert entry.additional_data == {"account_id": account.pk}
    page = staff_client.get(url).content.decode()
    assert "allow_external_vid</code>: True → False" in page
    assert "alice" in page.split("Change history")[1]
    log = staff_client.get(reverse("admin:accounts_account_audit_log", args=[account.pk]))
    assert log.status_code == 200
    assert "allow_external_vid</code>: True → False" in log.content.decode()


def test_key_rotation__logged_masked_never_in_clear(admin_client, account, express_target):
    old = express_target.api_key
    new = target_rotate_key(target=express_target)
    entry = LogEntry.objects.get_for_object(express_target).latest("timestamp")
    before, after = entry.changes_dict["api_key"]
    assert before == f"api-…{old[-4:]}"
    assert after == f"api-…{new[-4:]}"
    stored = json.dumps([e.changes for e in LogEntry.objects.all()]) + "".join(
        e.changes_text for e in LogEntry.objects.all()
    )
    assert old not in stored
    assert new not in stored


def test_agent_page__shows_status_weights_and_rules_changes(admin_client, agent):
    agent_update(agent=agent, status="paused")
    agent_update(agent=agent, variations=[VariationSpec("A", weight=3), VariationSpec("B")])
    agent_update(agent=agent, rules=[{"name": "all B", "when": None, "variation": "B"}])
    html = admin_client.get(reverse("admin:agents_agent_change", args=[agent.pk])).content.decode()
    history = html.split("Change history")[1]
    assert "status</code>: running → paused" in history
    assert "weight</code>: 1.0 → 3.0" in history
    assert "all B" in history


def test_account_audit_log__staff_of_another_account_see_nothing(
    staff_client, other_setup, other_account
):
    url = reverse("admin:accounts_account_audit_log", args=[other_account.pk])
    assert staff_client.get(url).status_code in (403, 404)
