"""Phases (SPEC §4e): a change of weights, variations or eligibility of an agent that has
served visitors begins a phase; assignments and the aggregates record it; the report
tests sample ratios per phase, shows the current phase by default, and weighs phases by
their share of visitors across all of them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.models import Agent, AgentPhase, AgentStatus
from agents.phases import phase_note, phase_signature_stored
from agents.services import VariationSpec, agent_create, agent_update
from reports.models import GoalDay, VisitorDay
from reports.phases import SHOWN_ALL, _effective, shown_parse
from reports.selectors import agent_daily, agent_report
from reports.statistics import sample_ratio_mismatch
from visitors.models import Assignment

pytestmark = pytest.mark.django_db

RAMP = [VariationSpec(code="A"), VariationSpec(code="B", weight=3, metadata={"h": "Hi"})]


def _counts(agent, phase, visitors, conversions, goal=None):
    """Aggregates of one phase: {code: n} visitors and {code: c} conversions (value 1 each)."""
    today = timezone.now().date()
    for variation in agent.variations.all():
        key = {"account_id": agent.account_id, "agent": agent, "variation": variation,
               "day": today, "phase": phase}  # fmt: skip
        VisitorDay.objects.create(**key, channel="client", visitors=visitors[variation.code])
        c = conversions.get(variation.code, 0)
        if goal is not None and c:
            GoalDay.objects.create(
                **key, goal=goal, channel="server", conversions=c, credits=c, value_sum=c,
                value_sumsq=c,
            )  # fmt: skip


def _rows(report):
    return {row["code"]: row for row in report["goals"][0]["variations"]}


def test_a_ramp_up_is_not_a_mismatch(agent, purchase_goal):
    """The issue's case: 1,009 visitors split 1:1, then B's weight raised to 3."""
    _counts(agent, 1, {"A": 505, "B": 504}, {"A": 50, "B": 60}, purchase_goal)
    assert agent_update(agent=agent, variations=RAMP).phase == 2
    # what the report did before phases: all visitors against the new weights
    assert sample_ratio_mismatch([505, 504], [1, 3]).flagged
    for shown in ("current", SHOWN_ALL, 1):
        report = agent_report(agent=agent, shown=shown)
        assert report["srm"]["flagged"] is False, shown
    report = agent_report(agent=agent)
    assert report["phase"]["shown"] == "current"
    assert [p["number"] for p in report["phase"]["phases"]] == [1, 2]
    first, second = report["phase"]["phases"]
    assert (first["weights"], second["weights"]) == ({"A": 1.0, "B": 1.0}, {"A": 1.0, "B": 3.0})
    assert (first["visitors"], second["visitors"], second["cause"]) == (1009, 0, "weights")
    assert first["srm"]["p_value"] > 0.9
    assert _rows(report)["A"]["visitors"] == 0  # the current phase has no visitor yet
    assert _rows(agent_report(agent=agent, shown=1))["B"]["conversions"] == 60


def test_a_ramp_up_leaves_the_overview_quiet(staff_client, agent, purchase_goal):
    _counts(agent, 1, {"A": 505, "B": 504}, {}, purchase_goal)
    agent_update(agent=agent, variations=RAMP)
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert 'id="overview"' in page
    assert "sample ratio mismatch" not in page
    _counts(agent, 2, {"A": 500, "B": 500}, {}, purchase_goal)  # 1:1 where 1:3 was asked
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert "a-hero: sample ratio mismatch" in page


def test_a_mismatch_inside_a_phase_is_still_flagged(agent, purchase_goal):
    _counts(agent, 1, {"A": 500, "B": 500}, {}, purchase_goal)
    agent_update(agent=agent, variations=RAMP)
    _counts(agent, 2, {"A": 500, "B": 500}, {}, purchase_goal)  # 1:1 where 1:3 was asked
    assert agent_report(agent=agent)["srm"]["flagged"] is True
    assert agent_report(agent=agent, shown=1)["srm"]["flagged"] is False
    every = agent_report(agent=agent, shown=SHOWN_ALL)["srm"]
    assert every["flagged"] is True
    two = agent_report(agent=agent, shown=2)["srm"]["p_value"]
    assert every["p_value"] == pytest.approx(min(1.0, 2 * two))  # Bonferroni over 2 phases


def test_all_phases_weigh_each_phase_by_its_share_not_the_pooled_counts(agent, purchase_goal):
    """Simpson's paradox: both variations convert alike in each phase, but the ramp-up sent
    B more of the second phase's (better) visitors. Pooled, B would "win" by 2.3 points."""
    _counts(agent, 1, {"A": 1000, "B": 1000}, {"A": 100, "B": 100}, purchase_goal)
    agent_update(agent=agent, variations=RAMP)
    _counts(agent, 2, {"A": 250, "B": 750}, {"A": 50, "B": 150}, purchase_goal)
    rows = _rows(agent_report(agent=agent, shown=SHOWN_ALL))
    pooled = (100 + 150) / 1750 - (100 + 50) / 1250
    assert pooled > 0.02
    # each phase's rate weighted by its share of visitors: 2/3 × 10% + 1/3 × 20%
    assert rows["A"]["conversion_rate"] == pytest.approx(2 / 3 * 0.1 + 1 / 3 * 0.2, abs=1e-3)
    assert rows["B"]["conversion_rate"] == pytest.approx(2 / 3 * 0.1 + 1 / 3 * 0.2, abs=1e-3)
    assert abs(rows["B"]["rate_lift_abs"]) < 1e-3
    low, high = rows["B"]["rate_lift_ci95"]
    assert low < 0 < high
    # visitors and conversions stay the counts
    assert (rows["B"]["visitors"], rows["B"]["conversions"]) == (1750, 250)


