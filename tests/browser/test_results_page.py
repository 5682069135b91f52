"""The results page as a person reads it: the verdict first, both lifts, the chart with its
confidence band and a daily / cumulative switch, a table alternative; no sideways scrolling
at 1280 px, readable at 390 px."""

import pytest
from django.test import Client

from agents.demo import DEMO_AGENT, DEMO_EXPRESS_TARGET, DEMO_REST_TARGET
from agents.models import Agent
from targets.models import DeployTarget

pytestmark = pytest.mark.django_db(transaction=True)


def _traffic():
    web = DeployTarget.objects.get(code=DEMO_EXPRESS_TARGET)
    rest = DeployTarget.objects.get(code=DEMO_REST_TARGET)
    client = Client()

    def send(key: str, body: str, visitor: str) -> None:
        url = f"/ac-demo/v3/agent-api?apikey={key}&session={visitor}&vid={visitor}"
        assert client.post(url, data=body, content_type="text/plain").status_code == 200

    for i in range(40):
        send(web.api_key, '[{"a": "a-hero"}]', f"r{i}")
        if i % 3 == 0:
            send(rest.api_key, '[{"g": "g-purchase", "v": 20}]', f"r{i}")


@pytest.mark.parametrize("width", [1280, 390])
def test_results_page__verdict_lifts_chart_and_width(demo_admin, browser, output_dir, width):
    _traffic()
    agent = Agent.objects.get(code=DEMO_AGENT)
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        demo_admin(page, f"/admin/agents/agent/{agent.pk}/results/")
        page.wait_for_selector(".verdict")
        first = page.locator(".goal-results").first
        assert first.locator(".verdict").inner_text().strip()  # the verdict leads
        assert first.locator(".rate-table").count() == 1  # conversion-rate lift
        assert first.locator(".value-table").count() == 1  # value lift
        assert "lift 95% (daily)" in first.inner_text().lower()  # headers are upper-cased
        assert page.locator("#results-chart svg .band").count() >= 1  # the 95% band
        assert page.locator("details.chart-table table caption").count() == 1
        page.screenshot(path=str(output_dir / f"results-{width}.png"), full_page=True)
        page.click("text=Daily")
        page.wait_for_selector("#results-chart svg[aria-label^='Daily conversion rate']")
        # no sideways scrolling (wide tables scroll inside their own box)
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    finally:
        context.close()
