"""An agent's lifecycle through the management API (SPEC §6b): schedule, owner, hypothesis,
tags, archive, and Decide (the winner recorded with who, when, a note and the verdicts,
then served to everyone)."""

import pytest
from django.contrib.auth import get_user_model

from accounts.audit import audit_entries_of, audit_who
from accounts.roles import Role
from accounts.services import membership_add
from agents.models import AgentDecision, AgentStatus

pytestmark = pytest.mark.django_db

NEW = {"name": "Checkout", "variations": [{"code": "A"}, {"code": "B"}]}


def test_create__lifecycle_fields_are_kept_and_answered(admin_api, account, staff_user):
    response = admin_api(
        "post",
        "agents/",
        {
            **NEW,
            "status": "draft",
            "starts_at": "2026-12-10T09:00:00+01:00",
            "ends_at": "2026-12-24T00:00:00Z",
            "owner": "alice",
            "hypothesis": "A shorter form sells more.",
            "tags": ["checkout", "q4 2026"],
        },
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft"
    assert data["starts_at"] == "2026-12-10T08:00:00Z"  # answered in UTC
    assert data["ends_at"] == "2026-12-24T00:00:00Z"
    assert (data["owner"], data["hypothesis"]) == ("alice", "A shorter form sells more.")
    assert data["tags"] == ["checkout", "q4 2026"]
    assert (data["archived"], data["decision"]) == (False, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"starts_at": "2026-12-10T00:00:00Z", "ends_at": "2026-12-09T00:00:00Z"}, "ends_at"),
        ({"starts_at": "2026-12-10T00:00:00Z", "ends_at": "2026-12-10T00:00:00Z"}, "ends_at"),
        ({"starts_at": "1999-12-31T23:59:59Z"}, "starts_at"),
        ({"ends_at": "3000-01-01T00:00:00Z"}, "ends_at"),
        ({"ends_at": "tomorrow"}, "ends_at"),
        ({"owner": "mallory"}, "owner"),
        ({"tags": ["a,b"]}, "tags"),
        ({"tags": ["x"] * 2}, "tags"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"tags": [" lead"]}, "tags"),
        ({"hypothesis": "h" * 2001}, "hypothesis"),
    ],
)
def test_create__bad_lifecycle_field__400_naming_it(admin_api, body, field):
    response = admin_api("post", "agents/", {**NEW, **body})
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert admin_api("get", "agents/?archived=any").json() == []


def test_owner__a_user_of_another_account_is_refused(admin_api, other_account):
    user = get_user_model().objects.create_user(username="bob", is_staff=True)
    membership_add(account=other_account, user=user, role=Role.OWNER)
    response = admin_api("post", "agents/", {**NEW, "owner": "bob"})
    assert response.status_code == 400
    assert "not a member" in response.json()["owner"][0]


def test_patch__schedule_checked_against_what_is_stored(admin_api, agent):
    assert (
        admin_api("patch", "agents/a-hero", {"ends_at": "2027-01-01T00:00:00Z"}).status_code == 200
    )
    response = admin_api("patch", "agents/a-hero", {"starts_at": "2027-02-01T00:00:00Z"})
    assert response.status_code == 400
    assert admin_api("get", "agents/a-hero").json()["starts_at"] is None


def test_archive__hidden_from_the_list_unless_asked(admin_api, agent):
    admin_api("post", "agents/", {**NEW, "code": "a-old", "tags": ["q3"]})
    assert admin_api("patch", "agents/a-old", {"archived": True}).json()["archived"] is True
    codes = lambda query: [a["code"] for a in admin_api("get", f"agents/{query}").json()]  # noqa: E731
    assert codes("") == ["a-hero"]
    assert codes("?archived=true") == ["a-old"]
    assert codes("?archived=any") == ["a-hero", "a-old"]
    assert codes("?archived=any&tag=q3") == ["a-old"]
    assert codes("?archived=any&tag=q") == []  # a whole tag, not a part
    assert admin_api("get", "agents/?archived=maybe").status_code == 400
    for bad in ("", "a,b", "x" * 41, " lead"):
        assert admin_api("get", f"agents/?tag={bad}").status_code == 400
    assert admin_api("get", "agents/?tag=q3&tag=q4").status_code == 400
    assert admin_api("get", "agents/a-old").json()["archived"] is True  # data kept


def test_tags__found_first_inside_last_and_alone(admin_api, account):
    for code, tags in [("a-one", ["x"]), ("a-two", ["x", "y"]), ("a-three", ["w", "x", "y"]),
                       ("a-four", ["y", "x"]), ("a-five", ["xx"])]:  # fmt: skip
        assert admin_api("post", "agents/", {**NEW, "code": code, "tags": tags}).status_code == 201
    found = [a["code"] for a in admin_api("get", "agents/?tag=x").json()]
    assert found == ["a-four", "a-one", "a-three", "a-two"]


def test_decide__records_the_winner_and_serves_it_to_everyone(
    admin_api, api, agent, express_target
):
    for i in range(4):
        api.data(express_target, [{"a": "a-hero"}], session=f"s{i}")
    response = admin_api("post", "agents/a-hero/decide", {"variation": "B", "note": "Ship B."})
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["paused_variation"]) == ("paused", "B")
    decision = data["decision"]
    assert decision["variation"] == "B"
    assert decision["note"] == "Ship B."
    assert decision["by"].startswith("admin key ")
    assert [v["goal"] for v in decision["verdicts"]] == ["g-purchase"]
    assert decision["verdicts"][0]["state"] == "keep_running"
    for session in ("s0", "s1", "new-visitor"):  # everyone, assigned or not
        item = api.data(express_target, [{"a": "a-hero"}], session=session)["items"][0]
        assert (item["c"], item["p"]) == ("B", "p")
    entry = audit_entries_of(AgentDecision, AgentDecision.objects.get().pk).first()
    assert entry is not None
    assert audit_who(entry).startswith("admin key ")


def test_decide__unknown_variation_changes_nothing(admin_api, agent):
    response = admin_api("post", "agents/a-hero/decide", {"variation": "Z"})
    assert response.status_code == 400
    assert "variation" in response.json()
    assert admin_api("get", "agents/a-hero").json()["status"] == AgentStatus.RUNNING
    assert not AgentDecision.objects.exists()
    assert admin_api("post", "agents/a-nope/decide", {"variation": "A"}).status_code == 404
    assert admin_api("post", "agents/a-hero/decide", {"variation": "A", "x": 1}).status_code == 400


def test_decide__by_a_logged_in_member_names_them(client, staff_user, agent):
    client.force_login(staff_user)
    response = client.post(
        "/api/ac-acme/agents/a-hero/decide/", {"variation": "A"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["decision"]["by"] == "alice"


def test_decide__an_agent_without_goals_keeps_no_verdicts(admin_api, agent):
    admin_api("patch", "agents/a-hero", {"goals": []})
    response = admin_api("post", "agents/a-hero/decide", {"variation": "A"})
    assert response.status_code == 200, response.content
    assert response.json()["decision"]["verdicts"] == []
