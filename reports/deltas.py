"""What one agent-api request adds to the report aggregates (`reports.models`), typed.

The request engine (`visitors`) adds new visitors and credits here while it decides; its
write turns the deltas into upserts, on SQLite and on PostgreSQL alike, from the columns
named here, so the two cannot drift. Keys are named tuples: hashable, and sorted in
column order, which is the order rows are locked in (two requests never lock crosswise).
"""

from dataclasses import dataclass, field, fields
from datetime import date
from typing import NamedTuple


class VisitorDayKey(NamedTuple):
    """A row of `VisitorDay` (without its shard)."""

    agent_id: int
    variation_id: int
    day: date
    channel: str
    forced: bool = False  # an assignment forced by a rule
    phase: int = 1  # the assignment's phase (SPEC §4e)


class GoalDayKey(NamedTuple):
    """A row of `GoalDay` (without its shard)."""

    agent_id: int
    variation_id: int
    goal_id: int
    day: date
    channel: str
    forced: bool = False  # a credit of an assignment forced by a rule
    phase: int = 1  # the credited assignment's phase: late goals count in it


@dataclass
class GoalDayDelta:
    """What is added to one `GoalDay` row."""

    conversions: int = 0  # visitors credited for the first time
    credits: int = 0
    value_sum: float = 0.0
    value_sumsq: float = 0.0  # the change of Σ over visitors of (visitor's total value)²


VISITOR_DAY_COUNTS = ("visitors",)
GOAL_DAY_COUNTS = tuple(f.name for f in fields(GoalDayDelta))


def value_sumsq_increment(*, prior: float, value: float) -> float:
    """How a credit of `value` to a visitor already credited `prior` changes the sum of
    squares of visitors' totals: (prior + value)² − prior². Reports derive the variance
    of value per visitor from it, without raw data."""
    return (prior + value) ** 2 - prior**2


@dataclass
class ReportDeltas:
    """The aggregates one request adds to: new visitors per `VisitorDayKey`, and counts
    per `GoalDayKey`."""

    visitors: dict[VisitorDayKey, int] = field(default_factory=dict)
    goals: dict[GoalDayKey, GoalDayDelta] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.visitors or self.goals)

    def visitor_add(self, key: VisitorDayKey) -> None:
        self.visitors[key] = self.visitors.get(key, 0) + 1

    def credit_add(self, key: GoalDayKey, *, prior: float, value: float, first: bool) -> None:
        """Count a credit of `value` to a visitor credited `prior` so far (in this goal and
        agent); `first` when it makes the visitor a conversion."""
        delta = self.goals.get(key)
        if delta is None:
            delta = self.goals[key] = GoalDayDelta()
        delta.conversions += int(first)
        delta.credits += 1
        delta.value_sum += value
        delta.value_sumsq += value_sumsq_increment(prior=prior, value=value)

    def visitor_rows(self) -> list[tuple]:
        """(key columns..., visitors) in key order."""
        return [(*key, n) for key, n in sorted(self.visitors.items())]

    def goal_rows(self) -> list[tuple]:
        """(key columns..., conversions, credits, value_sum, value_sumsq) in key order."""
        return [
            (*key, delta.conversions, delta.credits, delta.value_sum, delta.value_sumsq)
            for key, delta in sorted(self.goals.items())
        ]