def test_effective_counts_carry_the_weighted_mean_and_variance():
    """Checked against the weighted estimate computed independently."""
    parts = [(0.6, 1000, 100, 250.0, 900.0), (0.4, 400, 80, 160.0, 500.0)]
    n, c, total, sumsq = _effective(parts)
    rate = 0.6 * 0.1 + 0.4 * 0.2
    pooled = 180 / 1400  # each phase's variance from the pooled rate
    rate_var = 0.36 * pooled * (1 - pooled) / 1000 + 0.16 * pooled * (1 - pooled) / 400
    assert c / n == pytest.approx(rate, abs=1e-3)
    assert rate * (1 - rate) / n == pytest.approx(rate_var, rel=2e-3)
    mean = 0.6 * 0.25 + 0.4 * 0.4
    variance = (1400 - 410**2 / 1400) / 1399
    mean_var = 0.36 * variance / 1000 + 0.16 * variance / 400
    assert total / n == pytest.approx(mean)
    assert (sumsq - total**2 / n) / (n - 1) / n == pytest.approx(mean_var)
    # one phase: its own counts exactly
    assert _effective([(1.0, 200, 30, 45.0, 80.0)]) == (200, 30, 45.0, pytest.approx(80.0))


def test_one_phase_all_equals_current_exactly(agent, purchase_goal):
    _counts(agent, 1, {"A": 300, "B": 310}, {"A": 30, "B": 45}, purchase_goal)
    current, every = agent_report(agent=agent), agent_report(agent=agent, shown=SHOWN_ALL)
    assert current["goals"] == every["goals"]
    assert current["srm"] == every["srm"]


def test_assignments_and_late_goals_count_in_their_phase(api, agent, express_target, rest_target):
    for i in range(6):
        api.data(express_target, [{"a": "a-hero"}], session=f"old-{i}", vid=f"old-{i}")
    agent_update(agent=agent, variations=RAMP)
    for i in range(6):
        api.data(express_target, [{"a": "a-hero"}], session=f"new-{i}", vid=f"new-{i}")
    assert sorted(Assignment.objects.values_list("phase", flat=True)) == [1] * 6 + [2] * 6
    # a goal of a phase-1 visitor, sent now: counted in phase 1
    api.data(rest_target, [{"g": "g-purchase", "v": 7}], session="srv", vid="old-0")
    assert list(GoalDay.objects.values_list("phase", "conversions")) == [(1, 1)]
    per_phase = {p["number"]: p["visitors"] for p in agent_report(agent=agent)["phase"]["phases"]}
    assert per_phase == {1: 6, 2: 6}
    assert set(VisitorDay.objects.values_list("phase", flat=True)) == {1, 2}


