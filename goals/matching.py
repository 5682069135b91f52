"""The heart of the product: which of a visitor's assignments a goal is credited to (SPEC §4).

Pure functions: given a goal, the target it arrived on, the visitor's assignments in one
agent and what was already credited, decide to credit one assignment or say why not.
The rules, in order:
1. the agent is running; else `agent_not_running`;
2. the assignment is confirmed; else `provisional`;
3. it was made (or confirmed) no more than the attribution window before the goal;
   else `outside_window`, or `goal_before_selection` when it is dated after the goal;
4. a goal on a `rest` target credited to an assignment made on an `express` target needs
   `trigger: api` and `rest_send`; else `rest_send_not_enabled`;
5. a goal counted once is credited once per visitor and agent; else `already_credited`.
Of several assignments in the agent, the earliest inside the window is the one credited.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from goals import reasons
from goals.choices import GoalCounting, GoalTrigger
from targets.choices import TargetKind


class GoalLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def trigger(self) -> str: ...
    @property
    def rest_send(self) -> bool: ...
    @property
    def counting(self) -> str: ...
    @property
    def window_hours(self) -> int: ...


class AssignmentLike(Protocol):
    @property
    def variation_id(self) -> int: ...
    @property
    def target_kind(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def confirmed_at(self) -> datetime | None: ...


A = TypeVar("A", bound=AssignmentLike)


@dataclass(frozen=True)
class Match(Generic[A]):
    """The outcome for one agent: `assignment` credited, or `reason` why not (with the
    assignment it is about)."""

    assignment: A
    reason: str | None = None

    @property
    def credited(self) -> bool:
        return self.reason is None


def _when(row: AssignmentLike) -> datetime:
    return row.confirmed_at or row.created_at


def goal_match(
    *,
    goal: GoalLike,
    target_kind: str,
    agent_running: bool,
    assignments: Sequence[A],
    already_credited: bool,
    now: datetime,
) -> Match[A] | None:
    """Apply the five rules to the visitor's `assignments` in one agent (None when empty)."""
    if not assignments:
        return None
    ordered = sorted(assignments, key=_when)
    if not agent_running:
        return Match(ordered[0], reasons.AGENT_NOT_RUNNING)
    confirmed = [(row.confirmed_at, row) for row in ordered if row.confirmed_at is not None]
    if not confirmed:
        return Match(ordered[0], reasons.PROVISIONAL)
    window = timedelta(hours=goal.window_hours)
    inside = [row for at, row in confirmed if at <= now <= at + window]
    if not inside:
        if all(at > now for at, _ in confirmed):
            return Match(confirmed[0][1], reasons.GOAL_BEFORE_SELECTION)
        return Match(confirmed[0][1], reasons.OUTSIDE_WINDOW)
    chosen = inside[0]
    if (
        target_kind == TargetKind.REST
        and chosen.target_kind == TargetKind.EXPRESS
        and not (goal.trigger == GoalTrigger.API and goal.rest_send)
    ):
        return Match(chosen, reasons.REST_SEND_NOT_ENABLED)
    if goal.counting == GoalCounting.ONCE and already_credited:
        return Match(chosen, reasons.ALREADY_CREDITED)
    return Match(chosen)
