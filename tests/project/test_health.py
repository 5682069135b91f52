"""Liveness and readiness probes (SPEC §10)."""

import pytest
from django.db import OperationalError
from django.test import override_settings

from tests.helpers import redis_caches, redis_url_or_skip

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_healthz__200_touching_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz__database_reachable__200(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


def test_readyz__database_down__503_naming_it(client, monkeypatch):
    from django.db import connection

    def down():
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
    assert int(response["Retry-After"]) > 0


def test_readyz__redis_configured_and_down__503_naming_it(client):
    with override_settings(REDIS_URL=UNREACHABLE_REDIS, CACHES=redis_caches(UNREACHABLE_REDIS)):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["redis"]
    assert response.json()["checks"] == {"database": "ok", "redis": "failed"}


def test_readyz__redis_configured_and_up__200(client):
    url = redis_url_or_skip()
    with override_settings(REDIS_URL=url, CACHES=redis_caches(url)):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_probes__only_get(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405
