"""Errors of the whole request (SPEC §4): every HTTP status, never a 500, nothing recorded."""

import json

import pytest
import time_machine
from django.db import OperationalError
from django.test import override_settings

from targets.services import target_create
from visitors.models import Assignment, Credit, GoalEvent

pytestmark = pytest.mark.django_db


def _nothing_recorded():
    return not (
        Assignment.objects.exists() or GoalEvent.objects.exists() or Credit.objects.exists()
    )


def _err(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["err"], str)
    assert body["err"]
    return body["err"]


def test_key__in_header__is_accepted(api, agent, express_target):
    response = api.call(
        express_target,
        [{"a": "a-hero"}],
        key="",
        headers={"x-conductrics-apikey": express_target.api_key},
    )
    assert response.status_code == 200


def test_key__missing__is_401(api, agent, express_target):
    assert "Missing runtime API key" in _err(api.call(express_target, [], key=""), 401)


def test_key__unknown__is_401(api, agent, express_target):
    _err(api.call(express_target, [], key="api-" + "x" * 32), 401)


def test_account__unknown__answers_as_if_it_were_another_account(api, agent, express_target):
    # a valid key: 403 "another account", as on an account that exists (SPEC §10)
    assert "another account" in _err(api.call(express_target, [], account="ac-nobody"), 403)
    # an unknown key: 401, as on the account's own URL
    unknown_account = _err(api.call(express_target, [], account="ac-nobody", key="api-nope"), 401)
    unknown_key = _err(api.call(express_target, [], key="api-nope"), 401)
    assert unknown_account == unknown_key


def test_key__of_another_account__is_403(api, agent, express_target, other_setup):
    response = api.call(express_target, [], key=other_setup["target"].api_key)
    assert "another account" in _err(response, 403)


def test_key__of_another_target__is_403(api, agent, express_target, rest_target):
    response = api.call(express_target, [{"a": "a-hero"}], path_target="dt-server")
    assert "dt-web" in _err(response, 403)
    assert api.call(express_target, [{"a": "a-hero"}], path_target="dt-web").status_code == 200


def test_target__disabled__is_403(api, agent, express_target):
    express_target.enabled = False
    express_target.save()
    assert "disabled" in _err(api.call(express_target, [{"a": "a-hero"}]), 403)
    assert _nothing_recorded()


def test_admin_key__on_agent_api__is_401(api, agent, express_target):
    from accounts.services import admin_key_create

    _, raw = admin_key_create(account=agent.account)
    _err(api.call(express_target, [], key=raw), 401)


def test_session__missing__is_400(api, agent, express_target):
    assert "session" in _err(api.call(express_target, [{"a": "a-hero"}], session=None), 400)


@pytest.mark.parametrize("session", ["x" * 129, "a\nb", "\x00"])
def test_session__malformed__is_400(api, agent, express_target, session):
    _err(api.call(express_target, [{"a": "a-hero"}], session=session), 400)
    assert _nothing_recorded()


@pytest.mark.parametrize(
    "vid", ["", "x" * 129, "a\tb", "undefined", "null", "NONE", "nan", "Anonymous", "0"]
)
def test_vid__invalid_on_rest__is_400(api, agent, rest_target, vid):
    assert "vid" in _err(api.call(rest_target, [{"g": "g-purchase"}], vid=vid), 400)
    assert _nothing_recorded()


