"""Two-factor sign-in as a member meets it: the owner requires it, the member signs in,
is asked to set up an authenticator before any data, scans (here: reads the key), enters
the code, and lands on the page they asked for."""

import re

import pytest

from accounts.models import Account
from agents.demo import DEMO_ACCOUNT
from tests.accounts.test_two_factor import totp

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_factor__required_enrolled_then_the_data(demo_admin, page, output_dir, live_server):
    demo_admin(page, "/admin/accounts/account/")
    account = Account.objects.get(code=DEMO_ACCOUNT)
    page.goto(f"{live_server.url}/admin/accounts/account/{account.pk}/change/")
    page.check("#id_require_two_factor")
    page.click("input[name=_save]")
    # the owner is a member too: asked at once, before the list it was going to
    page.wait_for_selector("#two-factor-qr svg")
    assert "/admin/two-factor/" in page.url
    assert page.locator("#content-main").inner_text().count("a-hero") == 0
    page.screenshot(path=str(output_dir / "two-factor-enroll.png"), full_page=True)
    key = page.inner_text("#two-factor-key").strip()
    assert re.fullmatch(r"[A-Z2-7]+=*", key)
    page.fill("#id_code", totp(key))
    page.click("#two-factor-form input[type=submit]")
    page.wait_for_selector("#backup-codes")
    assert page.locator("#backup-codes li").count() == 10
    page.screenshot(path=str(output_dir / "two-factor-backup-codes.png"), full_page=True)
    page.click("#backup-codes-done")
    page.wait_for_selector("#content-main")
    assert "two-factor-key" not in page.content()
    page.goto(f"{live_server.url}/admin/agents/agent/")
    assert "a-hero" in page.inner_text("#result_list")
