"""Faults with a real PostgreSQL: the server kills our connection mid-traffic."""

import time

import pytest
from django.db import connection

from agents.models import Assignment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's pg_terminate_backend (run with DATABASE_URL)")


def _terminate_our_connection():
    import psycopg

    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_connection_killed__503_fast_then_the_next_request_succeeds(api, agent, express_target):
    assert api.call(express_target, [{"a": "a-hero"}], session="before").status_code == 200
    _terminate_our_connection()
    started = time.monotonic()
    response = api.call(express_target, [{"a": "a-hero"}], session="during")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    after = api.call(express_target, [{"a": "a-hero"}], session="after")
    assert after.status_code == 200  # reconnected, no restart
    assert set(Assignment.objects.values_list("session", flat=True)) == {"before", "after"}
