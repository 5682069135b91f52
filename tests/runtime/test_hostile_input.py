"""What an attacker or a careless client sends: always a clear 4xx, never a 5xx, nothing kept.

Issue "Hardening" items 4, 6, 7, 10, 11 and 12 (SPEC §10).
"""

import pytest

from visitors.config import UNKNOWN_CODES_KEPT, account_conf, config_cache_size
from visitors.models import Assignment, GoalEvent

pytestmark = pytest.mark.django_db

SURROGATE_BODIES = [
    '[{"a": "a-\\ud800"}]',
    '[{"a": "a-hero", "c": ["A\\udfff"]}]',
    '[{"a": "a-hero", "x": ["\\u0000"]}]',
    '[{"g": "g-\\ud800"}]',
    '{"commands": [{"a": "a-hero"}], "inputs": {"plan": "\\ud800"}}',
    '{"commands": [{"a": "a-hero"}], "inputs": {"\\u0000": "gold"}}',
]


@pytest.mark.parametrize("raw", SURROGATE_BODIES)
def test_text_with_a_lone_surrogate_or_nul__is_400_and_records_nothing(
    api, agent, express_target, raw
):
    response = api.call(express_target, None, raw=raw)
    assert response.status_code == 400
    assert "valid Unicode text" in response.json()["err"]
    assert not Assignment.objects.exists()


def test_surrogate_as_raw_utf8_bytes__is_400_and_records_nothing(api, agent, rest_target):
    response = api.call(rest_target, None, raw=b'[{"a": "a-hero"}, {"g": "g-\xed\xa0\x80"}]')
    assert response.status_code == 400
    assert not Assignment.objects.exists()
    assert not GoalEvent.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/ac-acme%00/v3/agent-api?session=s&apikey=x",
        "/ac-acme/v3/agent-api/dt-web%00?session=s",
        "/ac-acme/v3/agent-api?session=s&apikey=api-%00",
    ],
)
def test_nul_in_path_or_query__agent_api__is_400_in_the_envelope(client, express_target, path):
    response = client.post(path, data="[]", content_type="text/plain")
    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "err": "The path or the query string contains a NUL character.",
    }


@pytest.mark.parametrize(
    "path",
    ["/api/ac-acme%00/goals/", "/api/ac-acme/goals/g-%00/", "/admin/goals/goal/?q=%00"],
)
def test_nul_in_path_or_query__management_api_and_admin__is_400(admin_client, account, path):
    response = admin_client.get(path)
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_chunked_body_without_length__is_411_never_dropped(client, express_target, agent):
    response = client.generic(
        "POST",
        f"/ac-acme/v3/agent-api?session=s&apikey={express_target.api_key}",
        data=b"",
        content_type="text/plain",
        headers={"transfer-encoding": "chunked"},
    )
    assert response.status_code == 411
    assert response.json()["status"] == 411
    assert "Content-Length" in response.json()["err"]
    assert not Assignment.objects.exists()


def test_key_of_another_account__same_403_whether_the_url_account_exists(
    api, express_target, other_setup
):
    other_key = other_setup["target"].api_key
    on_existing = api.call(express_target, [{"a": "a-hero"}], key=other_key)
    on_missing = api.call(express_target, [{"a": "a-hero"}], key=other_key, account="ac-nobody")
    assert on_existing.status_code == on_missing.status_code == 403
    assert on_existing.json() == on_missing.json()


@pytest.mark.parametrize("key", ["api-short", "not-a-key", "api-" + "x" * 31 + "!", "a" * 5000])
def test_string_that_is_no_key__is_401_unknown(api, express_target, key):
    response = api.call(express_target, [{"a": "a-hero"}], key=key)
    assert response.status_code == 401
    assert response.json()["err"] == "Unknown runtime API key or account."


def test_made_up_account_codes__cost_bounded_memory(account):
    for i in range(UNKNOWN_CODES_KEPT + 200):
        assert account_conf(code=f"ac-nobody-{i}") is None
    for code in ("nope", "ac-UPPER", "ac-" + "x" * 41):
        assert account_conf(code=code) is None
    accounts, unknown = config_cache_size()
    assert unknown == UNKNOWN_CODES_KEPT
    assert account_conf(code="ac-acme") is not None
    assert config_cache_size()[0] == accounts + 1


def test_unknown_goal_codes__store_no_diagnostics(api, agent, rest_target, account):
    from goals.models import GoalOutcomeCount

    api.data(rest_target, [{"g": "g-made-up"}, {"g": "g-purchase"}], session="s")
    rest_target.allow_external_vid = False
    rest_target.save()
    api.call(rest_target, [{"g": "g-made-up-too"}], vid="x")  # refused for its vid: 403
    assert set(GoalOutcomeCount.objects.values_list("goal_code", flat=True)) == {"g-purchase"}


# Hardening 2, item 3: the query string is UTF-8 whatever charset the Content-Type names
# (SPEC §10); charsets that are not text encodings: tests/project/test_production.py


def test_charset_latin1__query_string_still_utf8__vid_stored_as_sent(api, agent, express_target):
    api.data(
        express_target,
        [{"a": "a-hero"}],
        vid="josé-1",
        content_type="text/plain; charset=ISO-8859-1",
    )
    assert Assignment.objects.get().vid == "josé-1"
