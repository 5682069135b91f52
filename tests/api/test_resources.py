"""The management API's resources: CRUD by code, validation from the same services."""

import pytest

from agents.models import Agent
from goals.models import Goal
from targets.models import DeployTarget

pytestmark = pytest.mark.django_db

AB = [{"code": "A"}, {"code": "B", "weight": 2, "metadata": {"headline": "Hi"}}]


def test_seed_setup__through_the_api_alone__then_the_seeds_flow_credits(admin_api, api, account):
    web = admin_api(
        "post", "targets/", {"code": "dt-web", "name": "Web", "allow_external_vid": True}
    )
    assert web.status_code == 201, web.content
    srv = admin_api(
        "post",
        "targets/",
        {"code": "dt-srv", "name": "Srv", "kind": "rest", "allow_external_vid": True},
    )
    assert srv.status_code == 201, srv.content
    goal = admin_api(
        "post",
        "goals/",
        {"code": "g-purchase", "name": "Purchase", "trigger": "api", "rest_send": True},
    )
    assert goal.status_code == 201, goal.content
    agent = admin_api(
        "post",
        "agents/",
        {
            "code": "a-hero",
            "name": "Hero",
            "status": "running",
            "variations": AB,
            "goals": ["g-purchase"],
            "targets": ["dt-web", "dt-srv"],
        },
    )
    assert agent.status_code == 201, agent.content
    web_t = DeployTarget.objects.get(code="dt-web")
    srv_t = DeployTarget.objects.get(code="dt-srv")
    assert web.json()["api_key"] == web_t.api_key
    seen = api.data(web_t, [{"a": "a-hero"}], session="page", vid="lana-123")["items"][0]["c"]
    [item] = api.data(srv_t, [{"g": "g-purchase", "v": 19.99}], session="lana-123", vid="lana-123")[
        "items"
    ]
    assert item["rs"] == [{"a": "a-hero", "c": seen, "v": 19.99}]


def test_paths__answer_with_and_without_trailing_slash(admin_api, express_target):
    for path in ("targets", "targets/", "targets/dt-web", "targets/dt-web/"):
        response = admin_api("get", path)
        assert response.status_code == 200, path


def test_target__read_list_patch_delete(admin_api, express_target):
    assert [t["code"] for t in admin_api("get", "targets/").json()] == ["dt-web"]
    patched = admin_api("patch", "targets/dt-web/", {"allow_external_vid": False, "name": "Site"})
    assert patched.status_code == 200
    assert patched.json()["allow_external_vid"] is False
    assert patched.json()["name"] == "Site"
    assert admin_api("delete", "targets/dt-web/").status_code == 204
    assert admin_api("get", "targets/dt-web/").status_code == 404


def test_target__rotate_key__old_key_stops_at_once(admin_api, api, agent, express_target):
    old = express_target.api_key
    assert api.call(express_target, [{"a": "a-hero"}]).status_code == 200
    response = admin_api("post", "targets/dt-web/rotate-key")
    assert response.status_code == 200
    new = response.json()["api_key"]
    assert new != old
    assert new.startswith("api-")
    assert api.call(express_target, [{"a": "a-hero"}], key=old).status_code == 401
    assert api.call(express_target, [{"a": "a-hero"}], key=new).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("goals/", {"name": "Buy", "trigger": "page_event", "rest_send": True}, "rest_send"),
        ("goals/", {"name": "Buy", "code": "purchase"}, "code"),
        ("goals/", {"name": "Buy", "max_value": -1}, "max_value"),
        ("goals/", {"name": "Buy", "counting": "twice"}, "counting"),
        ("goals/", {"name": "Buy", "color": "red"}, "color"),
        (
            "targets/",
            {"name": "Web", "kind": "rest", "allowed_origins": ["https://x.example"]},
            "allowed_origins",
        ),
        ("targets/", {"name": "Web", "allowed_origins": ["not an origin"]}, "allowed_origins"),
        ("targets/", {"name": "Web", "api_key": "api-mine"}, "api_key"),
        ("agents/", {"name": "T", "variations": [{"code": "A"}]}, "non_field_errors"),
        (
            "agents/",
            {"name": "T", "variations": [{"code": "A", "weight": 0}, {"code": "B", "weight": 0}]},
            "non_field_errors",
        ),
        ("agents/", {"name": "T", "variations": AB, "goals": ["g-nope"]}, "goals"),
        ("agents/", {"name": "T", "variations": AB, "targets": ["dt-nope"]}, "targets"),
        ("agents/", {"name": "T", "variations": AB, "paused_variation": "Z"}, "paused_variation"),
        (
            "agents/",
            {"name": "T", "variations": [{"code": "A", "metadata": {"k": 5}}, {"code": "B"}]},
            "variations",
        ),
        (
            "agents/",
            {"name": "T", "variations": [{"code": "A", "shade": 1}, {"code": "B"}]},
            "variations",
        ),
    ],
)
def test_create__invalid__is_400_with_field_messages(admin_api, account, path, body, field):
    response = admin_api("post", path, body)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not (Goal.objects.exists())
    assert not (Agent.objects.exists())
    assert not (DeployTarget.objects.exists())


