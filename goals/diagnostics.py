"""Goal diagnostics: what became of each goal command in the last 24 hours, per goal.

For the integrator whose server-side goals "don't show up". Counts live in the database
(`GoalOutcomeCount`, hourly buckets kept 25 hours), so that they are exact whatever the
number of server processes, with or without Redis: best effort, never in the way of a
request, and not raw visitor data. Refused requests count too (a REST goal sent with a
vid that its target may not pass), which the event list cannot show.

A process adds up its counts in memory and sends them at most once every
`GOAL_DIAGNOSTICS_FLUSH_SECONDS` (1 s; 0 sends each request's at once), in one upsert that
adds to the buckets (atomic, so processes never lose each other's counts). Reads in the
same process send their own counts first; other processes' counts show within that time,
and a process killed outright loses at most that much of its counts (they are
diagnostics, not data).
"""

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Sum

from conductrics_admin.buffers import FlushBuffer
from conductrics_admin.upserts import adding_insert, counts_send
from goals import reasons
from goals.models import GOAL_VALUE_MAX, REST_SEND_LABEL, TRIGGER_API_LABEL, GoalOutcomeCount
from targets.models import ALLOW_EXTERNAL_VID_LABEL

logger = logging.getLogger(__name__)

CREDITED = "credited"
NO_SELECTION = reasons.NO_SELECTION  # nothing to credit: no assignment found for this visitor
VID_NOT_ALLOWED = "vid_not_allowed"  # the whole request refused (403) on a REST target
OUTCOMES = (
    CREDITED,
    NO_SELECTION,
    reasons.OUTSIDE_WINDOW,
    reasons.ALREADY_CREDITED,
    reasons.AGENT_NOT_RUNNING,
    reasons.REST_SEND_NOT_ENABLED,
    reasons.PROVISIONAL,
    reasons.GOAL_BEFORE_SELECTION,
    reasons.GOAL_CONDITION_FALSE,
    reasons.NOT_AN_API_GOAL,
    reasons.INVALID_VALUE,
    reasons.SERVER_ONLY_GOAL,
    reasons.EVENT_ID_TAKEN,
    reasons.INVALID_TIME,
    reasons.INVALID_EVENT,
    VID_NOT_ALLOWED,
    reasons.BOT,
)
KEPT_HOURS = 25


def _hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def _counts_write(batch: Counter) -> None:
    """Add counts to the database. Never raises (counts it could not send are dropped: the
    database is down, and diagnostics must not pile up in memory)."""
    table = GoalOutcomeCount._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    params: list = []
    for (account_id, goal_code, hour, outcome), count in sorted(batch.items()):
        params += [account_id, goal_code, adapt(hour), outcome, count]
    keys = ("account_id", "goal_code", "hour", "outcome")

    def cleanup() -> None:
        if _pending.clock() >= _next_cleanup[0]:
            _next_cleanup[0] = _pending.clock() + 3600
            oldest = _hour(max(k[2] for k in batch)) - timedelta(hours=KEPT_HOURS)
            GoalOutcomeCount.objects.filter(hour__lt=oldest).delete()

    sql = adding_insert(table, keys, ("count",), len(batch))
    counts_send([(sql, params)], cleanup=cleanup, what="goal diagnostics")


# (account id, goal code, hour, outcome) -> count not yet sent
_pending: FlushBuffer[Counter] = FlushBuffer(
    empty=Counter, write=_counts_write, every=lambda: settings.GOAL_DIAGNOSTICS_FLUSH_SECONDS
)
_next_cleanup = [0.0]  # the buffer's clock after which buckets older than KEPT_HOURS go


def goal_outcomes_count(
    *, account_id: int, outcomes: Iterable[tuple[str, str]], now: datetime
) -> None:
    """Add (goal code, outcome) pairs to this hour's counts. Never raises."""
    hour = _hour(now)
    keys = [(account_id, goal_code, hour, outcome) for goal_code, outcome in outcomes]
    if keys:
        _pending.add(lambda counts: counts.update(keys))


def goal_outcomes_flush() -> None:
    """Add this process's pending counts to the database. Never raises."""
    _pending.flush()


def goal_outcomes_last_24h(*, account_id: int, goal_code: str, now: datetime) -> dict[str, int]:
    """Counts by outcome over the last 24 hourly buckets (zero where nothing happened)."""
    goal_outcomes_flush()
    totals = dict.fromkeys(OUTCOMES, 0)
    try:
        found = (
            GoalOutcomeCount.objects.filter(
                account_id=account_id,
                goal_code=goal_code,
                hour__gt=_hour(now) - timedelta(hours=24),
                hour__lte=_hour(now),
            )
            .values_list("outcome")
            .annotate(n=Sum("count"))
        )
        for outcome, n in found:
            if outcome in totals:
                totals[outcome] += int(n)
    except DatabaseError:
        logger.warning("goal diagnostics unavailable: database unavailable")
    return totals


# What to change when goals end with an outcome: (advice, where it is fixed).
# `where` is "goal", "agent", "express_target", "rest_target" or None.
FIXES: dict[str, tuple[str, str | None]] = {
    CREDITED: ("", None),
    NO_SELECTION: (
        "No selection was found for this visitor: the page must pass the same id as vid in "
        "the preboot, and the Express target must allow passing it.",
        "express_target",
    ),
    reasons.OUTSIDE_WINDOW: (
        "The selection is older than the attribution window: lengthen the goal's window.",
        "goal",
    ),
    reasons.ALREADY_CREDITED: (
        "The goal counts once per visitor: set counting to every event if repeats matter.",
        "goal",
    ),
    reasons.AGENT_NOT_RUNNING: (
        "The agent was paused or stopped when these goals happened: run it.",
        "agent",
    ),
    reasons.REST_SEND_NOT_ENABLED: (
        f"Turn on “{REST_SEND_LABEL}” on the goal.",
        "goal",
    ),
    reasons.PROVISIONAL: (
        'The selection was provisional: confirm it with {"a": …, "s": "ok"}.',
        None,
    ),
    reasons.GOAL_BEFORE_SELECTION: (
        "The goal is dated before the selection: check the servers' clocks.",
        None,
    ),
    reasons.GOAL_CONDITION_FALSE: (
        "The goal's condition was false for these goal commands: check it on the goal.",
        "goal",
    ),
    reasons.NOT_AN_API_GOAL: (
        f"A REST target sends API goals only: set the goal's Trigger to “{TRIGGER_API_LABEL}”.",
        "goal",
    ),
    reasons.INVALID_VALUE: (f"Send v as a finite number from 0 to {GOAL_VALUE_MAX:,.0f}.", None),
    reasons.INVALID_TIME: (
        "Send t as when the goal happened: not ahead of the server's clock by more than 5 "
        "minutes, not before 2000, within the account's raw-data retention.",
        None,
    ),
    reasons.INVALID_EVENT: (
        "Events of a batch or an import had the wrong shape: each answer's detail names the field.",
        None,
    ),
    VID_NOT_ALLOWED: (
        f"Requests were refused (403): turn on “{ALLOW_EXTERNAL_VID_LABEL}” on the REST target.",
        "rest_target",
    ),
    reasons.BOT: (
        "Sent with a crawler's User-Agent (ua): bots are never counted. Pass the visitor's "
        "User-Agent, not your server's or a monitor's.",
        None,
    ),
}
