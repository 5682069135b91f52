"""The agent page's targeting editor as a person uses it: conditions as rows (source, name,
operator, value), rules with their variation, saved and shown in words."""

import pytest

from agents.demo import DEMO_AGENT
from agents.models import Agent

pytestmark = pytest.mark.django_db(transaction=True)


def _leaf(row, source, name, op, value):
    row.locator("select[aria-label=source]").select_option(source)
    if name is not None:
        row.locator("input[aria-label=name]").fill(name)
    row.locator("select[aria-label=operator]").select_option(op)
    if value is not None:
        row.locator("input[aria-label=value]").fill(value)


def test_targeting_editor__rows_make_the_conditions_shown_in_words(demo_admin, page, output_dir):
    agent = Agent.objects.get(code=DEMO_AGENT)
    demo_admin(page, f"/admin/agents/agent/{agent.pk}/change/")

    eligibility = page.locator("#ct-eligibility")
    eligibility.locator("select[aria-label=when]").select_option("any")
    _leaf(eligibility.locator(".ct-leaf").nth(0), "input", "plan", "eq", "gold")
    eligibility.locator("text=+ condition").click()
    _leaf(eligibility.locator(".ct-leaf").nth(1), "random", None, "lte", "20")

    rules = page.locator("#ct-rules")
    rules.locator("text=+ rule").click()
    rule = rules.locator(".ct-rule").nth(0)
    rule.locator("input[aria-label='rule name']").fill("gold gets B")
    rule.locator("select[aria-label=variation]").select_option("B")
    rule.locator("select[aria-label=when]").select_option("all")
    _leaf(rule.locator(".ct-leaf").nth(0), "input", "plan", "in", "gold, platinum")
    # the agent page fits 1280 px, its variations and the editor included
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    page.screenshot(path=str(output_dir / "targeting-editor.png"), full_page=True)
    page.check("#id_phase_confirm")  # the running agent's eligibility: a new phase
    page.click("input[name=_continue]")

    page.wait_for_selector("text=Applies to:")
    agent.refresh_from_db()
    assert agent.eligibility == {"any": [
        {"source": "input", "name": "plan", "op": "eq", "value": "gold"},
        {"source": "random", "op": "lte", "value": 20},
    ]}  # fmt: skip
    assert agent.rules == [{
        "name": "gold gets B", "variation": "B",
        "when": {"source": "input", "name": "plan", "op": "in", "values": ["gold", "platinum"]},
    }]  # fmt: skip
    words = page.inner_text("fieldset:has-text('Targeting')")
    assert "Applies to: input plan is gold or 20% of visitors" in words
    assert "Rule 1, “gold gets B”: input plan is one of gold, platinum → B" in words
    # the rows are read back from what was saved
    assert page.locator("#ct-rules .ct-rule").count() == 1
    page.screenshot(path=str(output_dir / "targeting-saved.png"), full_page=True)


def test_targeting_editor__a_bad_condition_shows_the_servers_message(demo_admin, page, output_dir):
    agent = Agent.objects.get(code=DEMO_AGENT)
    demo_admin(page, f"/admin/agents/agent/{agent.pk}/change/")
    eligibility = page.locator("#ct-eligibility")
    eligibility.locator("select[aria-label=when]").select_option("all")
    _leaf(eligibility.locator(".ct-leaf").nth(0), "input", "bad name!", "eq", "x")
    page.click("input[name=_continue]")
    page.wait_for_selector(".errorlist")
    assert "eligibility.name: input needs a name" in page.inner_text(".errorlist")
    page.screenshot(path=str(output_dir / "targeting-error.png"), full_page=True)
    agent.refresh_from_db()
    assert agent.eligibility is None


def test_targeting_editor__empty_boxes__new_rule__always_warned__vocabulary(
    demo_admin, page, output_dir
):
    """What the admin tour found: a literal `null` in empty condition boxes, a new rule that
    forced everyone (`when: always`) without a word, and no list of what a condition can
    read."""
    agent = Agent.objects.get(code=DEMO_AGENT)
    agent.eligibility, agent.rules = None, []
    agent.save()
    demo_admin(page, f"/admin/agents/agent/{agent.pk}/change/")
    assert page.input_value("#id_eligibility") == ""
    vocabulary = page.inner_text(".ct-vocabulary")
    for text in ["ua/mo", "cust/tier", "random", "g-purchase", DEMO_AGENT]:
        assert text in vocabulary
    rules = page.locator("#ct-rules")
    rules.locator("text=+ rule").click()
    rule = rules.locator(".ct-rule").nth(0)
    # a condition to fill in, not "always"
    assert rule.locator("select[aria-label=when]").input_value() == "all"
    assert rule.locator(".ct-leaf").count() == 1
    assert not rule.locator(".ct-warning").is_visible()
    rule.locator("select[aria-label=when]").select_option("always")
    assert rule.locator(".ct-warning").is_visible()
    page.screenshot(path=str(output_dir / "targeting-rule-always.png"), full_page=True)
    # the eligibility's rows set to "always" again leave the box empty, not `null`
    eligibility = page.locator("#ct-eligibility")
    eligibility.locator("select[aria-label=when]").select_option("all")
    eligibility.locator("select[aria-label=when]").select_option("always")
    assert page.input_value("#id_eligibility") == ""
    page.click("input[name=_continue]")
    page.wait_for_selector("text=Applies to:")
    words = page.inner_text("fieldset:has-text('Targeting')")
    assert "(no condition: the rules after it never apply)" in words
    assert page.input_value("#id_eligibility") == ""


def test_goal_page__empty_condition_box__vocabulary(demo_admin, page):
    from goals.models import Goal

    goal = Goal.objects.filter(when__isnull=True).first()
    demo_admin(page, f"/admin/goals/goal/{goal.pk}/change/")
    assert page.input_value("#id_when") == ""
    vocabulary = page.inner_text(".ct-vocabulary")
    assert "ua/mo" in vocabulary
    assert "random" not in vocabulary  # a goal has no random number of its own
