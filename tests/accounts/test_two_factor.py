"""Two-factor sign-in (SPEC §6b): an account that requires it keeps its data from a member
until they enrolled an authenticator and entered its code in this session; the code is
computed here as any authenticator app would (RFC 6238, from the key the page shows)."""

import base64
import hashlib
import hmac
import re
import struct
import time
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.roles import Role
from accounts.services import admin_key_create, membership_add

pytestmark = pytest.mark.django_db

PAGE = "/admin/two-factor/"


def totp(key_b32: str, at: float | None = None) -> str:
    """RFC 6238: HMAC-SHA1 of the 30-second step, dynamically truncated to 6 digits."""
    key = base64.b32decode(key_b32)
    step = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


@pytest.fixture
def guarded(account):
    account.require_two_factor = True
    account.save()
    return account


def _key(page) -> str:
    return re.search(r'id="two-factor-key">([A-Z2-7=]+)<', page.content.decode()).group(1)


def test_member__sees_nothing_before_enrolling(client, guarded, staff_user, agent):
    client.force_login(staff_user)
    for path in ("/admin/", "/admin/agents/agent/", f"/admin/agents/agent/{agent.pk}/change/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(PAGE + "?next=")
        assert "a-hero" not in response.content.decode()
    api = client.get("/api/ac-acme/agents/")
    assert api.status_code == 403
    assert "two-factor" in api.json()["detail"]


def test_enroll__qr_key_and_a_first_code_then_the_data(client, guarded, staff_user, agent):
    client.force_login(staff_user)
    page = client.get(PAGE + "?next=/admin/agents/agent/")
    assert "<svg" in page.content.decode()  # the QR code
    key = _key(page)
    assert client.get(PAGE).content.decode().count(key) >= 1  # the same device on reload
    wrong = client.post(PAGE, {"code": "000000" if totp(key) != "000000" else "111111"})
    assert wrong.status_code == 200
    assert "not right" in wrong.content.decode()
    hurried = client.post(PAGE, {"code": totp(key)})  # a wrong code slows the next try
    assert "Too many wrong codes" in hurried.content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=3)):
        right = client.post(PAGE + "?next=/admin/agents/agent/", {"code": totp(key)})
    assert right.status_code == 200  # the backup codes, shown once, then on to `next`
    assert len(re.findall(r"<li><code>[a-z2-7]{8}</code></li>", right.content.decode())) == 10
    assert 'href="/admin/agents/agent/"' in right.content.decode()
    assert "a-hero" in client.get("/admin/agents/agent/").content.decode()
    assert client.get("/api/ac-acme/agents/").status_code == 200


def test_next_sign_in__the_code_again(client, guarded, staff_user):
    client.force_login(staff_user)
    key = _key(client.get(PAGE))
    client.post(PAGE, {"code": totp(key)})
    client.logout()
    client.force_login(staff_user)
    assert client.get("/admin/").status_code == 302  # a new session: not verified
    page = client.get(PAGE)
    assert "two-factor-key" not in page.content.decode()  # enrolled: the key is not shown again
    later = timezone.now() + timedelta(seconds=60)
    with time_machine.travel(later):
        assert client.post(PAGE, {"code": totp(key)}).status_code == 302
        assert client.get("/admin/").status_code == 200


def _enrolled(client, user) -> tuple[str, list[str]]:
    """Enroll `user`: the authenticator's key and the backup codes shown."""
    client.force_login(user)
    key = _key(client.get(PAGE))
    page = client.post(PAGE, {"code": totp(key)}).content.decode()
    return key, re.findall(r"<li><code>([a-z2-7]{8})</code></li>", page)


def test_backup_code__signs_in_once(client, guarded, staff_user):
    _, codes = _enrolled(client, staff_user)
    client.logout()
    client.force_login(staff_user)
    assert client.post(PAGE, {"code": codes[0].upper()}).status_code == 302
    assert client.get("/admin/").status_code == 200
    client.logout()
    client.force_login(staff_user)
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        again = client.post(PAGE, {"code": codes[0]})
    assert again.status_code == 200  # used up
    assert client.get("/admin/").status_code == 302


def test_code__used_once_and_checked_as_six_digits(client, guarded, staff_user):
    client.force_login(staff_user)
    key = _key(client.get(PAGE))
    code = totp(key)
    client.post(PAGE, {"code": code})
    client.logout()
    client.force_login(staff_user)
    again = client.post(PAGE, {"code": code})  # the same code, replayed
    assert again.status_code == 200
    for bad in ("12345", "abcdef", "1234567", ""):
        assert client.post(PAGE, {"code": bad}).status_code == 200


def test_next__only_a_page_of_this_site(client, guarded, staff_user):
    client.force_login(staff_user)
    key = _key(client.get(PAGE))
    response = client.post(PAGE + "?next=https://evil.example/", {"code": totp(key)})
    assert 'id="backup-codes-done"' in response.content.decode()
    assert 'href="/admin/"' in response.content.decode()
    assert "evil.example" not in response.content.decode()


def test_accounts_not_requiring_it__unaffected(client, account, other_account, staff_user):
    other_account.require_two_factor = True
    other_account.save()  # alice is not a member of it
    client.force_login(staff_user)
    assert client.get("/admin/").status_code == 200


def test_admin_keys__not_sessions_unaffected(client, guarded):
    _, key = admin_key_create(account=guarded)
    response = client.get("/api/ac-acme/agents/", headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_member_of_two_accounts__api_refused_only_where_required(client, guarded, other_account):
    user = get_user_model().objects.create_user(username="bo", is_staff=True)
    membership_add(account=guarded, user=user, role=Role.VIEWER)
    membership_add(account=other_account, user=user, role=Role.VIEWER)
    client.force_login(user)
    assert client.get("/api/ac-acme/agents/").status_code == 403
    assert client.get(f"/api/{other_account.code}/agents/").status_code == 200


def test_admin_index__names_the_two_factor_devices_in_words(admin_client):
    """A superuser resets a lost device under these; the sidebar shows words, not app labels."""
    page = admin_client.get("/admin/").content.decode()
    assert "Two-factor: authenticator apps" in page
    assert "Two-factor: backup codes" in page
    sections = re.findall(r'class="section"[^>]*>([^<]+)<', page)
    assert sections
    assert not [name for name in sections if "_" in name], sections
