"""Goal diagnostics: what became of each goal command in the last 24 hours, per goal.

For the integrator whose server-side goals "don't show up". Counts live in Django's
cache (Redis when REDIS_URL is set) in hourly buckets kept 25 hours: best effort, never
in the way of a request, and not raw visitor data. Refused requests count too (a REST
goal sent with a vid that its target may not pass), which the event list cannot show.

A process adds up its counts in memory and sends them to the cache at most once every
`GOAL_DIAGNOSTICS_FLUSH_SECONDS` (1 s; 0 sends each request's at once), one increment per
goal and outcome instead of one per goal command: a Redis round trip per goal command
cost more than the rest of a REST goal's bookkeeping. Reads in the same process send
their own counts first; other processes' counts show within that time, and a process
killed outright loses at most that much of its counts (they are diagnostics, not data).
"""

import atexit
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache

from goals import reasons
from goals.models import GOAL_VALUE_MAX, REST_SEND_LABEL, TRIGGER_API_LABEL
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
    reasons.NOT_AN_API_GOAL,
    reasons.INVALID_VALUE,
    VID_NOT_ALLOWED,
)
_TTL_SECONDS = 25 * 3600


def _key(account_id: int, goal_code: str, hour: datetime, outcome: str) -> str:
    return f"goal-diag:{account_id}:{goal_code}:{hour:%Y%m%d%H}:{outcome}"


_pending: Counter = Counter()  # cache key -> count not yet sent
_pending_lock = threading.Lock()
_next_flush = [0.0]  # time.monotonic() after which the next count sends the pending ones


def goal_outcomes_count(
    *, account_id: int, outcomes: Iterable[tuple[str, str]], now: datetime
) -> None:
    """Add (goal code, outcome) pairs to this hour's counts. Never raises."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    keys = [_key(account_id, goal_code, hour, outcome) for goal_code, outcome in outcomes]
    if not keys:
        return
    with _pending_lock:
        _pending.update(keys)
        due = time.monotonic() >= _next_flush[0]
    if due:
        goal_outcomes_flush()


def goal_outcomes_flush() -> None:
    """Send this process's pending counts to the cache. Never raises (counts it could not
    send are dropped: the cache is down, and diagnostics must not pile up in memory)."""
    with _pending_lock:
        batch = dict(_pending)
        _pending.clear()
        _next_flush[0] = time.monotonic() + settings.GOAL_DIAGNOSTICS_FLUSH_SECONDS
    try:
        for key, count in batch.items():
            try:
                cache.incr(key, count)  # one round trip once the hour's bucket exists
            except ValueError:
                if not cache.add(key, count, _TTL_SECONDS):
                    cache.incr(key, count)  # another process created it meanwhile
    except Exception:  # diagnostics must never fail a request
        logger.warning("goal diagnostics not counted: cache unavailable")


atexit.register(goal_outcomes_flush)  # a worker stopped gracefully sends what it holds


def goal_outcomes_last_24h(*, account_id: int, goal_code: str, now: datetime) -> dict[str, int]:
    """Counts by outcome over the last 24 hourly buckets (zero where nothing happened)."""
    goal_outcomes_flush()
    hour = now.replace(minute=0, second=0, microsecond=0)
    keys = {
        _key(account_id, goal_code, hour - timedelta(hours=h), outcome): outcome
        for h in range(24)
        for outcome in OUTCOMES
    }
    totals = dict.fromkeys(OUTCOMES, 0)
    try:
        found = cache.get_many(list(keys))
    except Exception:
        logger.warning("goal diagnostics unavailable: cache unavailable")
        return totals
    for key, count in found.items():
        totals[keys[key]] += int(count)
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
    reasons.AGENT_NOT_RUNNING: ("The agent is paused or stopped: run it.", "agent"),
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
    reasons.NOT_AN_API_GOAL: (
        f"A REST target sends API goals only: set the goal's Trigger to “{TRIGGER_API_LABEL}”.",
        "goal",
    ),
    reasons.INVALID_VALUE: (f"Send v as a finite number from 0 to {GOAL_VALUE_MAX:,.0f}.", None),
    VID_NOT_ALLOWED: (
        f"Requests were refused (403): turn on “{ALLOW_EXTERNAL_VID_LABEL}” on the REST target.",
        "rest_target",
    ),
}
