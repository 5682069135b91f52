"""Goal diagnostics: outcomes of the last 24 hours, and the read-only event list."""

import pytest
from django.urls import reverse
from django.utils import timezone

from goals.diagnostics import CREDITED, NO_SELECTION, VID_NOT_ALLOWED, goal_outcomes_last_24h
from goals.reasons import REST_SEND_NOT_ENABLED
from visitors.models import Assignment, GoalEvent

pytestmark = pytest.mark.django_db


def _counts(goal):
    return goal_outcomes_last_24h(
        account_id=goal.account_id, goal_code=goal.code, now=timezone.now()
    )


def test_diagnostics__count_credited_skipped_and_refused(
    api, agent, express_target, rest_target, purchase_goal
):
    api.data(express_target, [{"a": "a-hero"}], session="p", vid="lana")
    api.data(rest_target, [{"g": "g-purchase"}], session="s", vid="lana")
    api.data(rest_target, [{"g": "g-purchase"}], session="s", vid="nobody")
    purchase_goal.rest_send = False
    purchase_goal.save()
    api.data(express_target, [{"a": "a-hero"}], session="p2", vid="lana2")
    api.data(rest_target, [{"g": "g-purchase"}], session="s", vid="lana2")
    rest_target.allow_external_vid = False
    rest_target.save()
    assert (
        api.call(rest_target, [{"g": "g-purchase"}, {"g": "g-purchase"}], vid="x").status_code
        == 403
    )
    counts = _counts(purchase_goal)
    assert counts[CREDITED] == 1
    assert counts[NO_SELECTION] == 1
    assert counts[REST_SEND_NOT_ENABLED] == 1
    assert counts[VID_NOT_ALLOWED] == 2


def test_goal_page__shows_diagnostics_with_fix_links(
    admin_client, api, agent, express_target, rest_target
):
    rest_target.allow_external_vid = False
    rest_target.save()
    api.call(rest_target, [{"g": "g-purchase"}], vid="x")
    goal = agent.goals.get()
    html = admin_client.get(reverse("admin:goals_goal_change", args=[goal.pk])).content.decode()
    row = html.split('data-outcome="vid_not_allowed"')[1].split("</tr>")[0]
    assert 'class="count">1<' in row
    assert reverse("admin:targets_deploytarget_change", args=[rest_target.pk]) in row


def test_event_list__shows_verdicts_and_is_read_only(
    admin_client, api, agent, express_target, rest_target, purchase_goal
):
    purchase_goal.rest_send = False
    purchase_goal.save()
    api.data(express_target, [{"a": "a-hero"}], session="p", vid="lana")
    api.data(rest_target, [{"g": "g-purchase"}], session="s", vid="lana")
    url = reverse("admin:visitors_goalevent_changelist")
    html = admin_client.get(url, {"verdict": "none"}).content.decode()
    # the reason in words beside its code, and the visitor's vid in its column
    assert "without REST sending on (rest_send_not_enabled)" in html
    assert 'class="field-vid">lana<' in html
    assert reverse("admin:goals_goal_change", args=[purchase_goal.pk]) in html
    event = GoalEvent.objects.get()
    change = reverse("admin:visitors_goalevent_change", args=[event.pk])
    page = admin_client.get(change)
    assert page.status_code == 200
    assert f"<h2>g-purchase at {event.received_at:%Y-%m-%d}" in page.content.decode()
    admin_client.post(change, {"value": "1000"})
    assert GoalEvent.objects.get().value == 1
    assert (
        admin_client.get(reverse("admin:visitors_goalevent_delete", args=[event.pk])).status_code
        == 403
    )
    assignment = Assignment.objects.get()
    assert (
        admin_client.get(
            reverse("admin:visitors_assignment_delete", args=[assignment.pk])
        ).status_code
        == 403
    )