@pytest.mark.parametrize("traits", ["gold", "a:b,", "a:b:c", "a b:c"])
def test_traits__invalid_on_rest__is_400(api, agent, rest_target, traits):
    assert "traits" in _err(api.call(rest_target, [{"a": "a-hero"}], traits=traits), 400)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("{not json", "not valid JSON"),
        ('"commands"', "list of commands"),
        ('{"commands": {"a": "a-hero"}}', "list of commands"),
        ('{"cmds": []}', "without"),
        ("[1]", "Command 0"),
        ('[{"a": "a-hero"}, {"b": 1}]', "Command 1"),
        ('[{"a": "a-hero", "g": "g-purchase"}]', "one of them"),
        ('[{"a": 5}]', '"a"'),
        ('[{"a": ""}]', '"a"'),
        ('[{"a": "a-hero", "c": "A"}]', '"c"'),
        ('[{"a": "a-hero", "x": [1]}]', '"x"'),
        ('[{"a": "a-hero", "s": "maybe"}]', '"s"'),
        ('[{"a": "a-hero"}, {"g": "g-purchase", "v": "19.99"}]', '"v"'),
        ('[{"g": "g-purchase", "v": true}]', '"v"'),
        ('[{"g": "g-purchase", "id": 7}]', '"id"'),
        ('[{"g": "g-purchase", "id": ""}]', '"id"'),
        (b"\xff\xfe", "not valid JSON"),
        ("[" * 100000 + "]" * 100000, None),
    ],
)
def test_body__malformed__is_400_naming_the_problem_and_records_nothing(
    api, agent, express_target, raw, needle
):
    response = api.call(express_target, None, raw=raw)
    if needle is None:
        assert response.status_code in (400, 413)
    else:
        assert needle in _err(response, 400)
    assert _nothing_recorded()


def test_body__more_than_100_commands__is_400(api, agent, express_target):
    response = api.call(express_target, [{"a": "a-hero"}] * 101)
    assert "at most 100" in _err(response, 400)
    assert _nothing_recorded()


def test_body__100_commands__are_accepted(api, agent, express_target):
    assert api.call(express_target, [{"a": "a-hero"}] * 100).status_code == 200


def test_body__larger_than_64_kib__is_413(api, agent, express_target):
    big = json.dumps([{"a": "a-hero", "c": ["A" * 1000] * 70}])
    assert len(big) > 64 * 1024
    _err(api.call(express_target, None, raw=big), 413)
    assert _nothing_recorded()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/json", "application/x-www-form-urlencoded", ""]
)
def test_body__any_content_type__is_read_as_json(api, agent, express_target, content_type):
    response = api.call(express_target, [{"a": "a-hero"}], content_type=content_type)
    assert response.status_code == 200
    assert response.json()["data"]["items"][0]["a"] == "a-hero"


def test_body__bare_object_of_commands_and_empty_body(api, agent, express_target):
    assert api.data(express_target, {"commands": [{"a": "a-hero"}]})["items"]
    assert api.data(express_target, None, raw="")["items"] == []


def test_method__get__is_405(client, agent, express_target):
    response = client.get(f"/ac-acme/v3/agent-api?session=s&apikey={express_target.api_key}")
    _err(response, 405)


def test_request__all_or_nothing__failure_on_last_write_records_nothing(api, agent, express_target):
    import re

    from django.db import connection

    def fail_on_credits(execute, sql, params, many, context):
        # The credits are the last rows a request writes: everything before must go too.
        if re.search(r'INSERT INTO "?goals_credit', sql):
            raise OperationalError("connection lost")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_on_credits):
        response = api.call(express_target, [{"a": "a-hero"}, {"g": "g-purchase"}], session="z")
    assert response.status_code == 503
    assert _nothing_recorded()
    assert (
        api.call(express_target, [{"a": "a-hero"}, {"g": "g-purchase"}], session="z").json()[
            "data"
        ]["items"][1]["s"]
        == "ok"
    )


def test_database__unavailable__is_503_with_retry_after(api, agent, express_target, monkeypatch):
    from django.db import connection

    api.data(express_target, [{"a": "a-hero"}])  # warm the configuration cache

    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(connection, "ensure_connection", refuse)
    monkeypatch.setattr(connection, "cursor", refuse)
    response = api.call(express_target, [{"a": "a-hero"}], session="during-outage")
    assert "unavailable" in _err(response, 503)
    assert int(response["Retry-After"]) >= 1
    monkeypatch.undo()
    assert api.call(express_target, [{"a": "a-hero"}], session="after").status_code == 200


