"""Results across an agent's phases (SPEC §4e), from the aggregates kept per phase.

Within a phase, visitors were assigned with fixed weights, so its counts compare as they
are. Across phases the mix changes (a ramp-up sends more of the later, perhaps different,
visitors to one variation), so pooling the counts could favour a variation for when its
visitors came rather than for what it did. The estimate across phases weighs each
phase's per-variation rate (and value per visitor) by that phase's share of all random
visitors: every variation is then judged on the same mix of phases.

The statistics (intervals, tests, chance to win) then read effective counts: the number
of visitors and conversions whose plain proportion has the weighted estimate's mean and
variance, so the same formulas serve one phase (where the effective counts are the
counts themselves) and several.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.choices import Allocation
from agents.models import Agent, AgentPhase
from reports.statistics import SRM_THRESHOLD, sample_ratio_mismatch
from targets.choices import Channel

# what a report shows: the agent's current phase, every phase weighted, or one phase
SHOWN_CURRENT = "current"
SHOWN_ALL = "all"
SHOWN_RULE = "“current” (the default), “all” (the default of adaptive agents), or a phase's number"


@dataclass(frozen=True)
class PhaseInfo:
    number: int
    started_at: datetime
    weights: dict[str, float]  # by variation code
    cause: str


def phases_read(agents: list[Agent]) -> dict[int, list[PhaseInfo]]:
    """Each agent's phases, oldest first (one query). An agent whose phases were never
    recorded (made before them, or by hand in a test) has one, with its weights now
    (`variations` read, or prefetched)."""
    found: dict[int, list[PhaseInfo]] = {a.pk: [] for a in agents}
    for p in AgentPhase.objects.filter(agent_id__in=list(found)).order_by("agent_id", "number"):
        found[p.agent_id].append(PhaseInfo(p.number, p.started_at, p.weights, p.cause))
    for agent in agents:
        if not found[agent.pk]:
            weights = {v.code: float(v.weight) for v in agent.variations.all()}
            found[agent.pk] = [PhaseInfo(agent.phase, agent.created_at, weights, "start")]
    return found


def shown_default(agent: Agent) -> str:
    """What a report shows unless asked: the current phase, or for an adaptive agent (whose
    every allocation period is a phase) all of them."""
    return SHOWN_ALL if agent.allocation == Allocation.ADAPTIVE else SHOWN_CURRENT


def shown_parse(raw: str | None, *, agent: Agent) -> str | int:
    """A report's `phase` parameter (None: `shown_default`). Raises ValueError with a
    message for anything else than SHOWN_RULE's values (a number from 1 to the current
    phase)."""
    current = agent.phase
    if raw is None:
        return shown_default(agent)
    if raw == SHOWN_CURRENT:
        return SHOWN_CURRENT
    if raw == SHOWN_ALL:
        return SHOWN_ALL
    if raw.isascii() and raw.isdigit() and len(raw) < 10 and 1 <= int(raw) <= current:
        return int(raw)
    shown = raw[:40] if raw.isprintable() else repr(raw[:40])
    raise ValueError(f"“{shown}” is not a phase of this agent: give {SHOWN_RULE} (1 to {current}).")


@dataclass
class PhaseCounts:
    """One phase's random assignments and credits, summed per variation (and goal); and
    apart, those that rules forced (the report's `fixed` blocks)."""

    visitors: dict[int, int] = field(default_factory=dict)
    # (goal id, variation id) -> {client, server, value_sum, value_sumsq}
    sums: dict[tuple[int, int], dict[str, float]] = field(default_factory=dict)
    fixed_visitors: dict[int, int] = field(default_factory=dict)
    fixed: dict[tuple[int, int], dict[str, float]] = field(default_factory=dict)


def phase_srm(counts: PhaseCounts | None, phase: PhaseInfo, variations: list) -> dict[str, Any]:
    """The phase's sample-ratio test against the weights it assigned with."""
    observed = [counts.visitors.get(v.pk, 0) if counts else 0 for v in variations]
    srm = sample_ratio_mismatch(observed, [phase.weights.get(v.code, 0.0) for v in variations])
    return {"p_value": srm.p_value, "flagged": srm.flagged}


def srm_over_phases(tests: list[dict[str, Any]]) -> dict[str, Any]:
    """One verdict for several phases' tests: the smallest p-value times their number
    (Bonferroni), flagged when that is under the threshold (an adaptive agent's hundreds of
    periods would otherwise flag one by chance)."""
    ps = [t["p_value"] for t in tests if t["p_value"] is not None]
    if not ps:
        return {"p_value": None, "flagged": False}
    p = min(1.0, min(ps) * len(ps))
    return {"p_value": p, "flagged": p < SRM_THRESHOLD}


def _effective(parts: list[tuple[float, int, int, float, float]]) -> tuple[int, int, float, float]:
    """(visitors, conversions, value sum, value sum of squares) whose plain estimates have
    the mean and variance of the weighted estimate of `parts`: (phase weight, visitors,
    conversions, value sum, value sum of squares), visitors above 0."""
    total_weight = sum(w for w, *_ in parts)
    n_all = sum(part[1] for part in parts)
    c_all, s_all, q_all = (sum(part[i] for part in parts) for i in (2, 3, 4))
    # each phase's variance from the variation's pooled rate and value variance: a phase
    # of a few visitors (an adaptive period's weakest variation) has no estimate of its own
    p_all = c_all / n_all
    variance_all = max(q_all - s_all * s_all / n_all, 0.0) / (n_all - 1) if n_all > 1 else 0.0
    rate = rate_var = mean = mean_var = 0.0
    for w, n, c, s, _q in parts:
        share = w / total_weight
        rate += share * c / n
        rate_var += share * share * p_all * (1 - p_all) / n
        mean += share * s / n
        mean_var += share * share * variance_all / n
    n_eff = n_all if rate_var <= 0 else max(1, round(rate * (1 - rate) / rate_var))
    conversions = min(n_eff, round(rate * n_eff))
    total = mean * n_eff
    # a sample variance that gives the weighted mean's variance over n_eff visitors
    sumsq = mean_var * n_eff * (n_eff - 1) + total * total / n_eff
    return n_eff, conversions, total, sumsq


def phases_estimate(counts: dict[int, PhaseCounts], variations: list, goals: list) -> PhaseCounts:
    """The effective counts of every phase weighted by its share of random visitors (see
    the module's docstring); a variation absent from a phase is judged on the others,
    their weights scaled up."""
    totals = {k: sum(c.visitors.values()) for k, c in counts.items()}
    everyone = sum(totals.values())
    out = PhaseCounts()
    if not everyone:
        return out
    weights = {k: totals[k] / everyone for k in counts}
    for variation in variations:
        present = [k for k in counts if counts[k].visitors.get(variation.pk, 0) > 0]
        if not present:
            continue
        for goal in [None, *goals]:
            parts = []
            for k in present:
                n = counts[k].visitors[variation.pk]
                cell = counts[k].sums.get((goal.pk, variation.pk), {}) if goal else {}
                conversions = int(cell.get(Channel.CLIENT, 0) + cell.get(Channel.SERVER, 0))
                parts.append(
                    (
                        weights[k],
                        n,
                        conversions,
                        cell.get("value_sum", 0.0),
                        cell.get("value_sumsq", 0.0),
                    )
                )
            n_eff, conversions, total, sumsq = _effective(parts)
            if goal is None:
                out.visitors[variation.pk] = n_eff
                continue
            out.sums[(goal.pk, variation.pk)] = {
                "conversions": conversions,
                "value_sum": total,
                "value_sumsq": sumsq,
                "visitors": n_eff,
            }
    return out
