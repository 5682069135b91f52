"""The goal page's "Re-check skipped events" as a person uses it (SPEC §4c): goals skipped
while "Goal events to be sent via REST API" was off, counted first, then credited."""

import pytest

from agents.demo import DEMO_ACCOUNT, DEMO_AGENT, DEMO_EXPRESS_TARGET, DEMO_GOAL, DEMO_REST_TARGET
from goals.models import Goal
from targets.models import DeployTarget
from visitors.models import Credit

pytestmark = pytest.mark.django_db(transaction=True)


def test_goal_recheck__count_then_credit(demo_admin, page, output_dir, api):
    demo_admin(page, "/admin/")  # seeds the demo
    targets = DeployTarget.objects.filter(account__code=DEMO_ACCOUNT)
    express, rest = targets.get(code=DEMO_EXPRESS_TARGET), targets.get(code=DEMO_REST_TARGET)
    goal = Goal.objects.get(account__code=DEMO_ACCOUNT, code=DEMO_GOAL)
    Goal.objects.filter(pk=goal.pk).update(rest_send=False)  # the setting wrong...
    for i in range(3):
        api.data(express, [{"a": DEMO_AGENT}], session=f"p-{i}", vid=f"v-{i}", account=DEMO_ACCOUNT)
        api.data(rest, [{"g": DEMO_GOAL, "v": 10, "id": f"o-{i}"}], session=f"s-{i}",
                 vid=f"v-{i}", account=DEMO_ACCOUNT)  # fmt: skip
    goal.rest_send = True  # ... and fixed
    goal.save()
    assert not Credit.objects.exists()
    page.goto(page.url.split("/admin/")[0] + f"/admin/goals/goal/{goal.pk}/change/")
    page.click("a.recheck-link")
    page.click("button[value=count]")
    page.wait_for_selector("#recheck-count")
    assert "3 skipped events would be judged again" in page.inner_text("#recheck-count")
    assert page.inner_text("tr[data-reason=rest_send_not_enabled] td.count >> nth=0") == "3"
    page.screenshot(path=str(output_dir / "goal-recheck-count.png"), full_page=True)
    assert not Credit.objects.exists()
    page.click("#recheck-run")
    page.wait_for_selector(".messagelist")
    assert "credited 3 of them" in page.inner_text(".messagelist")
    assert "admin" in page.inner_text("table.recheck-runs tbody tr:first-child")
    page.screenshot(path=str(output_dir / "goal-recheck-done.png"), full_page=True)
    assert Credit.objects.count() == 3
