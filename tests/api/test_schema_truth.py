"""The management API's schema tells the truth (issue #21, first part): what the server
refuses is what the schema calls invalid. JSON types as the schema gives them, unknown
fields, blank texts, `force`, report dates; and the schema says so."""

import re

import pytest

from accounts.codes import NON_BLANK_PATTERN, TEXT_PATTERN

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "body", "field", "message"),
    [
        ("targets/", {"name": 5}, "name", "Must be a string."),
        ("targets/", {"name": "Web 2", "enabled": "true"}, "enabled", "Must be true or false."),
        ("targets/", {"name": "Web 2", "allowed_origins": [5]}, "allowed_origins",
         "Item 0: Must be a string."),
        ("goals/", {"name": "Buy", "attribution_window_hours": "12"}, "attribution_window_hours",
         "Must be a whole number."),
        ("goals/", {"name": "Buy", "attribution_window_hours": True}, "attribution_window_hours",
         "Must be a whole number."),
        ("goals/", {"name": "Buy", "max_value": "1.5"}, "max_value", "Must be a number."),
        ("goals/", {"name": "   "}, "name", "This field may not be blank."),
    ],
)  # fmt: skip
def test_values_of_another_json_type__400_naming_the_field(
    admin_api, agent, path, body, field, message
):
    response = admin_api("post", path, body)
    assert response.status_code == 400
    assert response.json()[field] == [message]


@pytest.mark.parametrize("query", ["?force=1", "?force=yes", "?force=", "?force=true&force=true"])
def test_force__only_true_or_false(admin_api, agent, query):
    response = admin_api("delete", f"goals/g-purchase/{query}")
    assert response.status_code == 400
    assert response.json()["force"] == ["Must be true or false, given once."]
    assert admin_api("get", "goals/g-purchase/").status_code == 200  # not deleted


@pytest.mark.parametrize(
    "query", ["?to=", "?from=20261201", "?from=2026-W48-2", "?to=2026-12-01&to=2026-12-02"]
)
def test_report_dates__only_yyyy_mm_dd_once(admin_api, agent, query):
    response = admin_api("get", f"agents/a-hero/report/{query}")
    assert response.status_code == 400
    assert set(response.json()) <= {"from", "to"}


def test_schema__states_those_rules(client):
    schema = client.get(
        "/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}
    ).json()
    components = schema["components"]["schemas"]
    target_in = components["TargetInRequest"]
    assert target_in["additionalProperties"] is False
    name = target_in["properties"]["name"]
    assert name["minLength"] == 1
    assert name["maxLength"] == 200
    assert name["pattern"] == NON_BLANK_PATTERN
    assert "description" not in target_in  # not the base serializer's docstring
    report = schema["paths"]["/api/{account}/agents/{code}/report/"]["get"]
    dates = {p["name"]: p["schema"] for p in report["parameters"] if p["in"] == "query"}
    assert dates["from"] == {
        "type": "string",
        "format": "date",
        "pattern": "^2[0-9]{3}-[0-9]{2}-[0-9]{2}$",
    }
    delete = schema["paths"]["/api/{account}/goals/{code}/"]["delete"]
    force = next(p for p in delete["parameters"] if p["name"] == "force")
    assert force["schema"]["type"] == "boolean"


def test_schema__codes_bounds_and_counts(client):
    components = client.get(
        "/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}
    ).json()["components"]["schemas"]
    agent = components["AgentInRequest"]["properties"]
    assert agent["code"]["pattern"] == "^a-[a-zA-Z0-9-]{1,40}$"
    assert agent["variations"]["minItems"] == 2
    assert agent["goals"]["items"]["pattern"] == "^g-[a-zA-Z0-9-]{1,40}$"
    assert agent["targets"]["items"]["pattern"] == "^dt-[a-zA-Z0-9-]{1,40}$"
    assert components["VariationIORequest"]["properties"]["code"]["pattern"] == (
        "^[A-Za-z0-9_-]{1,32}$"
    )
    goal = components["GoalInRequest"]["properties"]
    assert goal["code"]["pattern"] == "^g-[a-zA-Z0-9-]{1,40}$"
    assert goal["max_value"]["minimum"] == 0
    assert goal["max_value"]["exclusiveMinimum"] is True
    assert (
        goal["attribution_window_hours"]["minimum"],
        goal["attribution_window_hours"]["maximum"],
    ) == (1, 2160)
    assert components["TargetInRequest"]["properties"]["code"]["pattern"] == (
        "^dt-[a-zA-Z0-9-]{1,40}$"
    )


def test_codes_refused_with_the_domains_message(admin_api, agent):
    response = admin_api("post", "goals/", {"code": "purchase", "name": "Buy"})
    assert response.status_code == 400
    assert response.json()["code"] == [
        "A goal code is “g-” followed by 1 to 40 letters, digits or dashes."
    ]
    response = admin_api("post", "agents/", {"name": "X", "variations": [{"code": "A"}]})
    assert response.status_code == 400
    assert "two or more variations" in str(response.json())


