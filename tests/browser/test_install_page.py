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
    assert "No request yet" in page.inner_text(".recent-requests")
    assert "{#" not in page.inner_text("#content")  # no template comment shown as text
    page.click("#send-test")
    page.wait_for_function("document.getElementById('test-answer').textContent.startsWith('200')")
    # listed without a reload (the admin tour had to reload to see it)
    page.wait_for_function(
        "!document.querySelector('.recent-requests').innerText.includes('No request yet')"
    )
    page.screenshot(path=str(output_dir / "install-page.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    # a phone's width: no sideways scrolling
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(output_dir / "install-page-390px.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
        " > innerWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id)"
    )

    # the snippet, pasted as it is into a page of the site, selects a variation
    shown = snippet.replace(
        "// show a-hero's variation", "document.title = 'variation ' + variation;"
    )
    html = f"<!doctype html><html><head><title>waiting</title></head><body>{shown}</body></html>"
    site = f"{live_server.url}/a-customer-page.html"
    page.route(site, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(site)
    page.wait_for_function("document.title.startsWith('variation ')")
    assert page.title() in ("variation A", "variation B")
