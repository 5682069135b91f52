"""The match rate and the time to convert (SPEC §4d): counted by the agent-api's requests
per day and REST target, read by the goal's page and the overview from daily counts."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from goals.match_rate import match_days, time_to_convert
from goals.models import GoalDelayDay, GoalMatchDay

pytestmark = pytest.mark.django_db

# after the agents of the fixtures began running (their run periods start at the real now)
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)


def _select(api, target, vid):
    return api.data(target, [{"a": "a-hero"}], session=f"page-{vid}", vid=vid)


def _buy(api, target, vid, **command):
    return api.data(target, [{"g": "g-purchase", "v": 1, **command}], session=f"srv-{vid}", vid=vid)


def test_rest_goals_found_or_not_per_day_and_target(api, agent, express_target, rest_target):
    _select(api, express_target, "v1")
    _buy(api, rest_target, "v1")  # credited: found
    _buy(api, rest_target, "v1")  # already credited: found all the same
    _buy(api, rest_target, "stranger")  # no selection: not found
    api.data(express_target, [{"g": "g-purchase"}], session="page-v1", vid="v1")  # a page's
    today = datetime.now(UTC).date()
    [row] = match_days(account_id=agent.account_id, goal_code="g-purchase", since=today)
    assert (row.target_code, row.found, row.not_found) == ("dt-server", 2, 1)
    assert row.rate == pytest.approx(2 / 3)


def test_a_replay_a_refusal_and_a_bot_are_no_match(api, agent, express_target, rest_target):
    _select(api, express_target, "v1")
    _buy(api, rest_target, "v1", id="order-1")
    _buy(api, rest_target, "v1", id="order-1")  # the retry: a replay
    api.call(rest_target, [{"g": "g-purchase", "v": "x"}], session="srv-x", vid="v1")
    bot = "Googlebot/2.1 (+http://www.google.com/bot.html)"
    api.call(rest_target, [{"g": "g-purchase"}], session="srv-bot", vid="v1", ua=bot)
    [row] = GoalMatchDay.objects.all()
    assert (row.found, row.not_found) == (1, 0)


def test_time_to_convert_from_the_assignment(
    api, agent, express_target, rest_target, purchase_goal, time_machine
):
    time_machine.move_to(T0, tick=False)
    for vid in ("early", "late"):
        _select(api, express_target, vid)
    time_machine.move_to(T0 + timedelta(hours=5, minutes=30), tick=False)
    _buy(api, rest_target, "early")
    time_machine.move_to(T0 + timedelta(hours=80), tick=False)
    item = _buy(api, rest_target, "late")["items"][0]
    assert item["skipped"][0]["reason"] == "outside_window"
    rows = sorted(GoalDelayDay.objects.values_list("day", "hours", "credited", "outside"))
    days = [(T0 + timedelta(hours=h)).date() for h in (5.5, 80)]
    assert rows == [(days[0], 5, 1, 0), (days[1], 80, 0, 1)]
    seen = time_to_convert(account_id=agent.account_id, goal_code="g-purchase", since=T0.date())
    assert (seen.credited, seen.outside, seen.outside_share) == (1, 1, 0.5)
    assert (seen.window_95, seen.window_99) == (81, 81)  # both kept only by 81 hours
    # a goal sent late with its event time counts on the day it happened, as long after
    time_machine.move_to(T0 + timedelta(hours=90), tick=False)
    _select(api, express_target, "third")
    happened = int((T0 + timedelta(hours=92)).timestamp() * 1000)  # milliseconds
    time_machine.move_to(T0 + timedelta(hours=100), tick=False)
    _buy(api, rest_target, "third", t=happened)
    assert GoalDelayDay.objects.filter(hours=2, credited=1).exists()


def test_windows_that_keep_95_and_99_percent(account):
    for hours, n in ((1, 90), (10, 5), (50, 4), (100, 1)):
        GoalDelayDay.objects.create(
            account=account, goal_code="g-purchase", day=T0.date(), hours=hours, credited=n
        )
    seen = time_to_convert(account_id=account.pk, goal_code="g-purchase", since=T0.date())
    assert (seen.window_95, seen.window_99) == (11, 51)
    assert dict((label, c) for label, c, _ in seen.buckets)["under 1 hour"] == 0
    assert dict((label, c) for label, c, _ in seen.buckets)["1–3 hours"] == 90


def test_the_goals_page_shows_both(staff_client, api, agent, express_target, rest_target):
    _select(api, express_target, "v1")
    _buy(api, rest_target, "v1")
    _buy(api, rest_target, "nobody")
    page = staff_client.get(reverse("admin:goals_goal_change", args=[agent.goals.get().pk]))
    html = page.content.decode()
    assert "Match rate and time to convert (last 30 days)" in html
    assert '<tr data-target="dt-server">' in html
    assert '<td class="rate">50.0%</td>' in html
    assert 'id="match-rate-chart"' in html
    assert "A window of <strong>1 hour</strong> would have kept 95% of them" in html


def test_the_overview_warns_below_the_accounts_threshold(staff_client, agent, purchase_goal):
    today = datetime.now(UTC).date()
    GoalMatchDay.objects.create(
        account=agent.account, goal_code="g-purchase", target_code="dt-server", day=today,
        found=12, not_found=18,
    )  # fmt: skip
    warning = "g-purchase through dt-server: only 40% of its REST goals found"
    assert warning in staff_client.get(reverse("admin:index")).content.decode()
    account = agent.account
    account.match_rate_min = 0.3
    account.save()
    assert warning not in staff_client.get(reverse("admin:index")).content.decode()


def test_too_few_goals_say_nothing(staff_client, agent, purchase_goal):
    GoalMatchDay.objects.create(
        account=agent.account, goal_code="g-purchase", target_code="dt-server",
        day=datetime.now(UTC).date(), found=0, not_found=19,
    )  # fmt: skip
    assert (
        "found the visitor's assignment"
        not in staff_client.get(reverse("admin:index")).content.decode()
    )
