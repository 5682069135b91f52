"""Replaying skipped goals (SPEC §4c): goal events skipped for a setting since fixed are
judged again at their own time and credited, never twice; the event's stored answer
becomes its verdict; each replay is kept in the audit log with who ran it."""

import io

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command

from goals import reasons
from reports.models import GoalDay
from visitors.models import Credit, GoalEvent, GoalReplay

pytestmark = pytest.mark.django_db


def _replay(*extra):
    out = io.StringIO()
    call_command("replay_goals", "--account", "ac-acme", *extra, stdout=out)
    return out.getvalue()


@pytest.fixture
def skipped(api, agent, express_target, rest_target, purchase_goal):
    """Two visitors' purchases, sent while "Goal events to be sent via REST API" was off."""
    purchase_goal.rest_send = False
    purchase_goal.save()
    for vid in ("lana", "omar"):
        api.data(express_target, [{"a": "a-hero"}], session=f"p-{vid}", vid=vid)
        [item] = api.data(
            rest_target,
            [{"g": "g-purchase", "v": 10, "id": f"o-{vid}"}],
            session=f"srv-{vid}",
            vid=vid,
        )["items"]
        assert [s["reason"] for s in item["skipped"]] == [reasons.REST_SEND_NOT_ENABLED]
    purchase_goal.rest_send = True  # the setting fixed
    purchase_goal.save()
    return purchase_goal


def test_replay__after_turning_the_rest_option_on__credited(skipped, api, rest_target):
    out = _replay()
    assert "Judged 2 stored goal events again. Credited 2 of them (2 credits)." in out
    assert "rest_send_not_enabled" in out
    assert Credit.objects.count() == 2
    assert sum(GoalDay.objects.values_list("conversions", flat=True)) == 2
    event = GoalEvent.objects.get(event_id="o-lana")
    assert event.response["s"] == "ok"  # the stored answer is the new verdict
    # a retry of its id now answers the new verdict
    [again] = api.data(rest_target, [{"g": "g-purchase", "v": 10, "id": "o-lana"}],
                       session="srv-lana", vid="lana")["items"]  # fmt: skip
    assert (again["s"], again["replay"]) == ("ok", True)


def test_replay__twice__never_credits_twice(skipped):
    _replay()
    out = _replay()
    assert "Judged 0 stored goal events again" in out
    assert Credit.objects.count() == 2


def test_replay__dry_run__counts_and_credits_nothing(skipped):
    out = _replay("--dry-run")
    assert "Would credit 2 of them" in out
    assert not Credit.objects.exists()
    assert not GoalReplay.objects.exists()


def test_replay__only_the_reasons_asked(skipped):
    assert "Judged 0" in _replay("--reason", "outside_window")
    assert not Credit.objects.exists()


def test_replay__once_rule_holds_across_events(skipped, api, rest_target):
    """A visitor credited since by a new purchase: the old skipped one stays uncredited."""
    api.data(rest_target, [{"g": "g-purchase", "v": 3, "id": "o-new"}], session="s2", vid="lana")
    _replay()
    lana = GoalEvent.objects.get(event_id="o-lana")
    assert [s["reason"] for s in lana.response["skipped"]] == [reasons.ALREADY_CREDITED]
    # (no ORM join of credits and events: on Citus it would join two tables by their ids)
    lana_ids = GoalEvent.objects.filter(vid="lana").values_list("id", flat=True)
    assert Credit.objects.filter(event_id__in=list(lana_ids)).count() == 1


def test_replay__kept_in_the_audit_log_with_its_actor(skipped):
    _replay()
    run = GoalReplay.objects.get()
    assert (run.events, run.credited, run.credits) == (2, 2, 2)
    entry = LogEntry.objects.get_for_object(run).get()
    assert entry.additional_data["actor"] == "command replay_goals"


def test_replay__errors(skipped):
    with pytest.raises(CommandError, match="No goal"):
        _replay("--goal", "g-none")
    with pytest.raises(CommandError, match="not a date"):
        _replay("--since", "yesterday")


# The goal page's "Re-check skipped events": the same replay, counted first, by a person


def _recheck_url(goal):
    return f"/admin/goals/goal/{goal.pk}/recheck/"