def test_what_begins_a_phase(agent):
    assert agent_update(agent=agent, name="Renamed").phase == 1  # not weights
    agent_update(agent=agent, eligibility={"source": "goal", "name": "g-purchase", "op": "reached"})
    agent_update(agent=agent, variations=[*RAMP, VariationSpec(code="C")])
    agent_update(agent=agent, variations=RAMP)  # C had no visitor: removed
    causes = list(AgentPhase.objects.filter(agent=agent).values_list("number", "cause"))
    assert causes == [(1, "start"), (2, "eligibility"), (3, "variations"), (4, "variations")]


def test_an_agent_that_never_served_keeps_its_phase(account, purchase_goal):
    draft = agent_create(
        account=account,
        code="a-draft",
        name="Draft",
        status=AgentStatus.DRAFT,
        variations=[VariationSpec(code="A"), VariationSpec(code="B")],
    )
    agent_update(agent=draft, variations=RAMP)
    assert draft.phase == 1
    [phase] = AgentPhase.objects.filter(agent=draft)
    assert phase.weights == {"A": 1.0, "B": 3.0}  # recorded as it will serve


def test_a_paused_agent_that_served_begins_a_phase(agent):
    agent_update(agent=agent, status=AgentStatus.PAUSED)
    assert agent_update(agent=agent, variations=RAMP).phase == 2


def test_a_phase_is_recorded_for_agents_made_before_phases(agent):
    AgentPhase.objects.filter(agent=agent).delete()
    before = phase_signature_stored(agent_id=agent.pk)
    agent.variations.filter(code="B").update(weight=2)
    assert phase_note(agent=agent, before=before) == "weights"
    weights = dict(AgentPhase.objects.filter(agent=agent).values_list("number", "weights"))
    assert weights == {1: {"A": 1.0, "B": 1.0}, 2: {"A": 1.0, "B": 2.0}}


@pytest.mark.parametrize("raw", ["0", "3", "-1", "x", "1.5", "٣", "1" * 12, "current "])
def test_shown_parse__refuses_what_is_not_a_phase(raw):
    with pytest.raises(ValueError, match="not a phase"):
        shown_parse(raw, agent=Agent(phase=2))


def test_api__phase_parameter_and_csv(admin_api, agent, purchase_goal):
    _counts(agent, 1, {"A": 10, "B": 10}, {"A": 1}, purchase_goal)
    agent_update(agent=agent, variations=RAMP)
    base = "agents/a-hero/report/"
    assert admin_api("get", base).json()["phase"]["shown"] == "current"
    assert admin_api("get", base + "?phase=all").json()["phase"]["shown"] == "all"
    first = admin_api("get", base + "?phase=1").json()
    assert first["phase"]["shown"] == 1
    assert _rows(first)["A"]["conversions"] == 1
    for bad in ("?phase=3", "?phase=zero", "?phase=1&phase=2"):
        response = admin_api("get", base + bad)
        assert response.status_code == 400, bad
        assert "phase" in response.json()
    csv = admin_api("get", "agents/a-hero/report.csv?phase=1").content.decode().splitlines()
    assert csv[0].startswith("phase,goal,variation")
    assert csv[1].startswith("1,g-purchase,A,10,1")


