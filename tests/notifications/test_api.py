"""Webhooks through the management API: owners and write keys create, change, delete and
test them and read the secret; viewers and read keys read them without it; the delivery
log; every bad input a 400 naming its field."""

import pytest
from django.contrib.auth import get_user_model

from accounts.roles import Role
from accounts.services import admin_key_create, membership_add
from notifications.models import Delivery, Webhook
from notifications.services import sweep

pytestmark = pytest.mark.django_db

NEW = {"name": "Relay", "url": "https://hooks.example.com/conductrics"}


def test_create__defaults_and_the_secret(admin_api):
    response = admin_api("post", "webhooks/", NEW)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["events"] == ["verdict", "srm", "status", "rest_goals"]
    assert (data["rest_share"], data["enabled"]) == (0.05, True)
    assert data["secret"] == Webhook.objects.get().secret
    assert admin_api("get", f"webhooks/{data['id']}").json() == data


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEW, "url": "ftp://hooks.example.com/"}, "url"),
        ({**NEW, "url": "https://hooks example.com/"}, "url"),
        ({**NEW, "url": "https://nohost/"}, "url"),
        # spaces Python's \s and the schema's ECMA \s do not agree on
        ({**NEW, "url": "https://hooks.example.com/a\u0085b"}, "url"),
        ({**NEW, "url": "https://hooks.example.com/a\x1cb"}, "url"),
        ({**NEW, "url": "https://hooks.example.com/a\ufeffb"}, "url"),
        ({**NEW, "url": "https://hooks.example.com/a\u2028b"}, "url"),
        ({**NEW, "events": ["verdict", "verdict"]}, "events"),
        ({**NEW, "events": ["test"]}, "events"),
        ({**NEW, "rest_share": 1.5}, "rest_share"),
        ({**NEW, "secret": "mine"}, "secret"),
        ({"url": NEW["url"]}, "name"),
    ],
)
def test_create__bad_input_400_naming_the_field(admin_api, body, field):
    response = admin_api("post", "webhooks/", body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Webhook.objects.exists()


def test_create__a_path_of_any_other_character_is_taken(admin_api):
    url = "htTps://77.0.28.250?)\u00e7na\U00062544\u00ce\u0100"
    response = admin_api("post", "webhooks/", {**NEW, "url": url})
    assert response.status_code == 201, response.content
    assert Webhook.objects.get().url == url


def test_patch_delete_and_other_accounts(admin_api, other_account):
    hook = admin_api("post", "webhooks/", NEW).json()
    patched = admin_api(
        "patch", f"webhooks/{hook['id']}/", {"events": ["status"], "enabled": False}
    )
    assert (patched.json()["events"], patched.json()["enabled"]) == (["status"], False)
    theirs = Webhook.objects.create(account=other_account, name="x", url=NEW["url"])
    assert admin_api("get", f"webhooks/{theirs.pk}/").status_code == 404
    assert admin_api("delete", f"webhooks/{theirs.pk}/").status_code == 404
    assert admin_api("delete", f"webhooks/{hook['id']}/").status_code == 204
    assert list(Webhook.objects.all()) == [theirs]


def test_test_delivery__queued_then_in_the_log(admin_api, webhook, receiver):
    queued = admin_api("post", f"webhooks/{webhook.pk}/test/")
    assert queued.status_code == 202
    assert queued.json()["status"] == "pending"
    assert receiver.received == []
    sweep()
    log = admin_api("get", f"webhooks/{webhook.pk}/deliveries/").json()
    assert [(d["event"], d["status"], d["last_status_code"]) for d in log] == [
        ("test", "delivered", 200)
    ]
    assert receiver.received[0].signed


def test_viewer_and_read_key__read_without_the_secret(client, account, webhook):
    user = get_user_model().objects.create_user(username="vic", is_staff=True)
    membership_add(account=account, user=user, role=Role.VIEWER)
    client.force_login(user)
    seen = client.get("/api/ac-acme/webhooks/").json()
    assert seen[0]["secret"] is None
    assert seen[0]["url"] == webhook.url
    client.logout()
    _, key = admin_key_create(account=account, scope="read")
    headers = {"authorization": f"Bearer {key}"}
    assert (
        client.get(f"/api/ac-acme/webhooks/{webhook.pk}/", headers=headers).json()["secret"] is None
    )
    refused = client.post(f"/api/ac-acme/webhooks/{webhook.pk}/test/", headers=headers)
    assert refused.status_code == 403
    assert not Delivery.objects.exists()
