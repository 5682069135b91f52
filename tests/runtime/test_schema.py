import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema__describes_the_agent_api(client):
    response = client.get("/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200
    schema = response.json()
    post = schema["paths"]["/{account}/v3/agent-api"]["post"]
    assert {p["name"] for p in post["parameters"]} >= {"session", "vid", "apikey", "traits"}
    assert set(post["responses"]) >= {"200", "400", "401", "403", "413", "429", "503"}
    assert "/{account}/v3/agent-api/{target}" in schema["paths"]


def test_schema__validates_without_warnings(capsys):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_docs__are_served_from_our_own_static_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()


def test_schema__lists_every_management_endpoint(client):
    schema = client.get(
        "/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}
    ).json()
    paths = schema["paths"]
    expected = {
        "/api/{account}/targets/": {"get", "post"},
        "/api/{account}/targets/{code}/": {"get", "patch", "delete"},
        "/api/{account}/targets/{code}/rotate-key": {"post"},
        "/api/{account}/goals/": {"get", "post"},
        "/api/{account}/goals/{code}/": {"get", "patch", "delete"},
        "/api/{account}/agents/": {"get", "post"},
        "/api/{account}/agents/{code}/": {"get", "patch", "delete"},
        "/api/{account}/agents/{code}/report": {"get"},
    }
    normalised = {
        p.rstrip("/"): set(ops) & {"get", "post", "patch", "delete"} for p, ops in paths.items()
    }
    for path, methods in expected.items():
        assert methods <= normalised.get(path.rstrip("/"), set()), path


def test_schema__is_valid_openapi_3_by_an_independent_validator(client):
    """openapi-spec-validator (the OpenAPI Initiative's schemas), besides drf-spectacular's
    own check above: what a generated client or a gateway will read."""
    from openapi_spec_validator import validate

    schema = client.get(
        "/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}
    ).json()
    assert schema["openapi"].startswith("3.")
    validate(schema)  # raises OpenAPIValidationError naming the path of the fault
