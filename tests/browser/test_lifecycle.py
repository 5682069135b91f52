"""From a draft to a decision, as a person does it in the admin (SPEC §6b): run the
prepared draft from its page, scan the agents list, decide on the winner, and read the
decision on the results page."""

import pytest
from django.test import Client

from agents.demo import DEMO_AGENT, DEMO_EXPRESS_TARGET
from agents.models import Agent, AgentStatus
from agents.services import agent_update
from targets.models import DeployTarget

pytestmark = pytest.mark.django_db(transaction=True)


def _visits(count: int) -> None:
    web = DeployTarget.objects.get(code=DEMO_EXPRESS_TARGET)
    client = Client()
    for i in range(count):
        url = f"/ac-demo/v3/agent-api?apikey={web.api_key}&session=d{i}"
        assert (
            client.post(url, data='[{"a": "a-hero"}]', content_type="text/plain").status_code == 200
        )


def test_draft_to_decision(demo_admin, page, output_dir, live_server):
    agent = Agent.objects.get(code=DEMO_AGENT)
    agent_update(agent=agent, status=AgentStatus.DRAFT)
    demo_admin(page, f"/admin/agents/agent/{agent.pk}/change/")
    page.select_option("#id_status", "running")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    _visits(6)

    page.goto(f"{live_server.url}/admin/agents/agent/")
    row = page.locator("#result_list tbody tr", has_text=DEMO_AGENT)
    assert row.locator(".field-status_line").inner_text() == "Running"
    assert row.locator(".field-visitors").inner_text() == "6"
    assert row.locator(".field-verdict").inner_text().startswith("Keep running (g-")
    assert row.locator(".field-tag_words").inner_text() == "homepage, copy"
    page.screenshot(path=str(output_dir / "agents-list.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/agents/agent/{agent.pk}/change/")
    page.click("a.decide-link")
    page.wait_for_selector("#decide-verdicts")
    page.check("input[name=variation][value=B]")
    page.fill("#id_note", "B reads better; ship it.")
    page.screenshot(path=str(output_dir / "decide.png"), full_page=True)
    page.click("#decide-form input[type=submit]")
    decision = page.wait_for_selector("#decision")
    assert "Decided: B won" in decision.inner_text()
    assert "every visitor gets B" in decision.inner_text()
    assert "B reads better; ship it." in decision.inner_text()
    page.screenshot(path=str(output_dir / "decided-results.png"), full_page=True)
    agent.refresh_from_db()
    assert (agent.status, agent.paused_variation.code) == (AgentStatus.PAUSED, "B")