def test_database__unavailable_on_cold_cache__is_503(api, agent, express_target, monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    _err(api.call(express_target, [{"a": "a-hero"}]), 503)


@time_machine.travel("2026-12-01 12:00:30+00:00", tick=False)  # one throttle window
@override_settings(AGENT_API_EXPRESS_RATE="3/min")
def test_throttle__express__is_429_with_retry_after(api, agent, express_target):
    for _ in range(3):
        assert api.call(express_target, [{"a": "a-hero"}]).status_code == 200
    response = api.call(express_target, [{"a": "a-hero"}])
    _err(response, 429)
    assert int(response["Retry-After"]) >= 1


@time_machine.travel("2026-12-01 12:00:30+00:00", tick=False)  # one throttle window
@override_settings(AGENT_API_REST_RATE="2/min")
def test_throttle__rest__is_per_key(api, agent, rest_target, account):
    other = target_create(account=account, name="Srv2", kind="rest")
    agent.targets.add(other)
    for _ in range(2):
        assert api.call(rest_target, [{"a": "a-hero"}]).status_code == 200
    assert api.call(rest_target, [{"a": "a-hero"}]).status_code == 429
    assert api.call(other, [{"a": "a-hero"}]).status_code == 200


@time_machine.travel("2026-12-01 12:00:30+00:00", tick=False)  # one throttle window
@pytest.mark.django_db(transaction=True)
@override_settings(AGENT_API_REST_RATE="5/min")
def test_throttle__parallel_requests__never_more_than_the_rate(agent, rest_target):
    from django.test import Client

    from tests.helpers import in_parallel

    url = f"/ac-acme/v3/agent-api?session=s&apikey={rest_target.api_key}"
    statuses = in_parallel(
        12, lambda: Client().post(url, data="[]", content_type="text/plain").status_code
    )
    assert sorted(statuses) == [200] * 5 + [429] * 7


@override_settings(AGENT_API_EXPRESS_RATE="off")
def test_throttle__off__never_throttles(api, agent, express_target):
    for _ in range(5):
        assert api.call(express_target, [{"a": "a-hero"}]).status_code == 200


def test_throttle__cache_down__lets_requests_through(api, agent, express_target, monkeypatch):
    from django.core.cache import cache

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    for name in ("get", "set", "add", "incr"):
        monkeypatch.setattr(cache, name, down)
    assert api.call(express_target, [{"a": "a-hero"}]).status_code == 200


@time_machine.travel("2026-12-01 12:00:30+00:00", tick=False)  # one throttle window
def test_throttle__counts_in_redis__shared_by_processes(api, agent, express_target):
    """With REDIS_URL, counters live in Redis: another process's cache sees them."""
    import redis
    from django.core.cache import caches

    from tests.helpers import redis_caches, redis_url_or_skip

    url = redis_url_or_skip()
    with override_settings(CACHES=redis_caches(url), AGENT_API_EXPRESS_RATE="2/min"):
        caches["default"].clear()
        assert api.call(express_target, [{"a": "a-hero"}]).status_code == 200
        assert api.call(express_target, [{"a": "a-hero"}]).status_code == 200
        # The counter is in Redis itself, where every server process reads it.
        assert redis.Redis.from_url(url).keys("*agent-api-throttle:express:*")
        assert api.call(express_target, [{"a": "a-hero"}]).status_code == 429
        caches["default"].clear()


def test_redis_configured_then_stopped_mid_run__throttling_degrades_not_the_api(
    api, agent, express_target, rest_target, tmp_path
):
    """A real Redis server of the test's own, stopped between requests."""
    import os
    import shutil
    import socket
    import subprocess
    import time

    import redis
    from django.core.cache import caches

    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI") == "true":
            raise AssertionError("redis-server not found: CI requires it")
        pytest.skip("redis-server not found (CI requires it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(  # noqa: S603
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(50):
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        settings_cache = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
            }
        }
        with override_settings(CACHES=settings_cache, AGENT_API_EXPRESS_RATE="1000/min"):
            assert api.call(express_target, [{"a": "a-hero"}], session="up").status_code == 200
            assert redis.Redis.from_url(url).keys("*agent-api-throttle:express:*")
            proc.terminate()
            proc.wait(timeout=10)
            started = time.monotonic()
            down = api.call(express_target, [{"a": "a-hero"}], session="down")
            goal = api.call(rest_target, [{"g": "g-purchase"}], session="down")  # diagnostics
            assert time.monotonic() - started < 3
            assert (down.status_code, goal.status_code) == (200, 200)
            assert goal.json()["data"]["items"][0]["s"] == "ok"
            caches["default"].close()
    finally:
        proc.kill()
        proc.wait(timeout=10)
