"""CORS for Express targets; none for REST targets."""

import pytest

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com"


def _preflight(client, target, origin):
    return client.options(
        f"/ac-acme/v3/agent-api?apikey={target.api_key}&session=s",
        headers={"origin": origin, "access-control-request-method": "POST"},
    )


def test_cors__express_with_no_list__allows_any_origin(api, client, agent, express_target):
    response = _preflight(client, express_target, "https://anywhere.example")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://anywhere.example"
    assert "POST" in response["Access-Control-Allow-Methods"]
    post = api.call(
        express_target, [{"a": "a-hero"}], headers={"origin": "https://anywhere.example"}
    )
    assert post["Access-Control-Allow-Origin"] == "https://anywhere.example"


def test_cors__listed_origin__is_allowed(api, client, agent, express_target):
    express_target.allowed_origins = [SHOP]
    express_target.save()
    assert _preflight(client, express_target, SHOP).status_code == 204
    response = api.call(express_target, [{"a": "a-hero"}], headers={"origin": SHOP})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP


def test_cors__other_origin__is_refused_403(api, client, agent, express_target):
    express_target.allowed_origins = [SHOP]
    express_target.save()
    # the pre-flight says nothing (SPEC §10); the request it announces is refused
    assert _preflight(client, express_target, "https://evil.example").status_code == 204
    response = api.call(
        express_target, [{"a": "a-hero"}], headers={"origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response
    from visitors.models import Assignment

    assert not Assignment.objects.exists()


def test_cors__rest_target__sends_no_cors_headers(api, client, agent, rest_target):
    response = api.call(rest_target, [{"a": "a-hero"}], headers={"origin": SHOP})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    assert _preflight(client, rest_target, SHOP).status_code == 204  # as for any URL


def test_cors__error_answers_of_express__are_readable_by_the_page(api, agent, express_target):
    response = api.call(express_target, [{"a": 5}], headers={"origin": SHOP})
    assert response.status_code == 400
    assert response["Access-Control-Allow-Origin"] == SHOP


def test_preflight__database_down__still_answered__it_reads_nothing(
    client, express_target, monkeypatch
):
    from django.db import OperationalError

    from visitors import config

    def down(**kwargs):
        raise OperationalError("database down")

    monkeypatch.setattr(config, "account_conf", down)
    assert _preflight(client, express_target, "https://shop.example").status_code == 204


# Hardening 2, item 6 (SPEC §10): a pre-flight tells nothing of what exists.
@pytest.mark.parametrize(
    "path",
    [
        "/ac-acme/v3/agent-api",  # exists
        "/ac-nobody/v3/agent-api",  # no such account
        "/ac-acme/v3/agent-api/dt-web",  # a target that exists
        "/ac-acme/v3/agent-api/dt-nothing",  # one that does not
        "/ac-nobody/v3/agent-api/dt-web",
    ],
)
def test_preflight__same_answer_whatever_exists(client, express_target, path):
    express_target.allowed_origins = [SHOP]
    express_target.save()
    response = client.options(
        path, headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
    )
    assert response.status_code == 204
    shown = {k: v for k, v in response.items() if k.lower().startswith(("access-control", "vary"))}
    assert shown == {
        "Access-Control-Allow-Origin": "https://evil.example",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "content-type, x-conductrics-apikey",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }
    assert response.content == b""


@pytest.mark.parametrize("made_up", ["preflight", "account", "key"])
def test_unvouched_requests__throttled_per_client_ip(client, express_target, settings, made_up):
    """Pre-flights, made-up account codes and made-up keys count per IP at the Express
    rate: past it, 429 with Retry-After, in the envelope."""
    settings.AGENT_API_EXPRESS_RATE = "3/min"

    def send(i):
        if made_up == "preflight":
            return client.options(f"/ac-x{i}/v3/agent-api", headers={"origin": SHOP})
        account = f"ac-made-up-{i}" if made_up == "account" else "ac-acme"
        key = express_target.api_key if made_up == "account" else f"api-madeup{i:020d}"
        return client.post(f"/{account}/v3/agent-api?session=s&apikey={key}", b"[]",
                           content_type="application/json")  # fmt: skip

    answers = [send(i) for i in range(5)]
    assert all(a.status_code != 429 for a in answers[:3])
    assert [a.status_code for a in answers[3:]] == [429, 429]
    assert answers[4].json()["status"] == 429
    assert int(answers[4]["Retry-After"]) >= 1
    # a client whose key is good is not held back by them
    good = client.post(f"/ac-acme/v3/agent-api?session=s&apikey={express_target.api_key}",
                       b"[]", content_type="application/json")  # fmt: skip
    assert good.status_code == 200
