"""Security of the whole: secrets out of logs, deploy checks, admin login throttling, CSRF."""

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.services import admin_key_create

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def captured_logs():
    """Everything our configured console handlers write, as the operator would see it."""
    handlers = {
        h for name in ("", "django.server") for h in logging.getLogger(name).handlers
        if isinstance(h, logging.StreamHandler)
    }  # fmt: skip
    stream = io.StringIO()
    saved = {h: h.setStream(stream) for h in handlers}
    root, server = logging.getLogger(), logging.getLogger("django.server")
    levels = (root.level, server.level)
    root.setLevel(logging.INFO)
    server.setLevel(logging.INFO)
    yield stream
    root.setLevel(levels[0])
    server.setLevel(levels[1])
    for handler, old in saved.items():
        handler.setStream(old)


@pytest.mark.django_db
def test_logs__never_hold_keys_or_visitor_ids(
    captured_logs, api, agent, express_target, rest_target, client
):
    _, admin_key = admin_key_create(account=agent.account)
    api.call(express_target, [{"a": "a-hero"}], vid="lana-123")
    api.call(rest_target, [{"a": 5}], vid="lana-123")  # 400
    api.call(rest_target, [], vid="undefined")  # 400
    api.call(express_target, [], key="api-" + "Z" * 32, vid="lana-123")  # 401
    client.get("/api/ac-acme/goals/", headers={"x-conductrics-apikey": "admin-" + "Q" * 32})
    client.get("/api/ac-other/goals/", headers={"x-conductrics-apikey": admin_key})  # 403
    logging.getLogger("django.server").info(
        '"POST /ac-acme/v3/agent-api?session=s&vid=lana-123&apikey=%s HTTP/1.1" 200 91',
        express_target.api_key,
    )
    text = captured_logs.getvalue()
    assert text  # something was logged, and it was checked
    for secret in (
        express_target.api_key,
        rest_target.api_key,
        admin_key,
        "lana-123",
        "Z" * 32,
        "Q" * 32,
    ):
        assert secret not in text


def test_check_deploy__is_clean_with_production_settings():
    env = {
        k: v
        for k, v in os.environ.items()
        # the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE is a test setting, not production's
        if k not in {"DEBUG", "SECURE_SSL_REDIRECT", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        SECRET_KEY="a-production-secret-key-that-is-long-and-random-0123456789-abcdefgh",
        ALLOWED_HOSTS="experiments.example.com",
        DJANGO_SETTINGS_MODULE="conductrics_admin.settings",
    )
    result = subprocess.run(  # our own interpreter and command
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_admin_login__locked_after_repeated_failures(client, settings):
    settings.ADMIN_LOGIN_MAX_FAILURES = 3
    get_user_model().objects.create_superuser("boss", password="right-pw-123")
    for _ in range(3):
        response = client.post("/admin/login/", {"username": "boss", "password": "wrong"})
        assert response.status_code == 200
    locked = client.post("/admin/login/", {"username": "boss", "password": "right-pw-123"})
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert "Too many failed logins" in locked.content.decode()
    other_user = client.post("/admin/login/", {"username": "someone", "password": "x"})
    assert other_user.status_code == 200  # counted per user name, not for everyone


@pytest.mark.django_db
def test_admin_login__success_clears_the_count(client, settings):
    settings.ADMIN_LOGIN_MAX_FAILURES = 3
    get_user_model().objects.create_superuser("boss", password="right-pw-123")
    for _ in range(2):
        client.post("/admin/login/", {"username": "boss", "password": "wrong"})
    assert (
        client.post("/admin/login/", {"username": "boss", "password": "right-pw-123"}).status_code
        == 302
    )
    client.logout()
    for _ in range(2):
        assert (
            client.post("/admin/login/", {"username": "boss", "password": "wrong"}).status_code
            == 200
        )
    assert (
        client.post("/admin/login/", {"username": "boss", "password": "right-pw-123"}).status_code
        == 302
    )


@pytest.mark.django_db
def test_admin_forms__need_csrf(agent):
    user = get_user_model().objects.create_superuser("boss", password="right-pw-123")
    client = Client(enforce_csrf_checks=True)
    assert (
        client.post("/admin/login/", {"username": "boss", "password": "right-pw-123"}).status_code
        == 403
    )
    client.force_login(user)
    response = client.post(f"/admin/goals/goal/{agent.goals.get().pk}/change/", {"name": "x"})
    assert response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("variant", ["BOSS", "ｂｏｓｓ", " Boss "])
def test_admin_login__unicode_and_case_variants__count_as_one_name(client, settings, variant):
    settings.ADMIN_LOGIN_MAX_FAILURES = 2
    get_user_model().objects.create_superuser("boss", password="right-pw-123")
    for name in ("boss", variant):
        assert client.post("/admin/login/", {"username": name, "password": "x"}).status_code == 200
    assert client.post("/admin/login/", {"username": "boss", "password": "x"}).status_code == 429


@pytest.mark.django_db(transaction=True)
def test_admin_login__parallel_attempts__never_more_than_the_limit(settings):
    from django.test import Client

    from tests.helpers import in_parallel

    settings.ADMIN_LOGIN_MAX_FAILURES = 3
    get_user_model().objects.create_superuser("boss", password="right-pw-123")
    statuses = in_parallel(
        10,
        lambda: Client().post("/admin/login/", {"username": "boss", "password": "x"}).status_code,
    )
    assert sorted(statuses) == [200] * 3 + [429] * 7


@pytest.mark.django_db
def test_admin_login__cache_unreachable__fails_closed(client, settings, monkeypatch):
    from django.core.cache import cache

    get_user_model().objects.create_superuser("boss", password="right-pw-123")

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", down)
    response = client.post("/admin/login/", {"username": "boss", "password": "right-pw-123"})
    assert response.status_code == 503
    assert "unavailable" in response.content.decode()
    assert "_auth_user_id" not in client.session
