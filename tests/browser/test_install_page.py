"""The install page as a person uses it: its snippet, pasted into a page, really selects;
the test button sends a request, which then shows among the recent requests."""

import pytest

from agents.demo import DEMO_EXPRESS_TARGET
from targets.models import DeployTarget

pytestmark = pytest.mark.django_db(transaction=True)


def test_install_page__snippet_selects_and_test_request_is_listed(
    demo_admin, live_server, page, output_dir
):
    target = DeployTarget.objects.get(code=DEMO_EXPRESS_TARGET)
    demo_admin(page, f"/admin/targets/deploytarget/{target.pk}/install/")
    snippet = page.inner_text("#snippet")
    page.click("#send-test")
    page.wait_for_function("document.getElementById('test-answer').textContent.startsWith('200')")
    page.screenshot(path=str(output_dir / "install-page.png"), full_page=True)
    page.reload()
    assert "No request yet" not in page.inner_text(".recent-requests")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")

    # the snippet, pasted as it is into a page of the site, selects a variation
    shown = snippet.replace("// show the variation", "document.title = 'variation ' + variation;")
    html = f"<!doctype html><html><head><title>waiting</title></head><body>{shown}</body></html>"
    site = f"{live_server.url}/a-customer-page.html"
    page.route(site, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(site)
    page.wait_for_function("document.title.startsWith('variation ')")
    assert page.title() in ("variation A", "variation B")