def test_recheck_page__counts_first_then_credits_and_shows_who(skipped, staff_client, staff_user):
    every = {"reasons": ["rest_send_not_enabled", "outside_window"]}
    page = staff_client.post(_recheck_url(skipped), {**every, "action": "count"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "<strong>2</strong> skipped events would be judged again" in html
    assert 'value="run"' in html  # the run is offered after the count
    assert not Credit.objects.exists()
    assert not GoalReplay.objects.exists()
    done = staff_client.post(_recheck_url(skipped), {**every, "action": "run"}, follow=True)
    assert "credited 2 of them (2 credits)" in done.content.decode()
    assert Credit.objects.count() == 2
    entry = LogEntry.objects.get_for_object(GoalReplay.objects.get()).get()
    assert entry.actor == staff_user
    assert staff_user.get_username() in done.content.decode()  # the earlier runs, with who
    again = staff_client.post(_recheck_url(skipped), {**every, "action": "count"})
    assert "<strong>0</strong> skipped events" in again.content.decode()
    assert 'value="run"' not in again.content.decode()


def test_recheck_page__bad_input_and_other_accounts(skipped, staff_client, other_setup):
    page = staff_client.post(
        _recheck_url(skipped), {"reasons": ["goal_reached"], "since": "2026-13-01"}
    )
    assert page.status_code == 200
    assert "Select a valid choice" in page.content.decode()
    assert "Enter a valid date" in page.content.decode()
    dates = {"reasons": ["outside_window"], "since": "2026-02-02", "until": "2026-02-01"}
    assert "must be after" in staff_client.post(_recheck_url(skipped), dates).content.decode()
    assert not GoalReplay.objects.exists()
    from goals.models import Goal

    theirs = Goal.objects.exclude(account=skipped.account).first()
    assert staff_client.get(_recheck_url(theirs)).status_code == 404


def test_goal_page__links_to_its_explain_and_recheck_pages(skipped, staff_client):
    html = staff_client.get(f"/admin/goals/goal/{skipped.pk}/change/").content.decode()
    assert _recheck_url(skipped) in html
    assert f"/admin/goals/goal/{skipped.pk}/explain/" in html


# goal_condition_false: judged again from the inputs and traits the event kept


def test_replay__a_corrected_condition__judged_from_the_events_own_inputs_and_traits(
    api, agent, express_target, rest_target, purchase_goal
):
    from goals.services import goal_update

    wrong = {"source": "input", "name": "currency", "op": "eq", "value": "eur"}  # case wrong
    goal_update(goal=purchase_goal, when=wrong)
    for vid, currency in (("lana", "EUR"), ("omar", "USD")):
        api.data(express_target, [{"a": "a-hero"}], session=f"p-{vid}", vid=vid)
        body = {
            "commands": [{"g": "g-purchase", "id": f"o-{vid}"}],
            "inputs": {"currency": currency},
        }
        [item] = api.data(rest_target, body, session=f"s-{vid}", vid=vid, traits="tier:gold")[
            "items"
        ]
        assert item["skipped"][0]["reason"] == reasons.GOAL_CONDITION_FALSE
        assert "ctx" not in item  # the kept context is never part of an answer
    stored = GoalEvent.objects.get(event_id="o-lana").response["ctx"]
    assert stored["inputs"] == {"currency": "EUR"}
    assert "cust/tier:gold" in stored["traits"]
    goal_update(goal=purchase_goal, when={"all": [
        {"source": "input", "name": "currency", "op": "eq", "value": "EUR"},
        {"source": "trait", "name": "cust/tier", "op": "eq", "value": "gold"},
    ]})  # fmt: skip
    out = _replay("--reason", "goal_condition_false")
    assert "Judged 2 stored goal events again. Credited 1 of them (1 credits)." in out
    credited = Credit.objects.values_list("event_id", flat=True)
    assert [GoalEvent.objects.get(pk=pk).event_id for pk in credited] == ["o-lana"]
    omar = GoalEvent.objects.get(event_id="o-omar").response
    assert omar["skipped"][0]["reason"] == reasons.GOAL_CONDITION_FALSE
    assert omar["ctx"]["inputs"] == {"currency": "USD"}  # still kept for a later fix


def test_replay__an_event_without_kept_context_is_left_as_it_was(skipped, purchase_goal):
    """Stored before the goal had a condition: judging it with no inputs would be a guess."""
    from goals.services import goal_update

    not_usd = {"source": "input", "name": "currency", "op": "ne", "value": "USD"}
    goal_update(goal=purchase_goal, when=not_usd)
    out = _replay()
    assert "Judged 0 stored goal events again" in out
    assert "2 left as they were" in out
    assert not Credit.objects.exists()
