"""Webhooks in the admin: owners set them (and see the secret); "Send a test" queues a
test delivery for the worker, shown in the delivery log; other roles read without the
secret and cannot send."""

import pytest
from django.urls import reverse

from accounts.roles import Role
from notifications.choices import WebhookEvent
from notifications.models import Delivery, Webhook
from notifications.services import sweep
from tests.helpers import member_make

pytestmark = pytest.mark.django_db


def test_owner__adds_a_webhook_with_events_and_a_secret(staff_client, account):
    response = staff_client.post(
        reverse("admin:notifications_webhook_add"),
        {"account": account.pk, "name": "Slack relay", "url": "https://hooks.example.com/x",
         "events": ["verdict", "status"], "rest_share": "0.1", "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    hook = Webhook.objects.get()
    assert hook.events == ["verdict", "status"]
    assert len(hook.secret) >= 40
    page = staff_client.get(reverse("admin:notifications_webhook_change", args=[hook.pk]))
    assert hook.secret in page.content.decode()  # the owner gives it to the receiver


def test_owner__bad_url_is_a_form_error(staff_client, account):
    response = staff_client.post(
        reverse("admin:notifications_webhook_add"),
        {"account": account.pk, "name": "x", "url": "ftp://example.com/", "rest_share": "0.1"},
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not Webhook.objects.exists()


def test_send_test__queued_then_sent_by_the_worker_and_logged(
    staff_client, account, webhook, receiver
):
    url = reverse("admin:notifications_webhook_test", args=[webhook.pk])
    response = staff_client.post(url)
    assert response.status_code == 302
    assert receiver.received == []  # the request queued it only
    delivery = Delivery.objects.get()
    assert delivery.event == WebhookEvent.TEST
    sweep()
    (got,) = receiver.received
    assert got.signed
    assert "alice" in got.body["data"]["message"]
    page = staff_client.get(reverse("admin:notifications_webhook_change", args=[webhook.pk]))
    log = page.content.decode().split('class="delivery-log"')[1]
    assert 'data-status="delivered"' in log
    assert "<td>200</td>" in log


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_other_roles__read_without_the_secret_and_cannot_send(client, account, webhook, role):
    client.force_login(member_make(account, role, f"m-{role}"))
    page = client.get(reverse("admin:notifications_webhook_change", args=[webhook.pk]))
    assert page.status_code == 200
    assert webhook.secret not in page.content.decode()
    assert "send-test" not in page.content.decode()
    sent = client.post(reverse("admin:notifications_webhook_test", args=[webhook.pk]))
    assert sent.status_code == 403
    assert not Delivery.objects.exists()
    edited = client.post(
        reverse("admin:notifications_webhook_change", args=[webhook.pk]),
        {"name": "x", "url": "https://evil.example/", "rest_share": "0.1"},
    )
    assert edited.status_code == 403
    webhook.refresh_from_db()
    assert webhook.url != "https://evil.example/"


def test_other_accounts_webhooks__not_found(client, other_account, webhook):
    client.force_login(member_make(other_account, Role.OWNER, "m-owner"))
    page = client.get(reverse("admin:notifications_webhook_change", args=[webhook.pk]))
    assert page.status_code in (302, 404)
    assert webhook.secret not in page.content.decode()
