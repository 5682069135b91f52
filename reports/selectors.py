"""The results of an agent, read from the aggregates only (never from raw events).

A fixed number of queries whatever the traffic: variations, goals, visitors by
variation and day, conversions by goal, variation, day and channel.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account
from agents.models import Agent
from conductrics_admin.api_base import moment_json
from reports.models import GoalDay, LinkConflict, VisitorDay
from reports.phases import (
    SHOWN_ALL,
    SHOWN_CURRENT,
    PhaseCounts,
    PhaseInfo,
    phase_srm,
    phases_estimate,
    phases_read,
    shown_default,
    srm_over_phases,
)
from reports.statistics import (
    Moments,
    chance_to_win,
    compare_means,
    expected_loss,
    mean_ci95,
    newcombe_diff_ci95,
    rate_diff_se,
    sequential_ci95,
    visitors_needed,
    welch_se,
    wilson_ci95,
)
from reports.verdict import Arm, goal_verdict
from targets.choices import Channel

# Report dates: far enough either side of any traffic, and of date arithmetic's limits.
REPORT_DATE_MIN = date(2000, 1, 1)
REPORT_DATE_MAX = date(2999, 12, 31)
# a report date as written: YYYY-MM-DD, in the years of REPORT_DATE_MIN to REPORT_DATE_MAX
REPORT_DATE_PATTERN = r"^2[0-9]{3}-[0-9]{2}-[0-9]{2}$"
_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")  # then the range says why not


def report_date_parse(raw: str) -> date:
    """A report's `from` or `to`. Raises ValueError with a message for anything else than
    a YYYY-MM-DD date between REPORT_DATE_MIN and REPORT_DATE_MAX."""
    try:
        if not _DATE_SHAPE.match(raw):
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        shown = raw[:40] if raw.isprintable() else repr(raw[:40])
        raise ValueError(f"“{shown}” is not a date: write YYYY-MM-DD.") from None
    if not REPORT_DATE_MIN <= day <= REPORT_DATE_MAX:
        raise ValueError(f"“{raw}” is outside {REPORT_DATE_MIN} to {REPORT_DATE_MAX}.")
    return day


@dataclass(frozen=True)
class DailyPoint:
    day: date
    variation: str
    visitors: int
    conversions: int
    value_sum: float


def report_range(
    *, agent: Agent, date_from: date | None, date_to: date | None
) -> tuple[date, date]:
    """The report's dates: as asked, else from the agent's creation to today (UTC)."""
    today = timezone.now().date()
    start = date_from or agent.created_at.astimezone(UTC).date()
    return start, date_to or today


@dataclass
class Aggregates:
    """An agent's aggregates over a date range, summed per variation (and goal), over
    every phase and per phase (random assignments)."""

    visitors: dict[int, int] = field(default_factory=dict)  # random assignments
    fixed_visitors: dict[int, int] = field(default_factory=dict)  # forced by rules
    sums: dict[tuple[int, int], dict[str, float]] = field(default_factory=dict)
    fixed: dict[tuple[int, int], dict[str, float]] = field(default_factory=dict)
    phases: dict[int, PhaseCounts] = field(default_factory=dict)  # random, by phase number
    # (phase, variation id) -> assignments that linking ids made a person's second (SPEC
    # §4d), whatever the dates: counted when the link was made
    conflicts: dict[tuple[int, int], int] = field(default_factory=dict)

    def conflicts_of(self, variation_id: int, phase: int | None) -> int:
        """A variation's conflicts in `phase` (None: every phase)."""
        return sum(
            n for (p, v), n in self.conflicts.items() if v == variation_id and phase in (None, p)
        )

    @property
    def counts(self) -> PhaseCounts:
        """Every phase's assignments and credits together."""
        return PhaseCounts(self.visitors, self.sums, self.fixed_visitors, self.fixed)


def _fixed_add(into: dict[tuple[int, int], dict[str, float]], key: tuple[int, int], row: dict):
    cell = into.setdefault(key, {"conversions": 0, "value_sum": 0.0})
    cell["conversions"] += row["conversions"] or 0
    cell["value_sum"] += row["value_sum"] or 0.0


