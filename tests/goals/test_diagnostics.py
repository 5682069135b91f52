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
    assert "rest_send_not_enabled" in html
    assert reverse("admin:goals_goal_change", args=[purchase_goal.pk]) in html
    event = GoalEvent.objects.get()
    change = reverse("admin:visitors_goalevent_change", args=[event.pk])
    assert admin_client.get(change).status_code == 200
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
    from django.core.cache import cache

    from goals import diagnostics

    settings.GOAL_DIAGNOSTICS_FLUSH_SECONDS = 60
    diagnostics._next_flush[0] = 0.0  # the next count is due: it is sent, then held 60 s
    api.data(express_target, [{"a": "a-hero"}], session="p", vid="lana")
    for n in range(3):
        api.data(rest_target, [{"g": "g-purchase"}], session=f"s{n}", vid="nobody")
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    key = diagnostics._key(purchase_goal.account_id, "g-purchase", hour, NO_SELECTION)
    assert cache.get(key) == 1  # the first request's count went out at once
    assert sum(diagnostics._pending.values()) == 2  # the next two wait in the process
    assert _counts(purchase_goal)[NO_SELECTION] == 3  # a read sends them first
    assert not diagnostics._pending

    diagnostics._next_flush[0] = 0.0  # due again: the next request sends what is pending
    api.data(rest_target, [{"g": "g-purchase"}], session="s", vid="lana")
    assert not diagnostics._pending
    settings.GOAL_DIAGNOSTICS_FLUSH_SECONDS = 0
    assert _counts(purchase_goal)[CREDITED] == 1


def test_diagnostics__cache_down_when_sending__request_answers_and_counts_dropped(
    api, agent, express_target, rest_target, monkeypatch
):
    from goals import diagnostics

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(diagnostics.cache, "incr", down)
    monkeypatch.setattr(diagnostics.cache, "add", down)
    data = api.data(rest_target, [{"g": "g-purchase"}], session="s", vid="x")
    assert data["items"][0]["s"] == "none"
    assert not diagnostics._pending  # dropped, not piled up
