import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Schemathesis calls the WSGI app directly: like Django's test client, keep the
    request signals from closing the connection that holds the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_keys(agent, express_target, rest_target):
    """The admin key of the fixtures' account, and its Express target's runtime key."""
    from accounts.services import admin_key_create

    _, admin_key = admin_key_create(account=agent.account)
    return {"admin": admin_key, "runtime": express_target.api_key}
