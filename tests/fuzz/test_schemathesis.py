"""Schemathesis over every operation of the app's own OpenAPI schema (/api/schema/).

Runs in-process against the WSGI app: generated requests (valid and invalid) must never
get a server error, and answers must match the schema. Authenticated as the account the
fixtures create, so requests reach past authentication. FUZZ_EXAMPLES sets the number
of examples per operation (default 200; more for a longer run).
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from conductrics_admin.wsgi import application

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
# The checks the product promises: no server error, status codes, content types and
# bodies as documented, and data the schema calls invalid refused.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def keys(agent, express_target, rest_target):
    from accounts.services import admin_key_create

    _, admin_key = admin_key_create(account=agent.account)
    return {"admin": admin_key, "runtime": express_target.api_key}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation__never_fails_and_matches_the_schema(case, keys):
    if case.path_parameters is not None and "account" in case.path_parameters:
        case.path_parameters["account"] = "ac-acme"
    if case.path.startswith("/api/"):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {keys['admin']}"}
    elif "agent-api" in case.path:
        case.query = {**(case.query or {}), "apikey": keys["runtime"]}
    case.call_and_validate(checks=CHECKS)
