"""An agent's lifecycle in the admin (SPEC §6b): the agents list a team scans (status and
schedule, owner, tags, days running, visitors, verdict; archived ones hidden), the
lifecycle fields, and the Decide page (editors only) whose decision the results show."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from agents.models import Agent, AgentDecision, AgentStatus
from agents.services import agent_update
from tests.helpers import member_make

pytestmark = pytest.mark.django_db

LIST = "/admin/agents/agent/"


def test_list__days_running_visitors_verdict(staff_client, api, agent, express_target):
    for i in range(3):
        api.data(express_target, [{"a": "a-hero"}], session=f"s{i}")
    page = staff_client.get(LIST).content.decode()
    for header in ("days running", "visitors", "verdict"):
        assert header in page.lower()
    row = page[page.index('class="field-code"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="field-visitors">3</td>' in row
    assert "Keep running (g-purchase)" in row  # the first goal's verdict, in words
    assert '<td class="field-days_running">' in row


def test_list__queries_do_not_grow_with_agents(staff_client, agent, django_assert_max_num_queries):
    staff_client.get(LIST)  # warm: the session, content types
    for i in range(12):
        Agent.objects.create(account=agent.account, code=f"a-x{i}", name=f"X{i}")
    with django_assert_max_num_queries(40):
        assert staff_client.get(LIST).status_code == 200


def test_list__archived_hidden_unless_asked_and_tag_filter(staff_client, agent):
    other = Agent.objects.create(account=agent.account, code="a-old", name="Old", tags="q3,web")
    staff_client.post(LIST, {"action": "archive", "_selected_action": [other.pk]})
    other.refresh_from_db()
    assert other.archived_at is not None
    assert "a-old" not in staff_client.get(LIST).content.decode()
    assert "a-old" in staff_client.get(LIST + "?archived=yes").content.decode()
    tagged = staff_client.get(LIST + "?archived=any&tag=web").content.decode()
    assert "a-old" in tagged
    assert "a-hero</a>" not in tagged
    staff_client.post(LIST + "?archived=yes", {"action": "restore", "_selected_action": [other.pk]})
    assert "a-old" in staff_client.get(LIST).content.decode()


def test_list__status_shows_schedule_and_decision(staff_client, agent):
    agent_update(agent=agent, starts_at=timezone.now() + timedelta(days=2))
    assert "(outside its schedule), from " in staff_client.get(LIST).content.decode()
    agent_update(agent=agent, starts_at=None)
    staff_client.post(reverse("admin:agents_agent_decide", args=[agent.pk]), {"variation": "B"})
    assert "Decided: B" in staff_client.get(LIST).content.decode()


def test_add__a_draft_owned_by_its_creator(staff_client, account):
    page = staff_client.get("/admin/agents/agent/add/").content.decode()
    assert '<option value="draft" selected>' in page
    response = staff_client.post(
        "/admin/agents/agent/add/",
        {
            "account": account.pk, "code": "a-new", "name": "New", "status": "draft",
            "tags": " checkout,  q4 ,,", "hypothesis": "", "starts_at_0": "", "starts_at_1": "",
            "ends_at_0": "", "ends_at_1": "",
            "variations-TOTAL_FORMS": "2", "variations-INITIAL_FORMS": "0",
            "variations-0-code": "A", "variations-0-weight": "1", "variations-0-position": "0",
            "variations-0-metadata": "{}",
            "variations-1-code": "B", "variations-1-weight": "1", "variations-1-position": "1",
            "variations-1-metadata": "{}",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    created = Agent.objects.get(code="a-new")
    assert (created.status, created.owner.username) == (AgentStatus.DRAFT, "alice")
    assert created.tag_list == ["checkout", "q4"]


def test_change__owner_lists_members_of_the_account_only(staff_client, agent, other_account):
    member_make(agent.account, Role.VIEWER, "vera")
    member_make(other_account, Role.OWNER, "oscar")
    page = staff_client.get(reverse("admin:agents_agent_change", args=[agent.pk])).content
    owner_select = page.decode().split('name="owner"')[1].split("</select>")[0]
    assert "alice" in owner_select
    assert "vera" in owner_select
    assert "oscar" not in owner_select


def test_decide__page_records_and_results_show_it(staff_client, agent):
    url = reverse("admin:agents_agent_decide", args=[agent.pk])
    page = staff_client.get(url).content.decode()
    assert 'data-goal="g-purchase"' in page
    assert 'value="B"' in page
    response = staff_client.post(url, {"variation": "B", "note": "B <b>wins</b>"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:agents_agent_results", args=[agent.pk])
    agent.refresh_from_db()
    assert (agent.status, agent.paused_variation.code) == (AgentStatus.PAUSED, "B")
    decision = AgentDecision.objects.get()
    assert (decision.decided_by.username, decision.note) == ("alice", "B <b>wins</b>")
    results = staff_client.get(response["Location"]).content.decode()
    assert "Decided: B won" in results
    assert "B &lt;b&gt;wins&lt;/b&gt;" in results
    change = staff_client.get(reverse("admin:agents_agent_change", args=[agent.pk])).content
    assert "B won, decided by alice" in change.decode()


def test_decide__refused_to_a_viewer_and_link_hidden(client, agent):
    client.force_login(member_make(agent.account, Role.VIEWER, "vera"))
    url = reverse("admin:agents_agent_decide", args=[agent.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"variation": "B"}).status_code == 403
    assert not AgentDecision.objects.exists()
    change = client.get(reverse("admin:agents_agent_change", args=[agent.pk])).content.decode()
    assert "decide-link" not in change


def test_decide__unknown_variation_is_a_form_error(staff_client, agent):
    response = staff_client.post(
        reverse("admin:agents_agent_decide", args=[agent.pk]), {"variation": "Z"}
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not AgentDecision.objects.exists()
