"""The request engine called directly (visitors.execution.visitor_commands_execute), as the
agent-api view calls it, with the time given: what it decides, and what it writes."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from agents import reasons as sel
from goals import reasons
from visitors import execution
from visitors.config import account_conf
from visitors.execution import vid_refused_count, visitor_commands_execute
from visitors.models import Assignment, Credit, GoalEvent
from visitors.request import GoalCommand, SelectionCommand, Visitor

T0 = timezone.now().replace(microsecond=0)


@pytest.fixture
def conf(agent):
    return account_conf(code="ac-acme")


def _target(conf, code):
    return next(t for t in conf.targets if t.code == code)


def _run(conf, target_code, visitor, *commands, now=T0):
    return visitor_commands_execute(
        account=conf, target=_target(conf, target_code), visitor=visitor, commands=commands,
        now=now,
    )  # fmt: skip


def test_selection__made_once_then_sticky__one_assignment(conf):
    visitor = Visitor(session="s1", vid="lana")
    first = _run(conf, "dt-web", visitor, SelectionCommand(agent="a-hero")).items[0]
    again = _run(conf, "dt-web", visitor, SelectionCommand(agent="a-hero")).items[0]
    assert first.variation in ("A", "B")
    assert (first.policy, again.policy) == (sel.POLICY_RANDOM, sel.POLICY_STICKY)
    assert again.variation == first.variation
    assert Assignment.objects.get().variation.code == first.variation


def test_goal_by_vid__credited_to_the_variation_seen_in_the_browser(conf):
    chosen = _run(conf, "dt-web", Visitor(session="page", vid="lana"),
                  SelectionCommand(agent="a-hero")).items[0].variation  # fmt: skip
    later = T0 + timedelta(hours=71)
    goal = _run(conf, "dt-server", Visitor(session="server", vid="lana"),
                GoalCommand(goal="g-purchase", value=30.0), now=later).items[0]  # fmt: skip
    assert goal.status == reasons.STATUS_OK
    assert goal.credited == [{"a": "a-hero", "c": chosen, "v": 30.0}]
    credit = Credit.objects.get()
    assert (credit.variation.code, credit.value) == (chosen, 30.0)
    assert GoalEvent.objects.get().received_at == later


def test_goal_after_the_window__recorded_not_credited(conf):
    _run(conf, "dt-web", Visitor(session="page", vid="lana"), SelectionCommand(agent="a-hero"))
    late = T0 + timedelta(hours=72, seconds=1)
    goal = _run(conf, "dt-server", Visitor(session="server", vid="lana"),
                GoalCommand(goal="g-purchase"), now=late).items[0]  # fmt: skip
    assert goal.status == reasons.STATUS_NONE
    assert [skip["reason"] for skip in goal.skipped] == [reasons.OUTSIDE_WINDOW]
    assert GoalEvent.objects.count() == 1
    assert not Credit.objects.exists()


def test_event_id_sent_again__the_first_answer_replayed__nothing_written_twice(conf):
    visitor = Visitor(session="server", vid="lana")
    _run(conf, "dt-web", Visitor(session="page", vid="lana"), SelectionCommand(agent="a-hero"))
    command = GoalCommand(goal="g-purchase", event_id="order-1")
    first = _run(conf, "dt-server", visitor, command).items[0]
    again = _run(conf, "dt-server", visitor, command).items[0]
    assert (first.replay, again.replay) == (False, True)
    assert again.credited == first.credited
    assert (GoalEvent.objects.count(), Credit.objects.count()) == (1, 1)


def test_unknown_codes__answered_per_command__nothing_written(conf):
    result = _run(conf, "dt-server", Visitor(session="s", vid="lana"),
                  SelectionCommand(agent="a-nope"), GoalCommand(goal="g-nope"))  # fmt: skip
    selection, goal = result.items
    assert (selection.variation, selection.reason) == (None, sel.UNKNOWN_AGENT)
    assert (goal.status, goal.err) == (reasons.STATUS_ERR, reasons.UNKNOWN_GOAL)
    assert not Assignment.objects.exists()
    assert not GoalEvent.objects.exists()


def test_bot__shown_a_variation__nothing_recorded_or_credited(conf):
    bot = Visitor(session="crawler", vid="lana", bot=True)
    selection, goal = _run(conf, "dt-web", bot, SelectionCommand(agent="a-hero"),
                           GoalCommand(goal="g-purchase")).items  # fmt: skip
    assert selection.variation in ("A", "B")
    assert selection.policy == sel.POLICY_BOT
    assert goal.bot
    assert not goal.credited
    assert not Assignment.objects.exists()
    assert not Credit.objects.exists()


def test_write_fails__raises__nothing_of_the_request_stored(conf, monkeypatch):
    def failing_save(*, writes):
        raise OperationalError("database down")

    monkeypatch.setattr(execution, "request_writes_save", failing_save)
    with pytest.raises(OperationalError):
        _run(conf, "dt-web", Visitor(session="s", vid="lana"), SelectionCommand(agent="a-hero"),
             GoalCommand(goal="g-purchase"))  # fmt: skip
    assert not Assignment.objects.exists()
    assert not GoalEvent.objects.exists()


def test_vid_refused__the_account_goals_counted__made_up_codes_not(conf):
    from goals.diagnostics import VID_NOT_ALLOWED, goal_outcomes_last_24h

    vid_refused_count(account=conf, goal_codes=["g-purchase", "g-made-up", "g-purchase"])
    counts = goal_outcomes_last_24h(account_id=conf.id, goal_code="g-purchase", now=timezone.now())
    assert counts[VID_NOT_ALLOWED] == 2
    made_up = goal_outcomes_last_24h(account_id=conf.id, goal_code="g-made-up", now=timezone.now())
    assert made_up[VID_NOT_ALLOWED] == 0
