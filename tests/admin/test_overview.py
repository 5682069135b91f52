"""The overview on the admin's home (SPEC §6): per account, running agents with their
recent figures and verdicts, health warnings linked to their fixes; bounded queries
whatever the number of agents; staff see their own accounts only."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agents.models import AgentStatus
from agents.services import VariationSpec, agent_create, agent_update
from goals.services import goal_update

pytestmark = pytest.mark.django_db


def _overview(html):
    return html.split('id="overview"')[1].split("</section>")[0]


def test_overview__figures_verdict_and_warnings(
    staff_client, api, agent, express_target, rest_target, purchase_goal, other_setup
):
    for i in range(6):
        api.data(express_target, [{"a": "a-hero"}], session=f"o{i}", vid=f"o{i}")
    api.data(rest_target, [{"g": "g-purchase"}], session="o1", vid="o1")
    html = staff_client.get(reverse("admin:index")).content.decode()
    overview = _overview(html)
    row = overview.split('data-agent="a-hero"')[1].split("</tr>")[0]
    assert 'class="visitors">6 / 6<' in row
    assert 'class="conversions">1 / 1<' in row
    assert "Not enough evidence yet" in row  # its verdict, linked to its results
    assert reverse("admin:agents_agent_results", args=[agent.pk]) in row
    # another account's agent is not on this staff member's overview
    assert 'data-account="ac-other"' not in overview
    # a paused agent and a checklist that is not complete are warned of, linked to the fix
    goal_update(goal=purchase_goal, rest_send=False)
    agent_update(agent=agent, status=AgentStatus.PAUSED)
    overview = _overview(staff_client.get(reverse("admin:index")).content.decode())
    assert "a-hero is paused" in overview
    assert "server-side checklist incomplete" in overview
    assert reverse("admin:agents_agent_change", args=[agent.pk]) in overview


def test_overview__no_traffic_and_refused_goals_are_warned(
    admin_client, api, agent, express_target, rest_target, purchase_goal
):
    from targets.services import target_update

    html = _overview(admin_client.get(reverse("admin:index")).content.decode())
    assert "a-hero is running but had no visitors today or yesterday" in html
    target_update(target=rest_target, allow_external_vid=False)
    assert api.call(rest_target, [{"g": "g-purchase"}], vid="refused").status_code == 403
    html = _overview(admin_client.get(reverse("admin:index")).content.decode())
    assert "g-purchase: 1 goal commands refused or not credited in the last 24 hours" in html
    assert reverse("admin:goals_goal_change", args=[purchase_goal.pk]) in html


def test_overview__goal_warning_once_whatever_its_agents__refused_events_counted(
    admin_client, api, agent, express_target, rest_target, purchase_goal
):
    """The admin tour saw a goal's warning once per agent tracking it, and a count that left
    refused events out (a batch's bad time, an event id taken): once, and counted."""
    agent_create(
        account=agent.account, code="a-second", name="Second", status=AgentStatus.RUNNING,
        variations=[VariationSpec(code="A"), VariationSpec(code="B")],
        goals=[purchase_goal], targets=[express_target, rest_target],
    )  # fmt: skip
    api.data(express_target, [{"a": "a-hero"}], session="w1", vid="w1")
    events = [
        {"vid": "w1", "g": "g-purchase", "t": "1999-01-01T00:00:00Z"},  # invalid_time
        {"vid": "w1", "g": "g-purchase", "v": "x"},  # invalid_event
    ]
    answer = admin_client.post(
        f"/ac-acme/v3/goal-events?apikey={rest_target.api_key}",
        data=json.dumps({"events": events}), content_type="application/json",
    ).json()  # fmt: skip
    assert [i["err"] for i in answer["data"]["items"]] == ["invalid_time", "invalid_event"]
    html = _overview(admin_client.get(reverse("admin:index")).content.decode())
    warning = "g-purchase: 2 goal commands refused or not credited in the last 24 hours"
    assert html.count(warning) == 1, html


def test_overview__queries_bounded_whatever_the_number_of_agents(
    admin_client, account, agent, express_target, purchase_goal
):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse("admin:index")).status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for i in range(15):
        agent_create(
            account=account, code=f"a-more{i}", name=f"M{i}", status=AgentStatus.RUNNING,
            variations=[VariationSpec("A"), VariationSpec("B")], goals=[purchase_goal],
            targets=[express_target],
        )  # fmt: skip
    assert queries() == few
