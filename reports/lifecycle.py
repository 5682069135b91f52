"""What a team's view of its tests reads of the results (SPEC §6b): each agent's days
running, visitors and verdict for the agents list, and the verdicts a decision records.

From aggregates only, in a bounded number of queries whatever the number of agents
(`agents_reports`, which the overview reads too).
"""

from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from django.utils import timezone

from agents.models import Agent, AgentDecision, AgentRun
from agents.services import agent_decide
from reports.phases import phases_read
from reports.selectors import Aggregates, agent_report, aggregates_read, report_build


def agents_reports(agents: list[Agent]) -> dict[int, tuple[Aggregates, dict[str, Any]]]:
    """The aggregates and the report of each agent over its whole life (agents with
    `variations` and `goals` prefetched): two aggregate queries for all of them."""
    today = timezone.now().date()
    whole = aggregates_read(agent_ids=[a.pk for a in agents], start=None, end=today)
    phases = phases_read(agents)
    return {
        agent.pk: (
            whole[agent.pk],
            report_build(
                agent=agent,
                variations=sorted(agent.variations.all(), key=lambda v: (v.position, v.pk)),
                goals=sorted(agent.goals.all(), key=lambda g: g.code),
                agg=whole[agent.pk],
                start=agent.created_at.astimezone(UTC).date(),
                end=today,
                phases=phases[agent.pk],
            ),
        )
        for agent in agents
    }


@dataclass(frozen=True)
class AgentFigures:
    days_running: float  # time spent running, in days
    visitors: int  # counted visitors of its variations, random and forced
    goal_code: str | None  # the goal of the verdict: its first
    verdict: dict[str, Any] | None  # {state, variation, text}


def agents_figures(agents: list[Agent]) -> dict[int, AgentFigures]:
    """Each agent's figures for the agents list (three queries whatever their number)."""
    now = timezone.now()
    running: dict[int, timedelta] = {}
    for agent_id, started, ended in AgentRun.objects.filter(
        agent_id__in=[a.pk for a in agents]
    ).values_list("agent_id", "started_at", "ended_at"):
        running[agent_id] = running.get(agent_id, timedelta()) + ((ended or now) - started)
    figures = {}
    for agent_id, (agg, report) in agents_reports(agents).items():
        first = report["goals"][0] if report["goals"] else None
        figures[agent_id] = AgentFigures(
            days_running=running.get(agent_id, timedelta()).total_seconds() / 86400,
            visitors=sum(agg.visitors.values()) + sum(agg.fixed_visitors.values()),
            goal_code=first["code"] if first else None,
            verdict=first["verdict"] if first else None,
        )
    return figures


def agent_verdicts(agent: Agent) -> list[dict[str, Any]]:
    """The verdict of each goal of `agent` now (over its whole life), as a decision keeps
    them: [{goal, state, variation, text}]."""
    return [
        {"goal": goal["code"], **goal["verdict"]} for goal in agent_report(agent=agent)["goals"]
    ]


def agent_decide_now(
    *, agent: Agent, variation_code: str, note: str, user: Any, label: str
) -> AgentDecision:
    """Decide `agent` for `variation_code` (agents.services.agent_decide) with the goals'
    verdicts of this moment."""
    return agent_decide(
        agent=agent,
        variation_code=variation_code,
        note=note,
        by=user,
        by_label=label,
        verdicts=agent_verdicts(agent),
    )


def days_running_text(days: float) -> str:
    """“3 days”, “1 day”, “5 h”, “—” (never ran)."""
    if days <= 0:
        return "—"
    if days < 1:
        return f"{max(1, round(days * 24))} h"
    whole = int(days)
    return f"{whole} day{'s' if whole != 1 else ''}"
