"""The selection rules of SPEC §4 "Assignment", as pure functions over the configuration.

No database here: `visitors.execution.visitor_commands_execute` reads the visitor's
assignments, calls `selection_decide` for each selection command, and writes.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from agents import reasons
from agents.bucketing import variation_pick
from agents.models import AgentStatus


class VariationLike(Protocol):
    id: int
    code: str
    weight: float


class AgentLike(Protocol):
    id: int
    code: str
    status: str
    variations: Sequence[VariationLike]
    paused_variation: VariationLike
    target_ids: frozenset[int]


class AssignmentLike(Protocol):
    variation_id: int
    confirmed_at: datetime | None


class Action(enum.Enum):
    """What a selection command comes to."""

    NONE = "none"  # no selection: see the decision's reason
    PAUSED = "paused"  # the paused variation, nothing recorded
    REPEAT = "repeat"  # the visitor's existing assignment
    CONFIRM = "confirm"  # a repeat that confirms a provisional assignment
    NEW = "new"  # a new assignment


@dataclass(frozen=True)
class Decision:
    action: Action
    variation: VariationLike | None = None
    reason: str | None = None
    detail: str = ""


def eligible_variations(
    *, variations: Sequence[VariationLike], allow: Sequence[str] | None, exclude: Sequence[str]
) -> list[VariationLike]:
    """The variations that `c` (allow-list) and `x` (exclude-list) leave, in their order."""
    return [v for v in variations if (allow is None or v.code in allow) and v.code not in exclude]


def selection_decide(
    *,
    agent: AgentLike | None,
    agent_code: str,
    target_id: int,
    identity: str,
    existing: AssignmentLike | None,
    allow: Sequence[str] | None,
    exclude: Sequence[str],
    status: str | None,
) -> Decision:
    """Decide a selection for one visitor `identity` of `agent` (None: unknown agent)."""
    if agent is None:
        return Decision(Action.NONE, reason=reasons.UNKNOWN_AGENT, detail=f"no agent {agent_code}")
    if agent.status == AgentStatus.STOPPED:
        return Decision(
            Action.NONE, reason=reasons.AGENT_STOPPED, detail=f"{agent_code} is stopped"
        )
    if target_id not in agent.target_ids:
        return Decision(
            Action.NONE,
            reason=reasons.NOT_ON_THIS_TARGET,
            detail=f"{agent_code} does not run on this deploy target",
        )
    eligible = eligible_variations(variations=agent.variations, allow=allow, exclude=exclude)
    if agent.status == AgentStatus.PAUSED:
        paused = agent.paused_variation
        if all(v.id != paused.id for v in eligible):
            return Decision(
                Action.NONE,
                reason=reasons.NO_ELIGIBLE_VARIATION,
                detail=f"{agent_code} is paused and its paused variation {paused.code} is "
                "excluded by c/x",
            )
        return Decision(Action.PAUSED, variation=paused, detail=f"{agent_code} is paused")
    if existing is not None:
        variation = next((v for v in agent.variations if v.id == existing.variation_id), None)
        if variation is not None:
            if existing.confirmed_at is None and status == reasons.STATUS_OK:
                return Decision(
                    Action.CONFIRM,
                    variation=variation,
                    detail="confirms the provisional assignment",
                )
            return Decision(Action.REPEAT, variation=variation, detail="sticky repeat")
    picked = variation_pick(agent_code=agent.code, identity=identity, variations=eligible)
    if picked is None:
        return Decision(
            Action.NONE,
            reason=reasons.NO_ELIGIBLE_VARIATION,
            detail=f"no variation of {agent_code} with a weight above 0 is left by c/x",
        )
    return Decision(Action.NEW, variation=picked, detail="new assignment by weighted hash")
