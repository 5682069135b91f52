"""When a goal happened (SPEC §4c "Event time"): `t` on a goal command of a REST target.

Pure: parse the two forms a sender may use (an RFC 3339 timestamp with an offset, or an
integer of milliseconds since the Unix epoch), say why a time is refused, and show the
time used the one way the answer echoes it. Every rule of goal matching then reads this
time instead of the arrival time.
"""

import math
import re
from datetime import UTC, datetime, timedelta

FUTURE_TOLERANCE = timedelta(minutes=5)  # servers' clocks drift; further ahead is a fault
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
T_RULE = (
    "an RFC 3339 timestamp with an offset (2026-12-01T10:00:00Z) or an integer of "
    "milliseconds since the Unix epoch"
)
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})\Z"
)


def event_time_parse(raw: str | int | float) -> datetime | None:
    """The time `raw` names, in UTC, or None when it is neither form."""
    if isinstance(raw, str):
        found = _RFC3339.match(raw)
        if found is None:
            return None
        day, clock, fraction, offset = found.groups()
        fraction = (fraction or "")[:7]  # Python reads at most microseconds
        offset = "+00:00" if offset in ("Z", "z") else offset
        try:
            return datetime.fromisoformat(f"{day}T{clock}{fraction}{offset}").astimezone(UTC)
        except ValueError:  # 2026-02-30, 25:00:00, an offset of 24 hours
            return None
    if isinstance(raw, float) and not (math.isfinite(raw) and raw.is_integer()):
        return None
    try:
        return datetime.fromtimestamp(int(raw) / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def event_time_problem(at: datetime, *, now: datetime, retention_days: int) -> str | None:
    """Why a goal dated `at` is refused (`invalid_time`), or None."""
    if at > now + FUTURE_TOLERANCE:
        return f"t is more than {FUTURE_TOLERANCE.seconds // 60} minutes after the server's clock"
    if at < EARLIEST:
        return "t is before 2000-01-01"
    if at < now - timedelta(days=retention_days):
        return f"t is older than the account's raw-data retention ({retention_days} days)"
    return None


def event_time_shown(at: datetime) -> str:
    """`at` as the goal item echoes it: RFC 3339, UTC, milliseconds."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