def _sums_add(into: dict[tuple[int, int], dict[str, float]], key: tuple[int, int], row: dict):
    cell = into.setdefault(
        key, {Channel.CLIENT: 0, Channel.SERVER: 0, "value_sum": 0.0, "value_sumsq": 0.0}
    )
    cell[row["channel"]] += row["conversions"] or 0
    cell["value_sum"] += row["value_sum"] or 0.0
    cell["value_sumsq"] += row["value_sumsq"] or 0.0


def aggregates_read(
    *, agent_ids: list[int], start: date | None, end: date
) -> dict[int, Aggregates]:
    """Three queries, whatever the number of agents: visitors, goal sums and the conflicts
    of linked ids, per agent. Random assignments make the statistics; those forced by rules
    are kept apart (`fixed`, SPEC §4b "Reports")."""
    found = {agent_id: Aggregates() for agent_id in agent_ids}
    days = {"day__lte": end, **({"day__gte": start} if start else {})}
    for row in (
        VisitorDay.objects.filter(agent_id__in=agent_ids, **days)
        .values("agent_id", "variation_id", "forced", "phase")
        .annotate(n=Sum("visitors"))
    ):
        agg, variation_id, n = found[row["agent_id"]], row["variation_id"], row["n"]
        counted = agg.fixed_visitors if row["forced"] else agg.visitors
        counted[variation_id] = counted.get(variation_id, 0) + n
        phase = agg.phases.setdefault(row["phase"], PhaseCounts())
        (phase.fixed_visitors if row["forced"] else phase.visitors)[variation_id] = n
    for row in (
        GoalDay.objects.filter(agent_id__in=agent_ids, **days)
        .values("agent_id", "goal_id", "variation_id", "channel", "forced", "phase")
        .annotate(
            conversions=Sum("conversions"),
            value_sum=Sum("value_sum"),
            value_sumsq=Sum("value_sumsq"),
        )
    ):
        agg = found[row["agent_id"]]
        key = (row["goal_id"], row["variation_id"])
        phase = agg.phases.setdefault(row["phase"], PhaseCounts())
        if row["forced"]:
            _fixed_add(agg.fixed, key, row)
            _fixed_add(phase.fixed, key, row)
            continue
        _sums_add(agg.sums, key, row)
        _sums_add(phase.sums, key, row)
    conflicts = LinkConflict.objects.filter(agent_id__in=agent_ids, conflicts__gt=0)
    for agent_id, variation_id, phase_number, n in conflicts.values_list(
        "agent_id", "variation_id", "phase", "conflicts"
    ):
        found[agent_id].conflicts[(phase_number, variation_id)] = n
    return found


def agent_report(
    *,
    agent: Agent,
    date_from: date | None = None,
    date_to: date | None = None,
    shown: str | int | None = None,
) -> dict[str, Any]:
    """The results of SPEC §7 for `agent` between two dates (inclusive), of the phases
    `shown` (SPEC §4e; None: `shown_default`), as plain JSON data."""
    start, end = report_range(agent=agent, date_from=date_from, date_to=date_to)
    variations = list(agent.variations.order_by("position", "id"))
    goals = list(agent.goals.order_by("code"))
    agg = aggregates_read(agent_ids=[agent.pk], start=start, end=end)[agent.pk]
    return report_build(
        agent=agent,
        variations=variations,
        goals=goals,
        agg=agg,
        start=start,
        end=end,
        phases=phases_read([agent])[agent.pk],
        shown=shown,
    )