@pytest.mark.parametrize(
    ("path", "body"),
    [("goals/", {"code": "g-purchase", "name": "Again"}),
     ("targets/", {"code": "dt-web", "name": "Again"}),
     ("agents/", {"code": "a-hero", "name": "Again",
                  "variations": [{"code": "A"}, {"code": "B"}]})],
)  # fmt: skip
def test_create__duplicate_code__is_409_conflict_on_code(admin_api, agent, path, body):
    response = admin_api("post", path, body)
    assert response.status_code == 409
    assert "already exists" in response.json()["code"][0]


def test_create__not_an_object__is_400(admin_api, account):
    response = admin_api("post", "goals/", [1, 2])
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("goals/g-purchase", "code"),
        ("targets/dt-web", "code"),
        ("targets/dt-web", "api_key"),
        ("agents/a-hero", "code"),
    ],
)
def test_patch__read_only_fields__are_refused(admin_api, agent, path, field):
    before = admin_api("get", path).json()
    response = admin_api("patch", path, {field: "x-changed"})
    assert response.status_code == 400
    assert response.json()[field] == ["This field is read-only."]
    assert admin_api("get", path).json() == before


def test_goal__patch_rest_send_on_page_goal__is_400(admin_api, account):
    admin_api("post", "goals/", {"code": "g-click", "name": "Click"})
    response = admin_api("patch", "goals/g-click", {"rest_send": True})
    assert response.status_code == 400
    assert "Programmatically, via API" in response.json()["rest_send"][0]


def test_agent__json_shape_and_patch(admin_api, agent):
    data = admin_api("get", "agents/a-hero/").json()
    assert data == {
        "code": "a-hero",
        "name": "Hero",
        "status": "running",
        "variations": [
            {"code": "A", "name": "", "weight": 1.0, "metadata": {}},
            {"code": "B", "name": "", "weight": 1.0, "metadata": {"h": "Hi"}},
        ],
        "paused_variation": "A",
        "goals": ["g-purchase"],
        "targets": ["dt-server", "dt-web"],
        "eligibility": None,
        "rules": [],
        "qa": [],
        "group": None,
        "starts_at": None,
        "ends_at": None,
        "owner": None,
        "hypothesis": "",
        "tags": [],
        "archived": False,
        "allocation": "fixed",
        "phase": 1,
        "decision": None,
    }
    patched = admin_api(
        "patch",
        "agents/a-hero",
        {
            "status": "paused",
            "paused_variation": "B",
            "targets": ["dt-web"],
            "variations": [{"code": "A", "weight": 3}, {"code": "B"}, {"code": "C", "weight": 0}],
        },
    ).json()
    assert patched["status"] == "paused"
    assert patched["paused_variation"] == "B"
    assert patched["targets"] == ["dt-web"]
    assert [(v["code"], v["weight"]) for v in patched["variations"]] == [
        ("A", 3),
        ("B", 1),
        ("C", 0),
    ]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("agents/a-hero", {"variations": [{"code": "A"}, {"name": "no code"}]}, "variations"),
        ("agents/a-hero", {"variations": [{"code": "A"}, {}]}, "variations"),
    ],
)
def test_patch__an_item_of_a_list__is_checked_whole(admin_api, agent, path, body, field):
    """A PATCH replaces a list whole, so each of its items needs what a create needs (a
    variation without its code was a server error)."""
    before = admin_api("get", path).json()
    response = admin_api("patch", path, body)
    assert response.status_code == 400, response.content
    assert "This field is required." in str(response.json()[field])
    assert admin_api("get", path).json() == before