def test_schema__creates_link_to_what_follows_them(client):
    """OpenAPI links from each create to the operations on the object it made (the new
    code from the answer), which Schemathesis' stateful phase and clients follow."""
    schema = client.get(
        "/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}
    ).json()
    ids = {
        op["operationId"] for ops in schema["paths"].values() for op in ops.values()
        if isinstance(op, dict) and "operationId" in op
    }  # fmt: skip
    for resource in ("agents", "goals", "groups", "targets"):
        created = schema["paths"][f"/api/{{account}}/{resource}/"]["post"]["responses"]["201"]
        links = created["links"]
        assert {"retrieve", "partial_update", "destroy"} <= set(links)
        for link in links.values():
            assert link["operationId"] in ids
            assert link["parameters"] == {
                "account": "$request.path.account", "code": "$response.body#/code",
            }  # fmt: skip
    agent_links = schema["paths"]["/api/{account}/agents/"]["post"]["responses"]["201"]["links"]
    assert "report_retrieve" in agent_links


def test_schema__metadata_and_inputs_are_objects_of_short_strings(client):
    components = client.get(
        "/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}
    ).json()["components"]["schemas"]
    metadata = components["VariationIORequest"]["properties"]["metadata"]
    assert metadata["type"] == "object"
    assert metadata["maxProperties"] == 20
    assert metadata["additionalProperties"] == {
        "type": "string", "maxLength": 256, "pattern": "^[^\\x00]*$"
    }  # fmt: skip
    inputs = components["ExplainInRequest"]["properties"]["inputs"]
    assert inputs["maxProperties"] == 50
    assert inputs["nullable"] is True


def test_explain__null_inputs_are_none(admin_api, agent, express_target):
    body = {"target": "dt-web", "session": "s-1", "inputs": None}
    response = admin_api("post", "agents/a-hero/explain/", body)
    assert response.status_code == 200, response.content
    assert response.json()["selection"]["c"] in {"A", "B"}


def test_schema__creates_document_their_409(client):
    paths = client.get(
        "/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}
    ).json()["paths"]
    for resource in ("agents", "goals", "groups", "targets"):
        assert "409" in paths[f"/api/{{account}}/{resource}/"]["post"]["responses"]
    assert "409" not in paths["/api/{account}/goals/"]["get"]["responses"]


def test_schema__a_group_lists_one_or_more_agents(client):
    components = client.get(
        "/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}
    ).json()["components"]["schemas"]
    assert components["GroupInRequest"]["properties"]["agents"]["minItems"] == 1


def test_agent_api__a_method_it_does_not_take__is_405_before_the_key_is_read(client):
    """Found by Schemathesis: TRACE with a key of another target answered 403."""
    for path in ("/ac-acme/v3/agent-api", "/ac-acme/v3/agent-api/dt-nope",
                 "/ac-acme/v3/agent-api/js/dt-nope"):  # fmt: skip
        response = client.generic("TRACE", f"{path}?apikey=nope&session=s")
        assert response.status_code == 405, (path, response.content)


@pytest.mark.parametrize("text", [chr(c) * 2 for c in range(0x3001) if chr(c).isspace()])
def test_non_blank__whitespace_as_the_server_trims_it(admin_api, agent, text):
    """The pattern's whitespace is str.strip()'s (U+001C to U+001F and U+0085 too), not a
    regex's \\s: what the server trims to blank, the schema calls blank."""
    assert re.fullmatch(NON_BLANK_PATTERN, text) is None
    response = admin_api("post", "targets/", {"name": text})
    assert response.status_code == 400
    assert response.json()["name"] == ["This field may not be blank."]


def test_non_blank__a_character_no_trimming_takes_is_not_blank(admin_api, agent):
    assert re.fullmatch(NON_BLANK_PATTERN, "\ufeff")  # a regex's \\s would call it blank
    assert admin_api("post", "targets/", {"name": "\ufeff"}).status_code == 201


def test_schema__every_text_in_a_url_refuses_a_nul(client):
    """The server refuses a NUL anywhere in the path or the query string
    (request_shape.py): every text parameter there says so, by a pattern of its own, a
    format or an enum, or else `^[^\\x00]*$`."""
    paths = client.get(
        "/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}
    ).json()["paths"]
    texts = [
        (path, parameter["name"], parameter["schema"])
        for path, operations in paths.items()
        for operation in operations.values()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", [])
        if parameter["in"] in ("path", "query") and parameter["schema"].get("type") == "string"
    ]
    assert len(texts) > 30
    unruled = [(p, n) for p, n, s in texts if not {"pattern", "format", "enum"} & set(s)]
    assert unruled == []
    agent_api = {n: s for p, n, s in texts if p == "/{account}/v3/agent-api/{target}"}
    assert {agent_api[n]["pattern"] for n in ("apikey", "vid", "traits", "target")} == {
        TEXT_PATTERN
    }
