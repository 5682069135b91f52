"""A webhook as its owner sets it up: add it, press "Send a test", see the worker's
delivery in the log (Huey's consumer running beside the live server)."""

import time

import pytest

from notifications.models import Delivery, Webhook
from tests.notifications.conftest import consumer  # noqa: F401 - the worker, as a fixture
from tests.notifications.receiver import receiver_start

pytestmark = pytest.mark.django_db(transaction=True)


def test_webhook__add_send_a_test_see_it_delivered(
    demo_admin,
    page,
    output_dir,
    live_server,
    consumer,  # noqa: F811 - the fixture above
):
    receiver, server = receiver_start()
    try:
        demo_admin(page, "/admin/notifications/webhook/add/")
        page.select_option("#id_account", label="Demo (ac-demo)")
        page.fill("#id_name", "Team relay")
        page.fill("#id_url", receiver.url)
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
        hook = Webhook.objects.get()
        assert sorted(hook.events) == ["rest_goals", "srm", "status", "verdict"]  # all, at first
        receiver.secret = hook.secret
        assert hook.secret in page.inner_text(".field-secret")
        page.click("button.send-test")
        page.wait_for_selector(".messagelist .success")
        deadline = time.monotonic() + 10
        while not Delivery.objects.filter(status="delivered").exists():
            assert time.monotonic() < deadline, "the worker did not deliver the test"
            time.sleep(0.1)
        page.reload()
        row = page.locator(".delivery-log tbody tr").first
        assert row.get_attribute("data-status") == "delivered"
        assert "200" in row.inner_text()
        page.screenshot(path=str(output_dir / "webhook-test-delivered.png"), full_page=True)
        (got,) = receiver.received
        assert got.signed
        assert got.event == "test"
    finally:
        server.shutdown()
        server.server_close()
