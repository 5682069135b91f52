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
    assert _preflight(client, express_target, "https://evil.example").status_code == 403
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
    assert _preflight(client, rest_target, SHOP).status_code == 403


def test_cors__error_answers_of_express__are_readable_by_the_page(api, agent, express_target):
    response = api.call(express_target, [{"a": 5}], headers={"origin": SHOP})
    assert response.status_code == 400
    assert response["Access-Control-Allow-Origin"] == SHOP


def test_preflight__database_down__503_with_retry_after_never_500(
    client, express_target, monkeypatch
):
    from django.db import OperationalError

    from runtime import cors

    def down(**kwargs):
        raise OperationalError("database down")

    monkeypatch.setattr(cors, "account_conf", down)
    response = _preflight(client, express_target, "https://shop.example")
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json() == {"status": 503, "err": "The database is unavailable; retry shortly."}