def test_admin__a_save_that_begins_a_phase_asks_first(staff_client, agent):
    url = f"/admin/agents/agent/{agent.pk}/change/"
    page = staff_client.get(url)
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in {**form.initial, **_inline_data(page)}.items()
        if value is not None
    }
    data.update(
        account=agent.account_id,
        status="running",
        goals=[g.pk for g in agent.goals.all()],
        targets=[t.pk for t in agent.targets.all()],
        eligibility="",
        rules="[]",
        qa="[]",
        starts_at_0="",
        starts_at_1="",
        ends_at_0="",
        ends_at_1="",
        owner="",
        tags="",
        paused_variation="",
    )
    data["variations-1-weight"] = "3"
    refused = staff_client.post(url, data)
    assert refused.status_code == 200
    assert "This save begins phase 2 of a-hero (the weights changed)" in refused.content.decode()
    agent.refresh_from_db()
    assert agent.phase == 1
    saved = staff_client.post(url, {**data, "phase_confirm": "on"}, follow=True)
    assert "Phase 2 of a-hero began (the weights changed)." in saved.content.decode()
    agent.refresh_from_db()
    assert agent.phase == 2
    results = staff_client.get(f"/admin/agents/agent/{agent.pk}/results/?phase=all")
    text = results.content.decode()
    assert "All phases, weighted</strong>" in text
    assert 'data-phase="2"' in text
    assert "with its 95% interval (every phase&#x27;s visitors, pooled)" in text
    current = staff_client.get(f"/admin/agents/agent/{agent.pk}/results/").content.decode()
    assert "with its 95% interval (phase 2)" in current
    bad = staff_client.get(f"/admin/agents/agent/{agent.pk}/results/?phase=9", follow=True)
    assert "is not a phase of this agent" in bad.content.decode()


def _inline_data(page):
    formset = page.context["inline_admin_formsets"][0].formset
    data = {
        f"{formset.prefix}-TOTAL_FORMS": str(len(formset.forms)),
        f"{formset.prefix}-INITIAL_FORMS": str(formset.initial_form_count()),
    }
    for form in formset.forms:
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            if name == "metadata":
                value = "{}" if not value else __import__("json").dumps(value)
            if hasattr(value, "pk"):
                value = value.pk
            if value is not None:
                data[f"{form.prefix}-{name}"] = value
    return data


def test_phase_start_times_order_the_phases(agent):
    agent_update(agent=agent, variations=RAMP)
    first, second = AgentPhase.objects.filter(agent=agent).order_by("number")
    assert first.started_at <= second.started_at <= timezone.now() + timedelta(seconds=1)


def test_the_daily_chart_counts_the_phase_shown(agent, purchase_goal):
    _counts(agent, 1, {"A": 40, "B": 40}, {"A": 4}, purchase_goal)
    agent_update(agent=agent, variations=RAMP)
    _counts(agent, 2, {"A": 10, "B": 30}, {"B": 3}, purchase_goal)
    today = timezone.now().date()
    args = {"agent": agent, "goal_id": purchase_goal.pk, "date_from": today, "date_to": today}
    second = {p.variation: (p.visitors, p.conversions) for p in agent_daily(**args, phase=2)}
    every = {p.variation: (p.visitors, p.conversions) for p in agent_daily(**args)}
    assert second == {"A": (10, 0), "B": (30, 3)}
    assert every == {"A": (50, 4), "B": (70, 3)}


def test_the_fixed_block_is_of_the_phase_shown(agent, purchase_goal):
    b = agent.variations.get(code="B")
    today = timezone.now().date()
    row = {"account_id": agent.account_id, "agent": agent, "variation": b, "day": today,
           "channel": "client", "forced": True}  # fmt: skip
    VisitorDay.objects.create(**row, phase=1, visitors=7)
    agent_update(agent=agent, variations=RAMP)
    VisitorDay.objects.create(**row, phase=2, visitors=2)
    fixed = {s: _rows(agent_report(agent=agent, shown=s))["B"]["fixed"]["visitors"] for s in
             ("current", 1, SHOWN_ALL)}  # fmt: skip
    assert fixed == {"current": 2, 1: 7, SHOWN_ALL: 9}


def test_over_many_phases_one_chance_mismatch_is_not_flagged():
    from reports.phases import srm_over_phases

    tests = [{"p_value": 0.5, "flagged": False}] * 299 + [{"p_value": 0.0005, "flagged": True}]
    assert srm_over_phases(tests) == {"p_value": pytest.approx(0.15), "flagged": False}
    tests[0] = {"p_value": 1e-9, "flagged": True}
    assert srm_over_phases(tests)["flagged"] is True
