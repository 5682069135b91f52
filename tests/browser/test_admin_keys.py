"""A rotated runtime key, as a person sees it in the admin: on its own page, once, never
in a message that later pages (or the cookie) carry."""

import pytest

from agents.demo import DEMO_EXPRESS_TARGET
from targets.models import DeployTarget

pytestmark = pytest.mark.django_db(transaction=True)


def test_rotate_key_action__shows_the_new_key_once(demo_admin, context, page, output_dir):
    old = DeployTarget.objects.get(code=DEMO_EXPRESS_TARGET).api_key
    demo_admin(page, "/admin/targets/deploytarget/")
    page.check(f"tr:has-text('{DEMO_EXPRESS_TARGET}') input.action-select")
    page.select_option("select[name=action]", "rotate_key")
    page.click("button[name=index]")
    page.wait_for_selector("code.shown-once-key")
    new = DeployTarget.objects.get(code=DEMO_EXPRESS_TARGET).api_key
    assert new != old
    assert page.inner_text("code.shown-once-key") == new
    assert "shown on this page only" in page.inner_text("#content-main")
    page.screenshot(path=str(output_dir / "rotated-key.png"), full_page=True)
    cookies = " ".join(c["value"] for c in context.cookies())
    assert new not in cookies
    page.click("text=Back to the list")
    assert new not in page.content()