def _phases_view(
    agent: Agent,
    variations: list,
    goals: list,
    agg: Aggregates,
    phases: list[PhaseInfo],
    shown: str | int,
) -> tuple[PhaseCounts, PhaseCounts | None, dict[str, Any], dict[str, Any]]:
    """What the report shows of the phases: the counts, the effective counts its statistics
    read (None: the counts themselves), its sample-ratio test, and its `phase` block."""
    tests = {p.number: phase_srm(agg.phases.get(p.number), p, variations) for p in phases}
    block = {
        "shown": shown,
        "current": agent.phase,
        "phases": [
            {
                "number": p.number,
                "started_at": moment_json(p.started_at),
                "cause": p.cause,
                "weights": p.weights,
                "visitors": sum(agg.phases[p.number].visitors.values())
                if p.number in agg.phases
                else 0,
                "srm": tests[p.number],
            }
            for p in phases
        ],
    }
    if shown != SHOWN_ALL:
        number = agent.phase if shown == SHOWN_CURRENT else int(shown)
        counts = agg.phases.get(number, PhaseCounts())
        return counts, None, tests.get(number, {"p_value": None, "flagged": False}), block
    served = [k for k, c in agg.phases.items() if c.visitors]
    srm = srm_over_phases([tests[k] for k in served if k in tests])
    if len(served) <= 1:  # one phase: its counts are the estimate
        return agg.counts, None, srm, block
    return agg.counts, phases_estimate(agg.phases, variations, goals), srm, block


def report_build(
    *,
    agent: Agent,
    variations: list,
    goals: list,
    agg: Aggregates,
    start: date,
    end: date,
    phases: list[PhaseInfo],
    shown: str | int | None = None,
) -> dict[str, Any]:
    """The report of `agent` from its aggregates (no query but its account, when not read)."""
    shown = shown_default(agent) if shown is None else shown
    shown_counts, estimate, srm, phase_block = _phases_view(
        agent, variations, goals, agg, phases, shown
    )
    visitors, sums = shown_counts.visitors, shown_counts.sums
    fixed_visitors, fixed = shown_counts.fixed_visitors, shown_counts.fixed
    phase_block_number = agent.phase if shown in (SHOWN_ALL, SHOWN_CURRENT) else int(shown)
    account = agent.account
    goal_reports = []
    for goal in goals:
        rows = []
        arms: list[Arm] = []
        baseline: Moments | None = None
        base_counts: tuple[int, int] = (0, 0)
        for variation in variations:
            n = visitors.get(variation.pk, 0)
            cell = sums.get((goal.pk, variation.pk), {})
            client, server = int(cell.get(Channel.CLIENT, 0)), int(cell.get(Channel.SERVER, 0))
            conversions = client + server
            counts = (conversions, n)
            moments = Moments(n, cell.get("value_sum", 0.0), cell.get("value_sumsq", 0.0))
            if estimate is not None:  # several phases, each weighed by its share
                est = estimate.sums.get((goal.pk, variation.pk))
                if est is not None:
                    counts = (int(est["conversions"]), int(est["visitors"]))
                    moments = Moments(counts[1], est["value_sum"], est["value_sumsq"])
            ci = mean_ci95(moments)
            rate_ci = wilson_ci95(*counts)
            row: dict[str, Any] = {
                "code": variation.code,
                "visitors": n,
                "conversions": conversions,
                "conversions_client": client,
                "conversions_server": server,
                "conversion_rate": counts[0] / counts[1] if counts[1] else None,
                "conversion_rate_ci95": list(rate_ci) if rate_ci else None,
                "value_sum": cell.get("value_sum", 0.0),
                "value_per_visitor": moments.mean,
                "value_per_visitor_ci95": list(ci) if ci else None,
                "lift_abs": None,
                "lift_rel": None,
                "lift_ci95": None,
                "p_value": None,
                "confidence": None,
                "rate_lift_abs": None,
                "rate_lift_rel": None,
                "rate_lift_ci95": None,
                "sequential": None,
                "chance_to_win": None,
                "expected_loss": None,
                "conflicts": agg.conflicts_of(
                    variation.pk, None if shown == SHOWN_ALL else phase_block_number
                ),
                "fixed": {
                    "visitors": fixed_visitors.get(variation.pk, 0),
                    "conversions": int(
                        fixed.get((goal.pk, variation.pk), {}).get("conversions", 0)
                    ),
                    "value_sum": fixed.get((goal.pk, variation.pk), {}).get("value_sum", 0.0),
                },
            }
            if baseline is None:
                baseline, base_counts = moments, counts
                arms.append(Arm(variation.code, counts[1], row["conversion_rate"], None))
            else:
                comparison = compare_means(baseline, moments)
                row.update(
                    lift_abs=comparison.lift_abs,
                    lift_rel=comparison.lift_rel,
                    lift_ci95=list(comparison.lift_ci95) if comparison.lift_ci95 else None,
                    p_value=comparison.p_value,
                    confidence=comparison.confidence,
                    **_rate_comparison(base_counts, counts, baseline, moments, account),
                )
                sequential_rate = row["sequential"]["rate_lift_ci95"]
                arms.append(
                    Arm(
                        variation.code,
                        counts[1],
                        row["conversion_rate"],
                        tuple(sequential_rate) if sequential_rate else None,
                    )
                )
            rows.append(row)
        base_rate = base_counts[0] / base_counts[1] if base_counts[1] else None
        needed = visitors_needed(base_rate, account.mde_rel)
        goal_reports.append(
            {
                "code": goal.code,
                "variations": rows,
                "verdict": goal_verdict(arms=arms, mde_rel=account.mde_rel, visitors_needed=needed),
                "visitors_needed": needed,
            }
        )
    return {
        "agent": agent.code,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "srm": srm,
        "phase": phase_block,
        "goals": goal_reports,
    }


