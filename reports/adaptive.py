"""The allocation period's rollover of adaptive agents (SPEC §4e), from the aggregates.

The first request that finds an adaptive agent's period over (its snapshot says when)
calls `period_roll`: under a lock of the agent's row, unless another server did it first,
it computes the next period's shares (agents.adaptive) and begins the phase that carries
them; the configuration version it raises brings them to every server's snapshot, and so
to the local-decisions bundle. Each process tries once per period and agent, so the other
requests of the period cost nothing more.

The shares learn only from visitors whose attribution window has closed (phases that
ended at least a window ago): a goal that arrives late would otherwise count against the
variation given the most recent visitors, the one the bandit favours (docs/statistics.md).
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Sum

from agents.adaptive import adaptive_shares
from agents.choices import AgentStatus, Allocation
from agents.models import Agent, AgentPhase
from agents.phases import phase_current
from reports.models import GoalDay, VisitorDay

_tried: set[tuple[int, int]] = set()  # (agent id, phase) this process rolled or saw rolled
_TRIED_MAX = 10_000


def learning_counts(*, agent: Agent, now: datetime) -> list[tuple[int, int]]:
    """(conversions of the first goal, visitors) per variation, in position order: random
    assignments of the phases whose attribution window has closed by `now`."""
    variations = list(agent.variations.order_by("position", "id"))
    goal = agent.goals.order_by("code").first()
    if goal is None:
        return [(0, 0)] * len(variations)
    hours = goal.attribution_window_hours or agent.account.attribution_window_hours
    cutoff = now - timedelta(hours=hours)
    starts = list(
        AgentPhase.objects.filter(agent=agent)
        .order_by("number")
        .values_list("number", "started_at")
    )
    # phase k ended when phase k + 1 began
    mature = max(
        (
            number
            for (number, _), (_, ended) in zip(starts, starts[1:], strict=False)
            if ended <= cutoff
        ),
        default=0,
    )
    if not mature:
        return [(0, 0)] * len(variations)
    visitors = dict(
        VisitorDay.objects.filter(agent=agent, forced=False, phase__lte=mature)
        .values("variation_id")
        .annotate(n=Sum("visitors"))
        .values_list("variation_id", "n")
    )
    conversions = dict(
        GoalDay.objects.filter(agent=agent, goal=goal, forced=False, phase__lte=mature)
        .values("variation_id")
        .annotate(c=Sum("conversions"))
        .values_list("variation_id", "c")
    )
    return [(conversions.get(v.pk) or 0, visitors.get(v.pk) or 0) for v in variations]


def period_roll(*, agent_id: int, phase: int, now: datetime) -> bool:
    """Begin the next allocation period of an adaptive agent whose period `phase` is over;
    True if this call did (False: done already, here or by another server, or no longer
    due). One try per process and period."""
    if (agent_id, phase) in _tried:
        return False
    if len(_tried) > _TRIED_MAX:
        _tried.clear()
    _tried.add((agent_id, phase))
    try:
        return _roll(agent_id=agent_id, phase=phase, now=now)
    except Exception:
        _tried.discard((agent_id, phase))  # a failure (the database's) is tried again
        raise


def _roll(*, agent_id: int, phase: int, now: datetime) -> bool:
    with transaction.atomic():
        agent = (
            Agent.objects.select_for_update(of=("self",))
            .select_related("account")
            .filter(pk=agent_id)
            .first()
        )
        if (
            agent is None
            or agent.phase != phase
            or agent.allocation != Allocation.ADAPTIVE
            or agent.status != AgentStatus.RUNNING
        ):
            return False
        current = phase_current(agent=agent)
        if current.started_at + timedelta(minutes=agent.account.adaptive_period_minutes) > now:
            return False
        variations = list(agent.variations.order_by("position", "id"))
        shares = adaptive_shares(
            learning_counts(agent=agent, now=now),
            active=[v.weight > 0 for v in variations],
            floor=agent.account.adaptive_floor,
            burn_in=agent.account.adaptive_burn_in,
        )
        agent.phase = phase + 1
        AgentPhase.objects.create(
            agent=agent,
            number=agent.phase,
            started_at=now,
            weights={v.code: share for v, share in zip(variations, shares, strict=True)},
            eligibility=agent.eligibility,
            cause=AgentPhase.Cause.PERIOD,
        )
        agent.save(update_fields=["phase"])  # a configuration change: every snapshot follows
    return True
