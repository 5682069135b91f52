"""The account's audit log as a person reads it (SPEC §10 "Audit"): a change made in the
admin shows under the field's label, with who made it; the demo's own setup shows as made
by its command; the log pages through every entry."""

import pytest

from accounts.models import Account
from agents.demo import DEMO_ACCOUNT, DEMO_REST_TARGET
from targets.models import DeployTarget

pytestmark = pytest.mark.django_db(transaction=True)


def test_audit_log__a_change_shows_by_its_label_and_its_actor(demo_admin, page, output_dir):
    target = DeployTarget.objects.get(code=DEMO_REST_TARGET)
    assert target.allow_external_vid
    demo_admin(page, f"/admin/targets/deploytarget/{target.pk}/change/")
    page.uncheck("#id_allow_external_vid")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    account = Account.objects.get(code=DEMO_ACCOUNT)
    page.goto(page.url.split("/admin/")[0] + f"/admin/accounts/account/{account.pk}/change/")
    page.click("a.audit-link")
    page.wait_for_selector("table.audit-log")
    newest = page.inner_text("table.audit-log tbody tr:first-child")
    assert "Allow Passing of External Visitor ID: True → False" in newest
    assert "admin" in newest
    assert "Page 1 of" in page.inner_text("nav.audit-pages >> nth=0")
    page.screenshot(path=str(output_dir / "audit-log.png"), full_page=True)
    # the demo's setup, on the last page, is the command's
    page.goto(page.url.split("?")[0] + "?page=999")  # past the end: the last page
    page.wait_for_selector("table.audit-log")
    assert "older ›" not in page.inner_text("nav.audit-pages >> nth=0")
    assert "command seed_demo" in page.inner_text("table.audit-log tbody tr:last-child")
