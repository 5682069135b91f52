"""The match rate and the time to convert of a goal (SPEC §4d), measured instead of guessed.

- Match rate: per day and REST target, the share of a goal's goal commands that found an
  assignment of the visitor (credited, or skipped for another reason) against those that
  found none (`no_selection`: Safari's cookie limits, an in-app browser, a page that does
  not pass the same id). Requests refused whole, replays, bots and malformed goals are not
  matches either way and are left out.
- Time to convert: how many whole hours after the assignment's confirmation each credit
  came, and each skip as `outside_window`; from it, the share lost to the window and the
  windows that would keep 95% and 99% of them.

Counted by the agent-api's requests as the goal diagnostics are (goals.diagnostics): in
memory, written at most every `GOAL_DIAGNOSTICS_FLUSH_SECONDS` in one upsert per table
(atomic, so processes never lose each other's counts); a process killed outright loses at
most that much. Kept `MATCH_KEPT_DAYS`; the goal's page reads the daily rows, never raw
events.
"""

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Sum

from conductrics_admin.buffers import FlushBuffer
from conductrics_admin.upserts import adding_insert, counts_send
from goals.models import GoalDelayDay, GoalMatchDay

MATCH_KEPT_DAYS = 400
MATCH_SHOWN_DAYS = 30  # the goal's page: the last 30 days
MATCH_WARN_MIN_GOALS = 20  # the overview warns of a low match rate over at least these
DELAY_HOURS_MAX = 24 * 366  # later than a year is counted there


@dataclass(frozen=True)
class Delay:
    """One credit (inside the window) or skip as outside_window, `hours` after the
    assignment's confirmation."""

    hours: float
    inside: bool


def _write(batch: Counter) -> None:
    """Add the counts to their tables. Never raises (counts it could not send are dropped)."""
    adapt = connection.ops.adapt_datefield_value
    matches: dict[tuple, list[int]] = {}
    delays: dict[tuple, list[int]] = {}
    for key, count in batch.items():
        kind, *rest = key
        into = matches if kind == "m" else delays
        *row, flag = rest
        cell = into.setdefault(tuple(row), [0, 0])
        cell[0 if flag else 1] += count
    statements = []
    match_keys = ("account_id", "goal_code", "target_code", "day")
    delay_keys = ("account_id", "goal_code", "day", "hours")
    for model, keys, counts, found in (
        (GoalMatchDay, match_keys, ("found", "not_found"), matches),
        (GoalDelayDay, delay_keys, ("credited", "outside"), delays),
    ):
        if not found:
            continue
        params: list = []
        for row, (a, b) in sorted(found.items()):
            params += [adapt(v) if isinstance(v, date) else v for v in row] + [a, b]
        statements.append((adding_insert(model._meta.db_table, keys, counts, len(found)), params))

    def cleanup() -> None:
        if _pending.clock() >= _next_cleanup[0]:
            _next_cleanup[0] = _pending.clock() + 3600
            days = [k[4] if k[0] == "m" else k[3] for k in batch]
            oldest = max(days) - timedelta(days=MATCH_KEPT_DAYS)
            GoalMatchDay.objects.filter(day__lt=oldest).delete()
            GoalDelayDay.objects.filter(day__lt=oldest).delete()

    counts_send(statements, cleanup=cleanup, what="match rate")


_pending: FlushBuffer[Counter] = FlushBuffer(
    empty=Counter, write=_write, every=lambda: settings.GOAL_DIAGNOSTICS_FLUSH_SECONDS
)
_next_cleanup = [0.0]


def goal_matches_count(
    *,
    account_id: int,
    target_code: str | None,
    matches: Iterable[tuple[str, bool]],
    delays: Iterable[tuple[str, Delay, date]],
    day: date,
) -> None:
    """Count a request's goals: (goal code, found an assignment) on `day` for a REST
    target (`target_code`; None: not a REST target, no match rate), and (goal code, delay,
    the day the goal happened). Never raises."""
    keys: list[tuple] = []
    if target_code is not None:
        keys += [("m", account_id, code, target_code, day, found) for code, found in matches]
    keys += [
        ("d", account_id, code, at, min(int(d.hours), DELAY_HOURS_MAX), d.inside)
        for code, d, at in delays
        if d.hours >= 0
    ]
    if keys:
        _pending.add(lambda counts: counts.update(keys))


