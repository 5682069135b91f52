"""The admin's home as a person sees it: the overview of the account, its agents and
warnings, fitting 1280 px and readable at 390 px."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_overview__shows_the_demo_agent_and_fits_the_screen(demo_admin, browser, output_dir, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        demo_admin(page, "/admin/")
        page.wait_for_selector("#overview")
        overview = page.inner_text("#overview")
        assert "Demo (ac-demo)" in overview
        assert "a-hero" in overview
        assert page.locator("#overview tr[data-agent='a-hero'] .verdict-cell").count() == 1
        page.screenshot(path=str(output_dir / f"overview-{width}.png"), full_page=True)
        # no sideways scrolling of the page, at either width
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    finally:
        context.close()


def test_account_switcher__one_account_at_a_time(demo_admin, live_server, page, output_dir):
    from accounts.services import account_create
    from agents.models import AgentStatus
    from agents.services import VariationSpec, agent_create

    other = account_create(code="ac-second", name="Second shop")
    agent_create(account=other, code="a-hero", name="Second hero", status=AgentStatus.RUNNING,
                 variations=[VariationSpec("A"), VariationSpec("B")])  # fmt: skip
    demo_admin(page, "/admin/agents/agent/")
    assert "Second hero" in page.inner_text("#result_list")
    page.select_option("#account-switch", label="ac-demo")
    page.wait_for_load_state()
    assert page.input_value("#account-switch") != ""
    listed = page.inner_text("#result_list")
    assert "Second hero" not in listed
    assert "Hero headline" in listed
    page.screenshot(path=str(output_dir / "account-switcher.png"), full_page=True)
    page.goto(f"{live_server.url}/admin/")
    assert "Second shop" not in page.inner_text("#overview")