def _rate_comparison(
    base_counts: tuple[int, int],
    counts: tuple[int, int],
    baseline: Moments,
    moments: Moments,
    account: Account,
) -> dict[str, Any]:
    """The conversion-rate figures of SPEC §7b for one variation against the first."""
    (c1, n1), (c2, n2) = base_counts, counts
    out: dict[str, Any] = {}
    if n1 and n2:
        p1, p2 = c1 / n1, c2 / n2
        out["rate_lift_abs"] = p2 - p1
        out["rate_lift_rel"] = (p2 - p1) / p1 if p1 else None
    newcombe = newcombe_diff_ci95(base_counts, counts)
    out["rate_lift_ci95"] = list(newcombe) if newcombe else None
    tuning, n = account.sequential_tuning, n1 + n2
    value_seq = rate_seq = None
    se = welch_se(baseline, moments)
    if se is not None and baseline.mean is not None and moments.mean is not None:
        value_seq = sequential_ci95(moments.mean - baseline.mean, se, n, tuning)
    rate_se = rate_diff_se(base_counts, counts)
    if rate_se is not None:
        rate_seq = sequential_ci95(c2 / n2 - c1 / n1, rate_se, n, tuning)
    out["sequential"] = {
        "lift_ci95": list(value_seq) if value_seq else None,
        "rate_lift_ci95": list(rate_seq) if rate_seq else None,
    }
    out["chance_to_win"] = chance_to_win(base_counts, counts)
    out["expected_loss"] = expected_loss(base_counts, counts)
    return out


def agent_daily(
    *,
    agent: Agent,
    goal_id: int | None,
    date_from: date,
    date_to: date,
    phase: int | None = None,
) -> list[DailyPoint]:
    """Per day and variation: new random visitors, and conversions and value of one goal
    (of one phase's assignments, or of every phase's when `phase` is None)."""
    codes = dict(agent.variations.values_list("pk", "code"))
    points: dict[tuple[date, int], list] = {}
    of_phase = {} if phase is None else {"phase": phase}
    for row in (
        VisitorDay.objects.filter(
            agent=agent, day__gte=date_from, day__lte=date_to, forced=False, **of_phase
        )
        .values("day", "variation_id")
        .annotate(n=Sum("visitors"))
    ):
        points.setdefault((row["day"], row["variation_id"]), [0, 0, 0.0])[0] = row["n"]
    if goal_id is not None:
        for row in (
            GoalDay.objects.filter(
                agent=agent,
                goal_id=goal_id,
                day__gte=date_from,
                day__lte=date_to,
                forced=False,
                **of_phase,
            )
            .values("day", "variation_id")
            .annotate(c=Sum("conversions"), v=Sum("value_sum"))
        ):
            cell = points.setdefault((row["day"], row["variation_id"]), [0, 0, 0.0])
            cell[1], cell[2] = row["c"] or 0, row["v"] or 0.0
    return [
        DailyPoint(day, codes.get(variation_id, "?"), *cell)
        for (day, variation_id), cell in sorted(points.items())
        if variation_id in codes
    ]


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
