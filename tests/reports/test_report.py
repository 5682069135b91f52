"""Reports from traffic through the agent-api: every number, the client/server split, purges."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.services import admin_key_create
from goals.models import GoalCounting
from reports.selectors import agent_report
from visitors.models import Assignment, Credit, GoalEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def traffic(api, agent, express_target, rest_target, purchase_goal):
    """20 visitors on the Express target; some buy server-side (by vid), some client-side."""
    seen = {}
    for i in range(20):
        item = api.data(express_target, [{"a": "a-hero"}], session=f"page-{i}", vid=f"v{i}")
        seen[i] = item["items"][0]["c"]
    for i in range(0, 20, 3):  # server-side purchases, matched by vid
        api.data(rest_target, [{"g": "g-purchase", "v": 10 + i}], session=f"srv-{i}", vid=f"v{i}")
    for i in (1, 2, 4):  # client-side purchases on the page
        api.data(express_target, [{"g": "g-purchase", "v": 5}], session=f"page-{i}", vid=f"v{i}")
    api.data(
        rest_target, [{"g": "g-purchase", "v": 99}], session="srv-0", vid="v0"
    )  # once: skipped
    return seen


def _expected(seen):
    server = {i: 10 + i for i in range(0, 20, 3)}
    client = {1: 5, 2: 5, 4: 5}
    out = {}
    for code in ("A", "B"):
        members = [i for i, c in seen.items() if c == code]
        values = [server.get(i, 0) + client.get(i, 0) for i in members]
        out[code] = {
            "visitors": len(members),
            "conversions_server": sum(1 for i in members if i in server),
            "conversions_client": sum(1 for i in members if i in client),
            "value_sum": float(sum(values)),
            "values": values,
        }
    return out


def _rows(report):
    [goal] = report["goals"]
    assert goal["code"] == "g-purchase"
    return {row["code"]: row for row in goal["variations"]}


def test_report__every_number_from_agent_api_traffic(client, agent, traffic):
    _, raw = admin_key_create(account=agent.account)
    response = client.get(
        "/api/ac-acme/agents/a-hero/report/", headers={"authorization": f"Bearer {raw}"}
    )
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["agent"] == "a-hero"
    rows = _rows(report)
    expected = _expected(traffic)
    import numpy as np
    from scipy import stats

    for code, exp in expected.items():
        row = rows[code]
        n = exp["visitors"]
        conversions = exp["conversions_server"] + exp["conversions_client"]
        assert row["visitors"] == n
        assert row["conversions_server"] == exp["conversions_server"]
        assert row["conversions_client"] == exp["conversions_client"]
        assert row["conversions"] == conversions
        assert row["conversion_rate"] == pytest.approx(conversions / n)
        assert row["value_sum"] == pytest.approx(exp["value_sum"])
        assert row["value_per_visitor"] == pytest.approx(exp["value_sum"] / n)
        values = np.array(exp["values"], dtype=float)
        lo, hi = stats.norm.interval(0.95, loc=values.mean(), scale=stats.sem(values))
        assert row["value_per_visitor_ci95"] == pytest.approx([lo, hi], rel=1e-6)
    a, b = (np.array(expected[c]["values"], dtype=float) for c in ("A", "B"))
    diff = b.mean() - a.mean()
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert rows["A"]["lift_abs"] is None
    assert rows["B"]["lift_abs"] == pytest.approx(diff, rel=1e-6)
    assert rows["B"]["p_value"] == pytest.approx(2 * stats.norm.sf(abs(diff / se)), rel=1e-6)
    assert rows["B"]["confidence"] == pytest.approx(1 - rows["B"]["p_value"])
    observed = [expected["A"]["visitors"], expected["B"]["visitors"]]
    assert report["srm"]["p_value"] == pytest.approx(stats.chisquare(observed).pvalue, rel=1e-6)


def test_report__counting_every__adds_value_not_conversions(
    api, client, agent, express_target, rest_target, purchase_goal
):
    purchase_goal.counting = GoalCounting.EVERY
    purchase_goal.save()
    seen = api.data(express_target, [{"a": "a-hero"}], session="p", vid="x")["items"][0]["c"]
    for value in (3, 4):
        api.data(rest_target, [{"g": "g-purchase", "v": value}], session="s", vid="x")
    _, raw = admin_key_create(account=agent.account)
    rows = _rows(
        client.get(
            "/api/ac-acme/agents/a-hero/report", headers={"x-conductrics-apikey": raw}
        ).json()
    )
    assert rows[seen]["conversions"] == 1
    assert rows[seen]["value_sum"] == 7


def test_report__paused_selections_are_not_counted(api, client, agent, express_target):
    agent.status = "paused"
    agent.save()
    api.data(express_target, [{"a": "a-hero"}], session="p")
    _, raw = admin_key_create(account=agent.account)
    rows = _rows(
        client.get(
            "/api/ac-acme/agents/a-hero/report", headers={"x-conductrics-apikey": raw}
        ).json()
    )
    assert rows["A"]["visitors"] == rows["B"]["visitors"] == 0
    assert rows["A"]["conversion_rate"] is None


def test_report__unchanged_when_raw_data_is_deleted(client, agent, traffic):
    _, raw = admin_key_create(account=agent.account)
    headers = {"x-conductrics-apikey": raw}
    before = client.get("/api/ac-acme/agents/a-hero/report", headers=headers).json()
    Credit.objects.all().delete()
    GoalEvent.objects.all().delete()
    Assignment.objects.all().delete()
    after = client.get("/api/ac-acme/agents/a-hero/report", headers=headers).json()
    assert after == before


def test_report__date_range_filters_days(client, agent, traffic):
    _, raw = admin_key_create(account=agent.account)
    headers = {"x-conductrics-apikey": raw}
    report = client.get(
        "/api/ac-acme/agents/a-hero/report?from=2001-01-01&to=2001-01-31", headers=headers
    ).json()
    assert (report["from"], report["to"]) == ("2001-01-01", "2001-01-31")
    assert all(row["visitors"] == 0 for row in _rows(report).values())


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("from=2026-02-02&to=2026-02-01", "from"),
    ],
)
def test_report__bad_dates__are_400(client, agent, query, field):
    _, raw = admin_key_create(account=agent.account)
    response = client.get(
        f"/api/ac-acme/agents/a-hero/report?{query}", headers={"x-conductrics-apikey": raw}
    )
    assert response.status_code == 400
    assert field in response.json()


def test_report__unknown_agent__is_404(client, agent):
    _, raw = admin_key_create(account=agent.account)
    response = client.get(
        "/api/ac-acme/agents/a-nope/report", headers={"x-conductrics-apikey": raw}
    )
    assert response.status_code == 404


def test_report__authentication(
    client, agent, other_setup, other_account, express_target, staff_user
):
    url = "/api/ac-acme/agents/a-hero/report"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"x-conductrics-apikey": "admin-nope"}).status_code == 401
    runtime = client.get(url, headers={"x-conductrics-apikey": express_target.api_key})
    assert runtime.status_code == 401
    assert "runtime key" in runtime.json()["detail"]
    _, theirs = admin_key_create(account=other_account)
    assert client.get(url, headers={"authorization": f"Bearer {theirs}"}).status_code == 403
    client.force_login(staff_user)
    assert client.get(url).status_code == 200
    assert client.get("/api/ac-other/agents/a-hero/report").status_code == 403


def test_results_page__shows_the_numbers(admin_client, agent, traffic):
    response = admin_client.get(reverse("admin:agents_agent_results", args=[agent.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    expected = _expected(traffic)
    rates = html.split('class="results-table rate-table"')[1].split("</table>")[0]
    values = html.split('class="results-table value-table"')[1].split("</table>")[0]
    for code, exp in expected.items():
        row = rates.split(f'data-variation="{code}"')[1].split("</tr>")[0]
        assert f'class="visitors">{exp["visitors"]}<' in row
        assert f'class="conversions-server">{exp["conversions_server"]}<' in row
        assert f'class="conversions-client">{exp["conversions_client"]}<' in row
        value_row = values.split(f'data-variation="{code}"')[1].split("</tr>")[0]
        assert f"{exp['value_sum']:,.2f}" in value_row
    report = agent_report(agent=agent)
    assert report["goals"][0]["verdict"]["text"] in html  # the page leads with the verdict
    assert "Lift 95% (daily)" in html
    assert "<svg" in html
    assert "<polyline" in html or "<circle" in html


def test_results_page__linked_from_change_page_and_list(admin_client, agent):
    url = reverse("admin:agents_agent_results", args=[agent.pk])
    assert (
        url
        in admin_client.get(reverse("admin:agents_agent_change", args=[agent.pk])).content.decode()
    )
    assert url in admin_client.get(reverse("admin:agents_agent_changelist")).content.decode()


def test_results_page__bad_dates_and_no_data_do_not_fail(admin_client, agent):
    url = reverse("admin:agents_agent_results", args=[agent.pk])
    response = admin_client.get(url, {"from": "nope", "to": "2001-01-01", "goal": "g-unknown"})
    assert response.status_code == 200
    assert "No data in this date range" in response.content.decode()


def test_results_page__other_accounts_agent__not_reachable_by_staff(staff_client, other_setup):
    url = reverse("admin:agents_agent_results", args=[other_setup["agent"].pk])
    assert staff_client.get(url).status_code == 404


@pytest.mark.parametrize(
    "query",
    ["?from=0001-01-01&to=0001-01-02", "?from=9999-12-30&to=9999-12-31", "?to=0001-01-01"],
)
def test_results_page__extreme_dates__ignored_with_a_warning_not_500(admin_client, agent, query):
    response = admin_client.get(reverse("admin:agents_agent_results", args=[agent.pk]) + query)
    assert response.status_code == 200
    assert "outside 2000-01-01 to 2999-12-31" in response.content.decode()


@pytest.mark.parametrize("query", ["?from=0001-01-01", "?to=9999-12-31"])
def test_report_api__extreme_dates__400(client, agent, query):
    from accounts.services import admin_key_create

    _, key = admin_key_create(account=agent.account)
    response = client.get(
        "/api/ac-acme/agents/a-hero/report/" + query, headers={"authorization": f"Bearer {key}"}
    )
    assert response.status_code == 400
    assert "outside" in str(response.json())


def test_report_csv__one_row_per_goal_and_variation(client, agent, api, express_target):
    import csv
    import io

    from accounts.services import admin_key_create

    for i in range(6):
        api.data(express_target, [{"a": "a-hero"}, {"g": "g-purchase", "v": 2}], session=f"c{i}")
    _, key = admin_key_create(account=agent.account)
    headers = {"authorization": f"Bearer {key}"}
    for accept in ("*/*", "text/csv"):
        response = client.get(
            "/api/ac-acme/agents/a-hero/report.csv", headers={**headers, "accept": accept}
        )
        assert response.status_code == 200, response.content
        assert response["content-type"].startswith("text/csv")
        assert "attachment" in response["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    json_report = client.get("/api/ac-acme/agents/a-hero/report/", headers=headers).json()
    assert [(r["goal"], r["variation"]) for r in rows] == [("g-purchase", "A"), ("g-purchase", "B")]
    for row, variation in zip(rows, json_report["goals"][0]["variations"], strict=True):
        assert int(row["visitors"]) == variation["visitors"]
        assert int(row["conversions"]) == variation["conversions"]
        assert row["verdict"] == json_report["goals"][0]["verdict"]["state"]
    assert rows[0]["rate_lift_abs"] == ""  # null for the first variation
    bad = client.get("/api/ac-acme/agents/a-hero/report.csv?from=nope", headers=headers)
    assert bad.status_code == 400


def _days(agent, goal, counts):
    """Aggregates of one day: {variation code: (visitors, conversions)}."""
    from reports.models import GoalDay, VisitorDay
    from targets.choices import Channel

    day = timezone.now().date()
    for variation in agent.variations.all():
        visitors, conversions = counts[variation.code]
        key = {"account_id": agent.account_id, "agent": agent, "variation": variation, "day": day}
        VisitorDay.objects.create(**key, channel=Channel.CLIENT, visitors=visitors)
        GoalDay.objects.create(
            **key, goal=goal, channel=Channel.SERVER, conversions=conversions,
            credits=conversions, value_sum=conversions, value_sumsq=conversions,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("counts", "needed_shown"),
    [
        ({"A": (20, 2), "B": (20, 3)}, True),  # too early to tell: how many are needed
        ({"A": (10000, 1000), "B": (10000, 1400)}, False),  # B wins: nothing more needed
    ],
)
def test_results_page__visitors_needed_only_while_the_test_needs_more(
    admin_client, agent, purchase_goal, counts, needed_shown
):
    """The admin tour found "about N visitors per variation" under a declared winner."""
    _days(agent, purchase_goal, counts)
    html = admin_client.get(reverse("admin:agents_agent_results", args=[agent.pk])).content
    html = html.decode()
    assert ("B wins" in html) is not needed_shown
    assert ("visitors per variation (80% power)" in html) is needed_shown
