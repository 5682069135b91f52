"""Adaptive allocation (SPEC §4e): the chance of being best, the shares, and the period's
rollover through the agent-api (once, under a lock, served by the snapshot and the bundle)."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agents.adaptive import adaptive_shares, best_chances
from agents.choices import Allocation
from agents.models import AgentPhase
from agents.services import VariationSpec, agent_update
from goals.services import goal_update
from reports import adaptive
from reports.adaptive import learning_counts, period_roll
from reports.selectors import agent_report
from visitors.config import account_conf, config_cache_clear

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "counts",
    [
        [(40, 1000), (50, 1000), (60, 1000)],
        [(5, 100), (9, 120)],
        [(0, 0), (3, 10), (30, 100), (2, 7)],
        [(300, 10000), (310, 10000), (900, 30000)],
    ],
)
def test_best_chances__as_sampling_the_posteriors_finds(counts):
    rng = np.random.default_rng(7)
    draws = np.stack([rng.beta(1 + c, 1 + n - c, 400_000) for c, n in counts])
    sampled = np.bincount(draws.argmax(0), minlength=len(counts)) / draws.shape[1]
    assert best_chances(counts) == pytest.approx(list(sampled), abs=0.004)


def test_best_chances__exact_cases():
    # P(Gamma(2) > Exp(1)) = 1 − (1/2)² (the rates' posteriors are nearly those, scaled)
    assert best_chances([(0, 100_000), (1, 100_000)]) == pytest.approx([0.25, 0.75], abs=1e-3)
    assert best_chances([(7, 70), (7, 70)]) == pytest.approx([0.5, 0.5])
    assert best_chances([(1, 2)]) == [1.0]


def test_adaptive_shares__burn_in_floor_and_inactive():
    counts = [(40, 1000), (50, 1000), (60, 1000), (0, 0)]
    active = [True, True, True, False]
    shares = adaptive_shares(counts, active=active, floor=0.05, burn_in=100)
    assert shares[3] == 0
    assert sum(shares) == pytest.approx(1)
    assert min(shares[:3]) >= 0.05
    assert shares[2] > 0.7
    # before every active variation has its burn-in: equal shares
    early = adaptive_shares(
        [(1, 99), (9, 500), (0, 0)], active=[True, True, False], floor=0.05, burn_in=100
    )
    assert early == [0.5, 0.5, 0.0]
    # a floor above an equal share is an equal share
    five = [(40, 1000), (50, 1000), (60, 1000), (45, 1000), (55, 1000)]
    equal = adaptive_shares(five, active=[True] * 5, floor=0.25, burn_in=0)
    assert equal == [pytest.approx(0.2)] * 5


@pytest.fixture
def adaptive_agent(db, agent, purchase_goal, time_machine):
    time_machine.move_to(START, tick=False)
    account = agent.account
    account.adaptive_burn_in = 5
    account.save()
    goal_update(goal=purchase_goal, attribution_window_hours=1)
    AgentPhase.objects.filter(agent=agent).update(started_at=START)
    agent_update(agent=agent, allocation=Allocation.ADAPTIVE)
    adaptive._tried.clear()
    config_cache_clear()
    return agent


def _visit(api, target, n, prefix, buy_b=False, rest=None):
    for i in range(n):
        item = api.data(target, [{"a": "a-hero"}], session=f"{prefix}{i}", vid=f"{prefix}{i}")
        if buy_b and item["items"][0]["c"] == "B":
            api.data(
                rest, [{"g": "g-purchase", "v": 1}], session=f"srv-{prefix}{i}", vid=f"{prefix}{i}"
            )


def test_periods_roll_once_and_learn_from_closed_windows(
    api, adaptive_agent, express_target, rest_target, time_machine
):
    agent = adaptive_agent
    _visit(api, express_target, 40, "p1-", buy_b=True, rest=rest_target)
    assert agent.phases.count() == 1  # the first period is not over
    time_machine.move_to(START + timedelta(minutes=61), tick=False)
    _visit(api, express_target, 1, "p2-")  # this request rolls the period, for the next ones
    agent.refresh_from_db()
    assert agent.phase == 2
    second = agent.phases.get(number=2)
    assert second.cause == "period"
    # phase 1 ended a minute ago, its window (1 hour) is open: nothing to learn yet
    assert second.weights == {"A": 0.5, "B": 0.5}
    _visit(api, express_target, 40, "p2b-", buy_b=True, rest=rest_target)
    time_machine.move_to(START + timedelta(minutes=200), tick=False)
    _visit(api, express_target, 1, "p3-")
    agent.refresh_from_db()
    third = agent.phases.get(number=3)
    assert learning_counts(agent=agent, now=START + timedelta(minutes=200))[1][0] > 5
    assert third.weights["B"] > 0.9
    assert third.weights["A"] == pytest.approx(0.05, abs=0.01)
    # every server serves the period's shares: the snapshot and the bundle carry them
    conf = account_conf(code=agent.account.code)
    weights = {v.code: v.weight for v in conf.agents["a-hero"].variations}
    assert weights == third.weights
    bundle = api.client.get(f"/ac-acme/v3/agent-api/js/dt-web?apikey={express_target.api_key}")
    served = bundle.json()["agents"]["a-hero"]["variations"]
    assert {v["code"]: v["weight"] for v in served} == third.weights
    # and the report shows all phases, each period tested against its own shares
    report = agent_report(agent=agent)
    assert report["phase"]["shown"] == "all"
    assert [p["number"] for p in report["phase"]["phases"]] == [1, 2, 3]


def test_a_period_rolls_once(adaptive_agent, time_machine):
    agent = adaptive_agent
    now = START + timedelta(hours=2)
    assert period_roll(agent_id=agent.pk, phase=1, now=now) is True
    assert period_roll(agent_id=agent.pk, phase=1, now=now) is False  # this process: tried
    adaptive._tried.clear()  # another server, with the old snapshot: the lock's check
    assert period_roll(agent_id=agent.pk, phase=1, now=now) is False
    assert agent.phases.count() == 2
    assert period_roll(agent_id=agent.pk, phase=2, now=now) is False  # not over yet


def test_leaving_adaptive_allocation_begins_a_phase_with_the_weights(adaptive_agent, time_machine):
    agent = adaptive_agent
    period_roll(agent_id=agent.pk, phase=1, now=START + timedelta(hours=2))
    agent.refresh_from_db()
    agent_update(
        agent=agent, variations=[VariationSpec(code="A", weight=3), VariationSpec(code="B")]
    )
    assert agent.phase == 2  # an adaptive agent's weights wait for its next period
    agent_update(agent=agent, allocation=Allocation.FIXED)
    assert agent.phase == 3
    assert agent.phases.get(number=3).weights == {"A": 3.0, "B": 1.0}


def test_agent_page_lists_the_last_phases(staff_client, adaptive_agent, time_machine):
    agent = adaptive_agent
    for phase in range(1, 15):
        now = START + timedelta(hours=2 * phase)
        time_machine.move_to(now, tick=False)
        assert period_roll(agent_id=agent.pk, phase=phase, now=now)
    page = staff_client.get(f"/admin/agents/agent/{agent.pk}/change/").content.decode()
    assert "The last 12 of 15 (the results page charts them all):" in page
    assert page.count("a new allocation period") == 12
    assert "A 0.5, B 0.5" in page


def test_a_roll_the_database_failed_is_tried_again(adaptive_agent, monkeypatch):
    from django.db import DatabaseError

    agent, now = adaptive_agent, START + timedelta(hours=2)

    def down(**kwargs):
        raise DatabaseError("the database is away")

    with monkeypatch.context() as patched:
        patched.setattr(adaptive, "_roll", down)
        with pytest.raises(DatabaseError):
            period_roll(agent_id=agent.pk, phase=1, now=now)
    assert period_roll(agent_id=agent.pk, phase=1, now=now) is True
