"""`POST /api/{account}/goals/{code}/explain` (SPEC §4c): the goal item sending a goal now
would produce, with a log naming per agent the assignment found and the rule that
decided; nothing recorded."""

import pytest

from goals import reasons
from visitors.models import Credit, GoalEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(client, account):
    from accounts.services import admin_key_create
    from tests.conftest import Api

    _, key = admin_key_create(account=account)
    return Api(client, key)


def _explain(admin_api, **body):
    response = admin_api("post", "goals/g-purchase/explain", {"target": "dt-server", **body})
    return response


def test_explain__credited_with_the_assignment_named(admin_api, api, agent, express_target):
    seen = api.data(express_target, [{"a": "a-hero"}], session="p", vid="lana")["items"][0]["c"]
    response = _explain(admin_api, session="srv", vid="lana", v=20)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["item"]["s"] == "ok"
    assert data["item"]["rs"] == [{"a": "a-hero", "c": seen, "v": 20.0}]
    assert data["log"][0].startswith(f"a-hero: {seen} made ")
    assert "by vid on a express target: credited" in data["log"][0]
    assert not GoalEvent.objects.exists()
    assert not Credit.objects.exists()


def test_explain__skip_in_words_and_no_assignment(
    admin_api, api, agent, express_target, purchase_goal
):
    purchase_goal.rest_send = False
    purchase_goal.save()
    api.data(express_target, [{"a": "a-hero"}], session="p", vid="lana")
    data = _explain(admin_api, session="srv", vid="lana").json()
    assert [s["reason"] for s in data["item"]["skipped"]] == [reasons.REST_SEND_NOT_ENABLED]
    assert reasons.WORDS[reasons.REST_SEND_NOT_ENABLED] in data["log"][0]
    nobody = _explain(admin_api, session="nobody").json()
    assert nobody["log"][0] == "a-hero: no assignment of this session or vid"


def test_explain__time_and_refusals(admin_api, agent, rest_target):
    assert _explain(admin_api, session="s", t={"at": 1}).status_code == 400
    assert _explain(admin_api, session="s", t="yesterday").json()["item"]["err"] == "invalid_time"
    assert _explain(admin_api, session="s", target="dt-none").status_code == 400
    assert (
        admin_api(
            "post", "goals/g-none/explain", {"target": "dt-server", "session": "s"}
        ).status_code
        == 404
    )
    future = _explain(admin_api, session="s", t="2999-01-01T00:00:00Z").json()
    assert future["item"]["err"] == reasons.INVALID_TIME
    rest_target.allow_external_vid = False
    rest_target.save()
    notes = _explain(admin_api, session="s", vid="lana").json()["notes"]
    assert any("refused (403)" in note for note in notes)


# The same form on the goal's admin page


def test_explain_page__the_same_answer_for_a_person(api, agent, express_target, purchase_goal,
                                                    staff_client):  # fmt: skip
    seen = api.data(express_target, [{"a": "a-hero"}], session="p", vid="lana")["items"][0]["c"]
    url = f"/admin/goals/goal/{purchase_goal.pk}/explain/"
    assert staff_client.get(url).status_code == 200
    page = staff_client.post(url, {"target": "dt-server", "session": "srv", "vid": "lana",
                                   "v": "20", "t": ""})  # fmt: skip
    html = page.content.decode()
    assert f"<strong>Credited</strong> to a-hero/{seen}" in html
    assert f"a-hero: {seen} made " in html
    assert "&quot;s&quot;: &quot;ok&quot;" in html  # the item, as the agent-api would answer
    assert not GoalEvent.objects.exists()


def test_explain_page__bad_input_named(agent, purchase_goal, staff_client):
    url = f"/admin/goals/goal/{purchase_goal.pk}/explain/"
    page = staff_client.post(url, {"target": "dt-none", "session": "", "t": "yesterday",
                                   "v": "lots", "inputs": "{", "traits": "x"})  # fmt: skip
    html = page.content.decode()
    assert page.status_code == 200
    for words in ("Select a valid choice", "This field is required", "RFC 3339",
                  "Enter a number", "Not JSON", "group:value"):  # fmt: skip
        assert words in html, words
    future = staff_client.post(url, {"target": "dt-server", "session": "s",
                                     "t": "2999-01-01T00:00:00Z"})  # fmt: skip
    assert "<strong>Refused</strong> (invalid_time)" in future.content.decode()
