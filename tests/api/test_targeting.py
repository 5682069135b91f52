"""Targeting in the management API (SPEC §7): eligibility, rules and QA on agent JSON,
checked as the admin checks them, refused with the path of the fault."""

import pytest
from openapi_schema_validator import OAS30Validator

pytestmark = pytest.mark.django_db

GOLD = {"source": "input", "name": "plan", "op": "eq", "value": "gold"}


def test_agent__targeting_round_trips(admin_api, agent):
    change = {
        "eligibility": {"any": [GOLD, {"source": "random", "op": "lte", "value": 20}]},
        "rules": [{"name": "gold gets B", "when": GOLD, "variation": "B"}],
        "qa": [{"session": "qa-1", "variation": "A"}],
    }
    response = admin_api("patch", "agents/a-hero/", change)
    assert response.status_code == 200, response.content
    body = admin_api("get", "agents/a-hero/").json()
    assert {k: body[k] for k in change} == change
    # and null / empty clear them
    cleared = admin_api("patch", "agents/a-hero/", {"eligibility": None, "rules": [], "qa": None})
    assert (cleared.json()["eligibility"], cleared.json()["rules"], cleared.json()["qa"]) == (
        None, [], [],
    )  # fmt: skip


def test_agent__created_with_targeting(admin_api, agent):
    body = {
        "code": "a-new", "name": "New", "variations": [{"code": "A"}, {"code": "C", "weight": 0}],
        "targets": ["dt-web"], "rules": [{"name": "all C", "when": None, "variation": "C"}],
    }  # fmt: skip
    response = admin_api("post", "agents/", body)
    assert response.status_code == 201, response.content
    assert response.json()["rules"] == body["rules"]
    assert response.json()["eligibility"] is None


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"rules": [{"name": "x", "when": {"all": [GOLD, {**GOLD, "op": "equals"}]},
                     "variation": "B"}]},
         "rules", 'rules[0].when.all[1].op: unknown operator "equals"'),
        ({"rules": [{"name": "x", "when": None, "variation": "Z"}]},
         "rules", 'rules[0].variation: "Z" is not a variation of this agent'),
        ({"rules": [{"when": None, "variation": "A"}]}, "rules", "rules[0].name"),
        ({"rules": {"name": "x"}}, "rules", "rules: a list"),
        ({"rules": [{"name": f"r{i}", "when": None, "variation": "A"} for i in range(21)]},
         "rules", "at most 20 rules"),
        ({"rules": [{"name": "x", "when": {"all": [GOLD] * 51}, "variation": "A"}]},
         "rules", "at most 50 leaves"),
        ({"eligibility": {"source": "input", "op": "set"}}, "eligibility",
         "eligibility.name: input needs a name"),
        ({"eligibility": "everyone"}, "eligibility", "eligibility: a condition is an object"),
        ({"qa": [{"session": "s", "vid": "v", "variation": "A"}]}, "qa",
         'qa[0]: names one visitor'),
        ({"qa": [{"session": "s", "variation": "A"}, {"session": "s", "variation": "B"}]},
         "qa", "qa[1].session: session s has an override already"),
        ({"qa": [{"vid": "v" * 129, "variation": "A"}]}, "qa", "qa[0].vid: 1 to 128"),
    ],
)  # fmt: skip
def test_agent__bad_targeting__is_400_naming_the_path(admin_api, agent, change, field, message):
    response = admin_api("patch", "agents/a-hero/", change)
    assert response.status_code == 400, response.content
    assert message in str(response.json()[field])
    body = admin_api("get", "agents/a-hero/").json()
    assert (body["eligibility"], body["rules"], body["qa"]) == (None, [], [])


def test_agent__removing_a_variation_a_rule_forces__is_refused(admin_api, agent):
    admin_api("patch", "agents/a-hero/", {"rules": [{"name": "b", "when": None, "variation": "B"}]})
    response = admin_api("patch", "agents/a-hero/", {"variations": [{"code": "A"}, {"code": "C"}]})
    assert response.status_code == 400
    assert 'rules[0].variation: "B" is not a variation' in str(response.json()["rules"])


def _two_agents(admin_api):
    for code in ("a-one", "a-two"):
        body = {"code": code, "name": code, "variations": [{"code": "A"}, {"code": "B"}]}
        assert admin_api("post", "agents/", body).status_code == 201


