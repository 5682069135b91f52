"""Phases as a person meets them (SPEC §4e): raising a variation's weight on a running
agent asks first, then begins phase 2; the results page lists the phases, each with its
own sample-ratio test, charts the shares, and switches to all phases weighted."""

import pytest
from django.test import Client

from agents.demo import DEMO_AGENT, DEMO_EXPRESS_TARGET
from agents.models import Agent, AgentStatus
from agents.services import agent_update
from targets.models import DeployTarget

pytestmark = pytest.mark.django_db(transaction=True)


def _visits(prefix: str, count: int) -> None:
    web = DeployTarget.objects.get(code=DEMO_EXPRESS_TARGET)
    client = Client()
    for i in range(count):
        url = f"/ac-demo/v3/agent-api?apikey={web.api_key}&session={prefix}{i}"
        response = client.post(url, data=f'[{{"a": "{DEMO_AGENT}"}}]', content_type="text/plain")
        assert response.status_code == 200


def test_a_ramp_up_asks_first_then_shows_two_phases(demo_admin, page, output_dir, live_server):
    agent = Agent.objects.get(code=DEMO_AGENT)
    agent_update(agent=agent, status=AgentStatus.RUNNING)
    _visits("one-", 8)
    demo_admin(page, f"/admin/agents/agent/{agent.pk}/change/")
    page.fill("input[name='variations-1-weight']", "3")
    page.click("input[name=_save]")
    warning = page.wait_for_selector(".errorlist")
    assert "This save begins phase 2" in warning.inner_text()
    page.screenshot(path=str(output_dir / "phase-asks-first.png"), full_page=True)
    page.check("#id_phase_confirm")
    page.click("input[name=_save]")
    message = page.wait_for_selector(".messagelist .info")
    assert f"Phase 2 of {DEMO_AGENT} began (the weights changed)." in message.inner_text()
    _visits("two-", 8)

    page.goto(f"{live_server.url}/admin/agents/agent/{agent.pk}/results/")
    phases = page.wait_for_selector("#phases")
    assert "the current phase (2)" in phases.inner_text()
    rows = page.locator(".phases-table tbody tr")
    assert rows.count() == 2
    assert "as weighted" in rows.nth(0).inner_text()
    assert page.locator("#shares-chart svg").count() == 1
    page.screenshot(path=str(output_dir / "phases-results.png"), full_page=True)
    page.click("text=All phases, weighted")
    page.wait_for_selector(".phase-switch strong:has-text('All phases, weighted')")
    assert "all phases" in page.locator("#phases").inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # no sideways scrolling on a phone
    page.screenshot(path=str(output_dir / "phases-all-phone.png"), full_page=True)