def test_diagnostics__added_up_in_the_process__sent_once_due_or_read(
    api, agent, express_target, rest_target, purchase_goal, settings
):
    from goals import diagnostics

    settings.GOAL_DIAGNOSTICS_FLUSH_SECONDS = 60
    diagnostics._pending.make_due()  # the next count is due: it is sent, then held 60 s
    api.data(express_target, [{"a": "a-hero"}], session="p", vid="lana")
    for n in range(3):
        api.data(rest_target, [{"g": "g-purchase"}], session=f"s{n}", vid="nobody")
    from goals.models import GoalOutcomeCount

    stored = GoalOutcomeCount.objects.get(goal_code="g-purchase", outcome=NO_SELECTION)
    assert stored.count == 1  # the first request's count went out at once
    assert sum(diagnostics._pending.peek().values()) == 2  # the next two wait in the process
    assert _counts(purchase_goal)[NO_SELECTION] == 3  # a read sends them first
    assert not diagnostics._pending.peek()

    diagnostics._pending.make_due()  # due again: the next request sends what is pending
    api.data(rest_target, [{"g": "g-purchase"}], session="s", vid="lana")
    assert not diagnostics._pending.peek()
    settings.GOAL_DIAGNOSTICS_FLUSH_SECONDS = 0
    assert _counts(purchase_goal)[CREDITED] == 1


def test_diagnostics__database_fails_when_sending__request_answers_and_counts_dropped(
    api, agent, express_target, rest_target, monkeypatch
):
    from django.db import OperationalError

    from goals import diagnostics

    real = diagnostics.connection.cursor

    def failing_upsert():
        cursor = real()
        execute = cursor.execute

        def execute_or_fail(sql, params=None):
            if "goals_goaloutcomecount" in sql:
                raise OperationalError("database down")
            return execute(sql, params)

        cursor.execute = execute_or_fail
        return cursor

    monkeypatch.setattr(diagnostics.connection, "cursor", failing_upsert)
    data = api.data(rest_target, [{"g": "g-purchase"}], session="s", vid="x")
    assert data["items"][0]["s"] == "none"
    assert not diagnostics._pending.peek()  # dropped, not piled up


def test_diagnostics__exact_across_processes__counts_add_up_in_the_database(
    api, agent, rest_target, purchase_goal
):
    """Two server processes: each sends its own counts; the page reads their sum."""
    from goals import diagnostics
    from goals.models import GoalOutcomeCount

    now = timezone.now()
    for process_counts in (3, 4):  # what two processes held in memory
        diagnostics.goal_outcomes_count(
            account_id=purchase_goal.account_id,
            outcomes=[("g-purchase", NO_SELECTION)] * process_counts,
            now=now,
        )
    assert GoalOutcomeCount.objects.get(outcome=NO_SELECTION).count == 7
    assert _counts(purchase_goal)[NO_SELECTION] == 7


def test_diagnostics__buckets_older_than_25_hours__go(agent, purchase_goal):
    from datetime import timedelta

    from goals import diagnostics
    from goals.models import GoalOutcomeCount

    now = timezone.now()
    diagnostics.goal_outcomes_count(
        account_id=purchase_goal.account_id, outcomes=[("g-purchase", CREDITED)],
        now=now - timedelta(hours=30),
    )  # fmt: skip
    diagnostics._next_cleanup[0] = 0.0
    diagnostics.goal_outcomes_count(
        account_id=purchase_goal.account_id, outcomes=[("g-purchase", CREDITED)], now=now
    )
    assert GoalOutcomeCount.objects.count() == 1
    assert _counts(purchase_goal)[CREDITED] == 1


@pytest.mark.django_db(transaction=True)
def test_diagnostics__another_server_process__its_counts_show_here(api, agent, rest_target):
    """A real second process (PostgreSQL: the test database is shared by processes)."""
    import os
    import subprocess
    import sys

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite's test database lives in this process's memory only")
    settings_dict = connection.settings_dict
    url = (
        f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:"
        f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )
    goal = agent.goals.get()
    code = (
        "import django; django.setup()\n"
        "from django.utils import timezone\n"
        "from goals.diagnostics import goal_outcomes_count\n"
        f"goal_outcomes_count(account_id={goal.account_id}, "
        "outcomes=[('g-purchase', 'no_selection')] * 5, now=timezone.now())\n"
    )
    env = {**os.environ, "DATABASE_URL": url, "GOAL_DIAGNOSTICS_FLUSH_SECONDS": "0"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)  # noqa: S603
    api.data(rest_target, [{"g": "g-purchase"}], session="here", vid="nobody")  # this one: 1
    assert _counts(goal)[NO_SELECTION] == 6
