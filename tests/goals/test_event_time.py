"""Goals sent late with the time they happened (SPEC §4c "Event time"): every rule of
matching reads `t`, the agent must have been running at `t`, the report counts the day
of `t`; a `t` that names no acceptable time is the item's `invalid_time`."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from agents.models import AgentStatus
from agents.runs import periods_from_history, running_at
from agents.services import agents_status_set
from goals import reasons
from goals.event_time import event_time_parse, event_time_problem, event_time_shown
from reports.models import GoalDay
from visitors.models import Credit, GoalEvent

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def agent(agent):
    """The shared agent, running since a day before T0 (its run is dated by real time)."""
    agent.runs.update(started_at=T0 - timedelta(days=1))
    return agent


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


# --- the two forms, and what names no time --------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-01T10:00:00Z", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("2026-12-01t10:00:00z", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("2026-12-01T12:00:00+02:00", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("2026-12-01T10:00:00.123456789Z", datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-12-01 10:00:00-00:30", datetime(2026, 12, 1, 10, 30, tzinfo=UTC)),
        (1764583200000, datetime(2025, 12, 1, 10, tzinfo=UTC)),
        (1764583200000.0, datetime(2025, 12, 1, 10, tzinfo=UTC)),
    ],
)
def test_parse__both_forms(raw, expected):
    assert event_time_parse(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["2026-12-01T10:00:00", "2026-12-01", "20261201T100000Z", "yesterday", "",
     "2026-02-30T10:00:00Z", "2026-12-01T25:00:00Z", "2026-12-01T10:00:00+24:00",
     "1764583200000", 1.5, float("nan"), float("inf"), 10**30, -(10**30)],
)  # fmt: skip
def test_parse__not_a_time(raw):
    assert event_time_parse(raw) is None


def test_problem__future_early_and_past_retention():
    now = T0
    assert event_time_problem(now + timedelta(minutes=5), now=now, retention_days=30) is None
    assert "5 minutes" in event_time_problem(now + timedelta(minutes=6), now=now, retention_days=30)
    assert "2000" in event_time_problem(
        datetime(1999, 12, 31, tzinfo=UTC), now=now, retention_days=10**5
    )
    assert "retention" in event_time_problem(now - timedelta(days=31), now=now, retention_days=30)
    assert event_time_shown(datetime(2026, 12, 1, 12, tzinfo=UTC)) == "2026-12-01T12:00:00.000Z"


# --- run periods ----------------------------------------------------------------------


def test_periods__from_history_and_from_now():
    c = T0
    h = timedelta(hours=1)
    assert periods_from_history(created_at=c, status_now="running", changes=[]) == [(c, None)]
    assert periods_from_history(created_at=c, status_now="paused", changes=[]) == []
    history = [(c, "None", "paused"), (c + h, "paused", "running"),
               (c + 3 * h, "running", "stopped"), (c + 5 * h, "stopped", "running")]  # fmt: skip
    assert periods_from_history(created_at=c, status_now="running", changes=history) == [
        (c + h, c + 3 * h), (c + 5 * h, None)
    ]  # fmt: skip
    # a history that ends running while the agent is stopped now (a change not audited)
    assert periods_from_history(
        created_at=c, status_now="stopped", changes=[(c, "None", "running")]
    ) == [(c, c)]
    periods = [(c + h, c + 3 * h)]
    assert running_at(periods, c + 2 * h)
    assert not running_at(periods, c + 3 * h)


def test_runs__kept_as_the_status_changes(agent):
    with time_machine.travel(T0, tick=False) as clock:
        agents_status_set(agents=[agent], status=AgentStatus.PAUSED)
        clock.shift(timedelta(hours=1))
        agents_status_set(agents=[agent], status=AgentStatus.RUNNING)
        clock.shift(timedelta(hours=1))
        agents_status_set(agents=[agent], status=AgentStatus.STOPPED)
    runs = list(agent.runs.order_by("started_at").values_list("started_at", "ended_at"))
    assert runs == [
        (T0 - timedelta(days=1), T0),  # closed when paused
        (T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
    ]


# --- through the agent-api ------------------------------------------------------------


def _goal(api, rest_target, t=None, **extra):
    command = {"g": "g-purchase", "v": 10, **extra}
    if t is not None:
        command["t"] = t
    return api.data(rest_target, [command], session="srv", vid="lana")["items"][0]


def _seen(api, express_target):
    return api.data(express_target, [{"a": "a-hero"}], session="page", vid="lana")["items"][0]["c"]


def test_late_goal__credited_by_its_time_inside_the_window(api, agent, express_target, rest_target):
    with time_machine.travel(T0, tick=False) as clock:
        seen = _seen(api, express_target)
        clock.shift(timedelta(hours=74))  # arrives 74 h after the page: past the 72 h window
        happened = T0 + timedelta(hours=71)
        item = _goal(api, rest_target, t=event_time_shown(happened))
    assert item["s"] == "ok"
    assert item["rs"] == [{"a": "a-hero", "c": seen, "v": 10.0}]
    assert item["t"] == "2026-11-23T08:00:00.000Z"
    event = GoalEvent.objects.get()
    assert event.occurred_at == happened
    assert event.received_at == T0 + timedelta(hours=74)


def test_late_goal__without_t__outside_window(api, agent, express_target, rest_target):
    with time_machine.travel(T0, tick=False) as clock:
        _seen(api, express_target)
        clock.shift(timedelta(hours=74))
        item = _goal(api, rest_target)
    assert [s["reason"] for s in item["skipped"]] == [reasons.OUTSIDE_WINDOW]


def test_late_goal__credited_after_the_agent_stopped(api, agent, express_target, rest_target):
    with time_machine.travel(T0, tick=False) as clock:
        _seen(api, express_target)
        clock.shift(timedelta(hours=2))
        agents_status_set(agents=[agent], status=AgentStatus.STOPPED)
        clock.shift(timedelta(hours=1))
        while_running = _goal(api, rest_target, t=_ms(T0 + timedelta(hours=1)), id="o-1")
        after_stop = _goal(api, rest_target, t=_ms(T0 + timedelta(hours=2, minutes=30)), id="o-2")
        now = _goal(api, rest_target, id="o-3")  # no t: now, and the agent is stopped
    assert while_running["s"] == "ok"
    assert [s["reason"] for s in after_stop["skipped"]] == [reasons.AGENT_NOT_RUNNING]
    assert [s["reason"] for s in now["skipped"]] == [reasons.AGENT_NOT_RUNNING]


def test_goal_dated_before_the_selection(api, agent, express_target, rest_target):
    with time_machine.travel(T0, tick=False) as clock:
        clock.shift(timedelta(hours=2))
        _seen(api, express_target)
        item = _goal(api, rest_target, t=event_time_shown(T0 + timedelta(hours=1)))
    assert [s["reason"] for s in item["skipped"]] == [reasons.GOAL_BEFORE_SELECTION]


def test_report__counts_the_day_it_happened(api, agent, express_target, rest_target):
    with time_machine.travel(T0, tick=False) as clock:
        _seen(api, express_target)
        clock.shift(timedelta(days=1, hours=20))  # arrives two days later
        _goal(api, rest_target, t=event_time_shown(T0 + timedelta(hours=3)))
    assert list(GoalDay.objects.values_list("day", "conversions")) == [(T0.date(), 1)]


def test_offset__echoed_in_utc_milliseconds(api, agent, express_target, rest_target):
    with time_machine.travel(T0, tick=False) as clock:
        _seen(api, express_target)
        clock.shift(timedelta(hours=5))
        item = _goal(api, rest_target, t="2026-11-20T12:30:00.5+02:00")
    assert item["t"] == "2026-11-20T10:30:00.500Z"


@pytest.mark.parametrize(
    ("t", "why"),
    [
        ("2026-11-20T09:06:00Z", "5 minutes"),
        ("1999-12-31T23:59:59Z", "2000"),
        ("2026-10-20T09:00:00Z", "retention"),
        ("yesterday", "RFC 3339"),
        (1.5, "RFC 3339"),
    ],
)
def test_invalid_time__the_item_refused_the_others_recorded(
    api, agent, express_target, rest_target, t, why
):
    with time_machine.travel(T0, tick=False):
        _seen(api, express_target)
        items = api.data(
            rest_target,
            [{"g": "g-purchase", "t": t, "id": "bad"}, {"g": "g-purchase", "id": "ok"}],
            session="srv", vid="lana",
        )["items"]  # fmt: skip
    assert items[0]["s"] == "err"
    assert items[0]["err"] == reasons.INVALID_TIME
    assert items[1]["s"] == "ok"
    assert list(GoalEvent.objects.values_list("event_id", flat=True)) == ["ok"]


@pytest.mark.parametrize("t", [{"at": 1}, [1], True])
def test_t_of_a_wrong_type__400(api, agent, rest_target, t):
    response = api.call(rest_target, [{"g": "g-purchase", "t": t}], session="srv", vid="lana")
    assert response.status_code == 400
    assert '"t" must be' in response.json()["err"]
    assert not GoalEvent.objects.exists()


def test_express__t_ignored_with_a_warning(api, agent, express_target):
    with time_machine.travel(T0, tick=False):
        data = api.data(
            express_target, [{"a": "a-hero"}, {"g": "g-purchase", "t": "2026-11-19T09:00:00Z"}],
            session="page",
        )  # fmt: skip
    assert "t" not in data["items"][1]
    assert {"reason": "t_ignored", "g": "g-purchase"}.items() <= data["warnings"][0].items()
    assert GoalEvent.objects.get().occurred_at == T0


def test_replay__answers_the_first_time_used(api, agent, express_target, rest_target):
    with time_machine.travel(T0, tick=False) as clock:
        _seen(api, express_target)
        clock.shift(timedelta(hours=2))
        first = _goal(api, rest_target, t=_ms(T0 + timedelta(hours=1)), id="order-9")
        clock.shift(timedelta(hours=2))
        again = _goal(api, rest_target, t=_ms(T0 + timedelta(hours=1)), id="order-9")
    assert again.get("replay") is True, again
    assert again["t"] == first["t"] == "2026-11-20T10:00:00.000Z"
    assert Credit.objects.count() == 1


def test_migration__runs_from_the_audit_history(account):
    """Agents made before run periods existed get theirs from their audited status
    changes (agents/migrations/0008)."""
    import importlib

    from django.apps import apps

    from agents.services import VariationSpec, agent_create

    migration = importlib.import_module("agents.migrations.0008_agent_runs")
    with time_machine.travel(T0, tick=False) as clock:
        made = agent_create(
            account=account, code="a-old", name="Old", status=AgentStatus.RUNNING,
            variations=[VariationSpec(code="A"), VariationSpec(code="B")],
        )  # fmt: skip
        clock.shift(timedelta(hours=1))
        agents_status_set(agents=[made], status=AgentStatus.PAUSED)
    made.runs.all().delete()  # as before the migration: no periods, an audit history
    migration.backfill(apps, None)
    assert list(made.runs.values_list("started_at", "ended_at")) == [(T0, T0 + timedelta(hours=1))]
