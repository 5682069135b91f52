"""The periods in which each agent ran (SPEC §4c): "was the agent running when the goal
happened?" for goals sent late with their event time.

`agent_runs_note` is called whenever an agent is saved (a post_save receiver, so every
way its status changes is seen: the admin, the management API, a command): a running
agent without an open period gets one from now; an agent that is no longer running has
its open period closed now. `running_at` answers from the periods a snapshot holds.
"""

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from agents.choices import AgentStatus

Period = tuple[datetime, datetime | None]  # (started, ended or None while it runs)


def agent_runs_note(*, agent_id: int, status: str, at: datetime | None = None) -> None:
    """Open or close the agent's run period to match its status (idempotent)."""
    from agents.models import AgentRun

    at = at or timezone.now()
    open_run = AgentRun.objects.filter(agent_id=agent_id, ended_at__isnull=True)
    if status == AgentStatus.RUNNING:
        if not open_run.exists():
            AgentRun.objects.create(agent_id=agent_id, started_at=at)
    else:
        open_run.update(ended_at=at)


def running_at(periods: Sequence[Period], at: datetime) -> bool:
    """Whether `at` falls in one of the periods."""
    return any(start <= at and (end is None or at < end) for start, end in periods)


def periods_from_history(
    *, created_at: datetime, status_now: str, changes: Sequence[tuple[datetime, str, str]]
) -> list[Period]:
    """The run periods an agent's status history shows: `changes` are (when, before,
    after) of its status, oldest first (before "None" on creation). Where the history
    does not reach the status it has now (changes made before the audit log), the
    current status holds from the last change known (or from its creation)."""
    running = AgentStatus.RUNNING.value
    periods: list[Period] = []
    state = changes[0][1] if changes else status_now
    since = created_at
    for at, _before, after in changes:
        if state == running and after != running:
            periods.append((since, at))
        elif after == running and state != running:
            since = at
        state = after
    last_known = changes[-1][0] if changes else created_at
    if state == running and status_now == running:
        periods.append((since, None))
    elif status_now == running:  # running since a change the history does not hold
        periods.append((last_known, None))
    elif state == running:  # stopped by a change the history does not hold: until now
        periods.append((since, last_known))
    return periods
