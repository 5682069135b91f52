"""Roles as a member meets them in the admin (SPEC §6b): a viewer reads an agent's page
with no save button, no actions and no Decide; an editor of the same account can save it;
neither reaches the account's keys or members."""

import pytest

from accounts.models import Account
from accounts.roles import Role
from agents.demo import DEMO_ACCOUNT, DEMO_AGENT
from agents.models import Agent
from tests.helpers import member_make

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "role-browser-pw-1"


def _login(page, live_server, user, next_path):
    page.goto(f"{live_server.url}/admin/login/?next={next_path}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_agent_page__as_each_role(demo_admin, browser, output_dir, live_server, role):
    demo_admin  # noqa: B018 - the demo seeded
    agent = Agent.objects.get(code=DEMO_AGENT)
    user = member_make(Account.objects.get(code=DEMO_ACCOUNT), role, f"b-{role}", PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        _login(page, live_server, user, f"/admin/agents/agent/{agent.pk}/change/")
        page.wait_for_selector("#content-main")
        saves = page.locator("input[name=_save]").count()
        decide = page.locator("a.decide-link").count()
        page.screenshot(path=str(output_dir / f"agent-as-{role}.png"), full_page=True)
        if role == Role.VIEWER:
            assert (saves, decide) == (0, 0)
        else:
            assert (saves, decide) == (1, 1)
            page.fill("#id_name", "Hero headline (edited)")
            page.click("input[name=_save]")
            page.wait_for_selector(".messagelist .success")
            agent.refresh_from_db()
            assert agent.name == "Hero headline (edited)"
        page.goto(f"{live_server.url}/admin/agents/agent/")
        assert page.locator("select[name=action]").count() == (role != Role.VIEWER)
        account = Account.objects.get(code=DEMO_ACCOUNT)
        page.goto(f"{live_server.url}/admin/accounts/account/{account.pk}/change/")
        assert page.locator("a.add-member-link").count() == 0
        assert page.locator("input[name=_save]").count() == 0
    finally:
        context.close()