def test_groups__create_read_update_delete(admin_api, agent):
    _two_agents(admin_api)
    body = {"code": "mx-home", "name": "Home", "agents": [{"code": "a-one", "weight": 2},
                                                          {"code": "a-two"}]}  # fmt: skip
    created = admin_api("post", "groups/", body)
    assert created.status_code == 201, created.content
    assert created.json() == {
        "code": "mx-home", "name": "Home",
        "agents": [{"code": "a-one", "weight": 2.0}, {"code": "a-two", "weight": 1.0}],
    }  # fmt: skip
    assert admin_api("get", "agents/a-one/").json()["group"] == "mx-home"
    assert admin_api("get", "agents/a-hero/").json()["group"] is None
    assert [g["code"] for g in admin_api("get", "groups/").json()] == ["mx-home"]
    patched = admin_api("patch", "groups/mx-home/", {"agents": [{"code": "a-one"},
                                                                {"code": "a-hero"}]})  # fmt: skip
    assert patched.status_code == 200, patched.content
    assert [a["code"] for a in patched.json()["agents"]] == ["a-one", "a-hero"]
    assert admin_api("get", "agents/a-two/").json()["group"] is None
    assert admin_api("delete", "groups/mx-home/").status_code == 204
    assert admin_api("get", "groups/mx-home/").status_code == 404
    assert admin_api("get", "agents/a-one/").json()["group"] is None


def test_groups__whose_agents_are_deleted__read_empty_as_the_schema_says(admin_api, agent, client):
    """Found by Schemathesis' stateful phase: deleting a group's last agent leaves the
    group with no agents, which the response schema must allow (a create still needs one)."""
    assert (
        admin_api(
            "post", "groups/", {"code": "mx-solo", "name": "Solo", "agents": [{"code": "a-hero"}]}
        ).status_code
        == 201
    )
    assert admin_api("delete", "agents/a-hero/").status_code == 204
    group = admin_api("get", "groups/mx-solo/").json()
    assert group["agents"] == []
    schemas = client.get(
        "/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}
    ).json()["components"]["schemas"]
    root = {"$ref": "#/components/schemas/GroupOut", "components": {"schemas": schemas}}
    assert OAS30Validator(root).is_valid(group)
    assert schemas["GroupInRequest"]["properties"]["agents"]["minItems"] == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"code": "home", "name": "H", "agents": [{"code": "a-one"}]}, "code", ""),
        ({"code": "mx-h", "name": "H", "agents": []}, "agents", "one or more agents"),
        ({"code": "mx-h", "name": "H", "agents": [{"code": "a-nope"}]}, "agents", "a-nope"),
        ({"code": "mx-h", "name": "H", "agents": [{"code": "a-one"}, {"code": "a-one"}]},
         "agents", "Listed twice: a-one"),
        ({"code": "mx-h", "name": "H", "agents": [{"code": "a-one", "weight": 0}]},
         "agents", "all 0"),
        ({"code": "mx-h", "name": "H", "agents": [{"code": "a-one", "weight": -1}]},
         "agents", ""),
        ({"code": "mx-h", "name": "H", "agents": [{"code": "a-one"}], "colour": 1},
         "colour", "Unknown field"),
    ],
)  # fmt: skip
def test_groups__bad_input__is_400(admin_api, agent, body, field, message):
    _two_agents(admin_api)
    response = admin_api("post", "groups/", body)
    assert response.status_code == 400, response.content
    assert message in str(response.json()[field])


def test_groups__patch_with_a_member_without_its_code__is_400(admin_api, agent):
    admin_api("post", "groups/", {"code": "mx-a", "name": "A", "agents": [{"code": "a-hero"}]})
    response = admin_api("patch", "groups/mx-a/", {"agents": [{"weight": 2}]})
    assert response.status_code == 400, response.content
    assert "This field is required." in str(response.json()["agents"])
    assert admin_api("get", "groups/mx-a/").json()["agents"] == [{"code": "a-hero", "weight": 1.0}]


def test_groups__an_agent_in_another_group__is_refused(admin_api, agent):
    _two_agents(admin_api)
    admin_api("post", "groups/", {"code": "mx-a", "name": "A", "agents": [{"code": "a-one"}]})
    response = admin_api("post", "groups/", {"code": "mx-b", "name": "B",
                                             "agents": [{"code": "a-one"}]})  # fmt: skip
    assert response.status_code == 400
    assert "a-one is in mx-a" in str(response.json()["agents"])


def test_goal__when_round_trips_and_is_checked(admin_api, purchase_goal):
    when = {"source": "variation", "name": "a-hero", "op": "eq", "value": "B"}
    assert admin_api("patch", "goals/g-purchase/", {"when": when}).json()["when"] == when
    bad = admin_api("patch", "goals/g-purchase/", {"when": {**when, "op": "equals"}})
    assert bad.status_code == 400
    assert 'when.op: unknown operator "equals"' in str(bad.json()["when"])
