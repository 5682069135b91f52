"""The selection rules of SPEC §4 "Assignment", as pure functions over the configuration.

No database here: `visitors.execution.visitor_commands_execute` reads the visitor's
assignments, calls `selection_decide` for each selection command, and writes. Conditions
(SPEC §4b) are evaluated by `targeting`, from facts the caller gathered.
"""

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from agents import reasons
from agents.bucketing import variation_pick
from agents.choices import AgentStatus
from targeting.conditions import Facts, Predicate, condition_explain


class VariationLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def weight(self) -> float: ...


class RuleLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def when(self) -> Any: ...
    @property
    def holds(self) -> Predicate | None: ...
    @property
    def variation(self) -> VariationLike: ...


class AgentLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def variations(self) -> Sequence[VariationLike]: ...
    @property
    def paused_variation(self) -> VariationLike: ...
    @property
    def target_ids(self) -> frozenset[int]: ...
    @property
    def eligibility(self) -> Any: ...
    @property
    def eligible(self) -> Predicate | None: ...
    @property
    def rules(self) -> Sequence[RuleLike]: ...
    @property
    def qa(self) -> Mapping[tuple[str, str], VariationLike]: ...
    @property
    def broken(self) -> str: ...
    @property
    def starts_at(self) -> datetime | None: ...
    @property
    def ends_at(self) -> datetime | None: ...
    # with .code and .members (each .agent_id, .agent_code, .weight), or None
    @property
    def group(self) -> Any: ...


class AssignmentLike(Protocol):
    @property
    def variation_id(self) -> int: ...
    @property
    def confirmed_at(self) -> datetime | None: ...


class Action(enum.Enum):
    """What a selection command comes to."""

    NONE = "none"  # no selection: see the decision's reason
    QA = "qa"  # a QA override: its variation, nothing recorded
    PAUSED = "paused"  # the paused variation, nothing recorded
    REPEAT = "repeat"  # the visitor's existing assignment
    CONFIRM = "confirm"  # a repeat that confirms a provisional assignment
    FORCED = "forced"  # a new assignment forced by a rule (targeted selection)
    NEW = "new"  # a new assignment by weighted hash


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


@dataclass(frozen=True)
class Who:
    """The visitor as a selection sees it: `identity` it is bucketed by, the ids a QA
    override may name, and the facts its conditions read (None: nothing to evaluate)."""

    identity: str
    session: str
    vid: str | None = None
    facts: Facts | None = None
    explain: bool = False  # say which leaf decided (debug, explain): slower


def selection_decide(
    *,
    agent: AgentLike | None,
    agent_code: str,
    target_id: int,
    who: Who,
    existing: AssignmentLike | None,
    allow: Sequence[str] | None,
    exclude: Sequence[str],
    status: str | None,
    now: datetime,
) -> Decision:
    """Decide a selection for visitor `who` of `agent` (None: unknown agent) at `now`, in
    the order of SPEC §4b: QA override; unknown, draft, stopped, not on this target,
    paused, outside its schedule; the existing assignment; the group's slot; eligibility;
    rules; the weighted hash."""
    if agent is None:
        return Decision(Action.NONE, reason=reasons.UNKNOWN_AGENT, detail=f"no agent {agent_code}")
    eligible = eligible_variations(variations=agent.variations, allow=allow, exclude=exclude)
    if agent.qa:
        decision = _qa_decide(agent, who, eligible)
        if decision is not None:
            return decision
    if agent.status == AgentStatus.DRAFT:
        return Decision(
            Action.NONE,
            reason=reasons.AGENT_DRAFT,
            detail=f"{agent_code} is a draft: only its QA overrides see it",
        )
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
    if not schedule_holds(agent.starts_at, agent.ends_at, now):
        return Decision(
            Action.NONE,
            reason=reasons.OUTSIDE_SCHEDULE,
            detail=f"{agent_code} runs {schedule_describe(agent.starts_at, agent.ends_at)}",
        )
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
    if agent.group is not None:
        group = agent.group
        slot = variation_pick(
            agent_code=group.code, identity=who.identity, variations=group.members
        )
        if slot is None or slot.agent_id != agent.id:
            return Decision(
                Action.NONE,
                reason=reasons.OTHER_AGENT_IN_GROUP,
                detail=f"group {group.code} slots {slot.agent_code if slot else 'no agent'}",
            )
    if agent.broken:
        return Decision(
            Action.NONE,
            reason=reasons.NOT_ELIGIBLE,
            detail=f"not eligible: its targeting does not check ({agent.broken})",
        )
    if agent.eligible is not None:
        holds, why = _holds(agent.eligible, agent.eligibility, who, agent.code)
        if not holds:
            return Decision(Action.NONE, reason=reasons.NOT_ELIGIBLE, detail=f"not eligible: {why}")
    for rule in agent.rules:
        holds, why = _holds(rule.holds, rule.when, who, agent.code)
        if not holds:
            continue
        if all(v.id != rule.variation.id for v in eligible):
            continue  # c/x exclude the rule's variation: the rule is passed over
        because = f" ({why})" if who.explain and rule.when is not None else ""
        return Decision(
            Action.FORCED, variation=rule.variation, detail=f"rule '{rule.name}' matched{because}"
        )
    picked = variation_pick(agent_code=agent.code, identity=who.identity, variations=eligible)
    if picked is None:
        return Decision(
            Action.NONE,
            reason=reasons.NO_ELIGIBLE_VARIATION,
            detail=f"no variation of {agent_code} with a weight above 0 is left by c/x",
        )
    return Decision(Action.NEW, variation=picked, detail="new assignment by weighted hash")


def schedule_holds(starts_at: datetime | None, ends_at: datetime | None, at: datetime) -> bool:
    """Whether `at` is inside an agent's schedule: from `starts_at` (included) until
    `ends_at` (excluded); an empty bound does not limit."""
    return (starts_at is None or starts_at <= at) and (ends_at is None or at < ends_at)


def schedule_describe(starts_at: datetime | None, ends_at: datetime | None) -> str:
    """A schedule in words, in UTC: "from 2026-12-01 09:00 UTC until 2026-12-15 00:00 UTC"."""
    parts = [
        f"{word} {moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        for word, moment in (("from", starts_at), ("until", ends_at))
        if moment is not None
    ]
    return " ".join(parts) or "at any time"


def _qa_decide(agent: AgentLike, who: Who, eligible: list[VariationLike]) -> Decision | None:
    for kind, value in (("vid", who.vid), ("session", who.session)):
        variation = agent.qa.get((kind, value)) if value else None
        if variation is None:
            continue
        if all(v.id != variation.id for v in eligible):
            return Decision(
                Action.NONE,
                reason=reasons.NO_ELIGIBLE_VARIATION,
                detail=f"QA override for {kind} {value}: {variation.code} is excluded by c/x",
            )
        return Decision(Action.QA, variation=variation, detail=f"QA override for {kind} {value}")
    return None


def _holds(
    predicate: Predicate | None, condition: Any, who: Who, agent_code: str
) -> tuple[bool, str]:
    """Whether a condition holds for `who`, and (when explaining) the leaves that decided."""
    if predicate is None:
        return True, "always"
    if who.facts is None:
        raise ValueError("a condition needs facts")  # the caller builds them for conditions
    if who.explain:
        return condition_explain(condition, who.facts, agent_code)
    holds = predicate(who.facts, agent_code)
    return holds, "" if holds else condition_explain(condition, who.facts, agent_code)[1]