def test_agent__removing_a_variation_with_visitors__is_refused(
    admin_api, api, agent, express_target
):
    seen = api.data(express_target, [{"a": "a-hero"}])["items"][0]["c"]
    other = "B" if seen == "A" else "A"
    response = admin_api("patch", "agents/a-hero", {"variations": [{"code": other}, {"code": "C"}]})
    assert response.status_code == 400
    assert seen in response.json()["variations"][0]


def test_delete__with_recorded_data__is_refused_unless_forced(
    admin_api, api, agent, express_target
):
    api.data(express_target, [{"a": "a-hero"}, {"g": "g-purchase"}])
    refused = admin_api("delete", "agents/a-hero")
    assert refused.status_code == 400
    message = refused.json()["non_field_errors"][0]
    assert "1 assignments" in message
    assert "force=true" in message
    goal_refused = admin_api("delete", "goals/g-purchase")
    assert goal_refused.status_code == 400
    assert "1 goal events" in goal_refused.json()["non_field_errors"][0]
    assert admin_api("delete", "agents/a-hero?force=true").status_code == 204
    assert admin_api("delete", "goals/g-purchase?force=true").status_code == 204
    assert not Agent.objects.exists()


def test_delete__without_data__needs_no_force(admin_api, agent):
    assert admin_api("delete", "agents/a-hero/").status_code == 204


def test_unknown_code__is_404(admin_api, account):
    for path in ("targets/dt-x", "goals/g-x", "agents/a-x", "agents/a-x/report"):
        assert admin_api("get", path).status_code == 404
    assert admin_api("post", "targets/dt-x/rotate-key").status_code == 404


def test_form_encoded_body__is_415_not_read_as_defaults(admin_api, client, account):
    response = client.post(
        "/api/ac-acme/goals/",
        "counting=&name=schema",
        content_type="application/x-www-form-urlencoded",
        headers=admin_api.headers,
    )
    assert response.status_code == 415
    assert not account.goals.exists()


def test_text_longer_than_its_limit_as_sent__is_400_even_when_trimming_would_fit(
    admin_api, account
):
    response = admin_api("post", "goals/", {"name": " " + "x" * 200})
    assert response.status_code == 400
    assert "no more than 200 characters" in response.json()["name"][0]
    assert admin_api("post", "goals/", {"name": "x" * 200}).status_code == 201


@pytest.mark.parametrize("weight", [1.7e308, 1000001, -1])
def test_weight__outside_0_to_10_to_the_6__is_400(admin_api, agent, weight):
    response = admin_api("patch", "agents/a-hero", {"variations": [
        {"code": "A"}, {"code": "B", "weight": weight},
    ]})  # fmt: skip
    assert response.status_code == 400
    assert agent.variations.get(code="B").weight == 1


def test_goal_max_value__above_10_to_the_12__is_400(admin_api, purchase_goal):
    assert admin_api("patch", "goals/g-purchase", {"max_value": 1e13}).status_code == 400
    assert admin_api("patch", "goals/g-purchase", {"max_value": 1e12}).status_code == 200


def test_management_api__deeply_nested_json__is_400(admin_api):
    body = "[" * 100_000 + "]" * 100_000
    response = admin_api.client.post(
        "/api/ac-acme/goals/", data=body, content_type="application/json",
        headers=admin_api.headers,
    )  # fmt: skip
    assert response.status_code == 400


def test_management_api__metadata_with_nul__is_400(admin_api, agent):
    response = admin_api("patch", "agents/a-hero", {"variations": [
        {"code": "A"}, {"code": "B", "metadata": {"headline": "a\u0000b"}},
    ]})  # fmt: skip
    assert response.status_code == 400
    assert agent.variations.get(code="B").metadata == {"h": "Hi"}  # unchanged


def test_rotate_key__raced_by_another_rotation__is_409_and_the_winner_stays_live(
    admin_api, express_target, monkeypatch
):
    from targets import services
    from targets.models import DeployTarget

    real = services.target_rotate_key

    def raced(*, target):  # another rotation commits between this request's read and write
        real(target=DeployTarget.objects.get(pk=target.pk))
        return real(target=target)

    monkeypatch.setattr("targets.api.target_rotate_key", raced)
    response = admin_api("post", "targets/dt-web/rotate-key")
    assert response.status_code == 409
    assert "rotated meanwhile" in response.json()["detail"]
    assert DeployTarget.objects.get(pk=express_target.pk).api_key != express_target.api_key