def goal_matches_flush() -> None:
    _pending.flush()


@dataclass(frozen=True)
class MatchDay:
    day: date
    target_code: str
    found: int
    not_found: int

    @property
    def rate(self) -> float | None:
        total = self.found + self.not_found
        return self.found / total if total else None


def match_days(*, account_id: int, goal_code: str, since: date) -> list[MatchDay]:
    """The goal's match counts per day and target since `since`, oldest first."""
    goal_matches_flush()
    return [
        MatchDay(day, target, int(found), int(not_found))
        for day, target, found, not_found in GoalMatchDay.objects.filter(
            account_id=account_id, goal_code=goal_code, day__gte=since
        )
        .order_by("day", "target_code")
        .values_list("day", "target_code", "found", "not_found")
    ]


def match_rates_by_target(*, account_id: int, since: date) -> dict[tuple[str, str], MatchDay]:
    """Every goal's counts per (goal code, target code) since `since`, summed (the
    overview's warning)."""
    goal_matches_flush()
    rows = (
        GoalMatchDay.objects.filter(account_id=account_id, day__gte=since)
        .values_list("goal_code", "target_code")
        .annotate(found_sum=Sum("found"), not_found_sum=Sum("not_found"))
    )
    return {
        (goal, target): MatchDay(since, target, int(found), int(not_found))
        for goal, target, found, not_found in rows
    }


@dataclass(frozen=True)
class TimeToConvert:
    buckets: list[tuple[str, int, int]]  # (hours as shown, credited, outside the window)
    credited: int
    outside: int
    window_95: int | None  # the window, in whole hours, that would keep 95% of them
    window_99: int | None

    @property
    def outside_share(self) -> float | None:
        total = self.credited + self.outside
        return self.outside / total if total else None


# the page's buckets: (lowest hour, label); each holds the hours up to the next's lowest
DELAY_BUCKETS = (
    (0, "under 1 hour"), (1, "1–3 hours"), (3, "3–6 hours"), (6, "6–12 hours"),
    (12, "12–24 hours"), (24, "1–2 days"), (48, "2–3 days"), (72, "3–4 days"),
    (96, "4–7 days"), (168, "1–2 weeks"), (336, "2–4 weeks"), (672, "4 weeks or more"),
)  # fmt: skip


def time_to_convert(*, account_id: int, goal_code: str, since: date) -> TimeToConvert:
    """The goal's time to convert since `since` (the day the goals happened)."""
    goal_matches_flush()
    per_hour = (
        GoalDelayDay.objects.filter(account_id=account_id, goal_code=goal_code, day__gte=since)
        .values_list("hours")
        .annotate(c=Sum("credited"), o=Sum("outside"))
        .order_by("hours")
    )
    hours = [(int(h), int(c), int(o)) for h, c, o in per_hour]
    total = sum(c + o for _, c, o in hours)
    windows: list[int | None] = []
    for share in (0.95, 0.99):
        need, seen, found = math.ceil(share * total), 0, None
        for h, c, o in hours:
            seen += c + o
            if total and seen >= need:
                found = h + 1  # a window of h + 1 hours keeps every goal of hour h
                break
        windows.append(found)
    buckets = []
    for i, (low, label) in enumerate(DELAY_BUCKETS):
        high = DELAY_BUCKETS[i + 1][0] if i + 1 < len(DELAY_BUCKETS) else None
        inside = [(c, o) for h, c, o in hours if h >= low and (high is None or h < high)]
        buckets.append((label, sum(c for c, _ in inside), sum(o for _, o in inside)))
    return TimeToConvert(
        buckets=buckets,
        credited=sum(c for _, c, _ in hours),
        outside=sum(o for _, _, o in hours),
        window_95=windows[0],
        window_99=windows[1],
    )
