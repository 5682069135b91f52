"""The goal page's match rate and time to convert as a person reads them (SPEC §4d): after
REST goals of which some came under an id the page never passed, the share found, per
target, and how long after the assignment the goals came."""

import pytest

from agents.demo import DEMO_ACCOUNT, DEMO_AGENT, DEMO_EXPRESS_TARGET, DEMO_GOAL, DEMO_REST_TARGET
from goals.models import Goal
from targets.models import DeployTarget

pytestmark = pytest.mark.django_db(transaction=True)


def test_goal_page__match_rate_and_time_to_convert(demo_admin, page, output_dir, api):
    demo_admin(page, "/admin/")  # seeds the demo
    targets = DeployTarget.objects.filter(account__code=DEMO_ACCOUNT)
    express, rest = targets.get(code=DEMO_EXPRESS_TARGET), targets.get(code=DEMO_REST_TARGET)
    goal = Goal.objects.get(account__code=DEMO_ACCOUNT, code=DEMO_GOAL)
    for i in range(3):
        api.data(express, [{"a": DEMO_AGENT}], session=f"p-{i}", vid=f"v-{i}", account=DEMO_ACCOUNT)
    for vid in ("v-0", "v-1", "v-2", "customer-9"):  # the last: an id the page never passed
        api.data(rest, [{"g": DEMO_GOAL, "v": 10}], session=f"s-{vid}", vid=vid,
                 account=DEMO_ACCOUNT)  # fmt: skip
    page.goto(page.url.split("/admin/")[0] + f"/admin/goals/goal/{goal.pk}/change/")
    section = page.locator("fieldset:has-text('Match rate and time to convert')")
    assert section.locator("#match-rate-chart svg").count() == 1
    page.click("text=The match rate as a table")
    row = section.locator(f"tr[data-target={DEMO_REST_TARGET}]")
    assert row.locator("td.found").inner_text() == "3"
    assert row.locator("td.not-found").inner_text() == "1"
    assert row.locator("td.rate").inner_text() == "75.0%"
    summary = section.locator(".time-to-convert-summary").inner_text()
    assert "Of 3 goals matched to an assignment in the last 30 days, 0.0% came after" in summary
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(output_dir / "goal-match-rate.png"), full_page=True)
