"""What the agent-api answers whatever a client asks of its form (Hardening 2, item 6;
SPEC §10): JSON in the envelope, whatever `Accept` or `?format=` says, so that no goal
is dropped for a header; a query string of too many fields is refused in the envelope."""

import pytest

from visitors.models import GoalEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("accept", "params"),
    [
        ("text/plain", {}),
        ("application/xml", {}),
        ("text/html;q=1, */*;q=0", {}),
        ("image/png", {}),
        (None, {"format": "xml"}),
        (None, {"format": "api"}),
        ("application/json", {"format": "no-such-format"}),
    ],
)
def test_any_accept_or_format__answered_json__goal_kept(
    api, agent, express_target, rest_target, accept, params
):
    api.data(express_target, [{"a": "a-hero"}], session="s-neg", vid="v-neg")
    headers = {"accept": accept} if accept else {}
    response = api.call(
        rest_target, [{"g": "g-purchase", "v": 5}], session="s-rest", vid="v-neg",
        headers=headers, **params,
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    [item] = response.json()["data"]["items"]
    assert item["s"] == "ok"
    assert GoalEvent.objects.filter(goal__code="g-purchase").count() == 1


def test_bundle__format_xml__still_the_bundle(client, agent, express_target):
    response = client.get(
        f"/ac-acme/v3/agent-api/js/dt-web?apikey={express_target.api_key}&format=xml",
        headers={"accept": "text/plain"},
    )
    assert response.status_code == 200
    assert response.json()["target"] == "dt-web"


@pytest.mark.parametrize("fields", [1001, 5000])
def test_too_many_query_fields__400_in_the_envelope(api, agent, express_target, fields):
    extra = {f"f{i}": "1" for i in range(fields)}
    response = api.call(express_target, [{"a": "a-hero"}], **extra)
    assert response.status_code == 400
    assert response.json() == {
        "status": 400, "err": "The query string has more than 1000 fields."
    }  # fmt: skip


def test_too_many_query_fields__management_api__400_json(client):
    query = "&".join(f"f{i}=1" for i in range(1001))
    response = client.get(f"/api/ac-acme/goals/?{query}")
    assert response.status_code == 400
    assert response.json() == {"detail": "The query string has more than 1000 fields."}
