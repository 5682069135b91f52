"""Prometheus metrics of the request engine: goal outcomes, raw rows purged.

Labels take a bounded set of values only (the goal outcomes of goals.diagnostics, the
names of the raw tables).
"""

import collections
from collections.abc import Iterable

from prometheus_client import Counter

from goals.diagnostics import OUTCOMES

GOAL_OUTCOMES = Counter(
    "conductrics_goal_outcomes",
    "Goal commands by outcome: credited, or why not (the goal diagnostics' vocabulary).",
    ["outcome"],
)
ROWS_PURGED = Counter(
    "conductrics_raw_rows_purged", "Raw visitor-level rows deleted by purges.", ["table"]
)
PURGED_TABLES = ("assignments", "goal events", "credits", "linked ids")


def goal_outcomes_observe(outcomes: Iterable[str]) -> None:
    # a batch's: one increment per outcome
    for outcome, count in collections.Counter(outcomes).items():
        GOAL_OUTCOMES.labels(outcome if outcome in OUTCOMES else "other").inc(count)


def rows_purged_observe(*, table: str, rows: int) -> None:
    if rows:
        ROWS_PURGED.labels(table if table in PURGED_TABLES else "other").inc(rows)
