"""Judging stored goal events again (SPEC §4c "Replaying skipped goals"): goals skipped
because a setting was wrong (the REST option off, a window too short, the agent paused)
are kept, and once the setting is fixed they can be counted.

`goal_events_replay` judges each selected event again at its own time, under today's
configuration, by the same rules as when it arrived (`visitors.execution._goal`): the
agents it was already credited in are left as they are, the once-rule holds (a visitor
credited since is `already_credited`), and what now matches is credited to the event
already stored. The event's stored answer becomes its new verdict, so a later retry of its
id answers the new one. Each event is recorded on its own, all of it or nothing.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from goals import reasons
from goals.diagnostics import NO_SELECTION
from visitors.config import AccountConf, TargetConf
from visitors.execution import _goal, _plan_read
from visitors.models import Credit, GoalEvent, GoalReplay
from visitors.request import CONTEXT_KEY, GoalCommand, GoalResult, Visitor
from visitors.writes import replay_writes_save

# what a fixed setting can change; `goal_condition_false` (a condition since corrected) is
# judged again from the inputs and traits the event kept (`CONTEXT_KEY` of its answer)
REPLAYABLE = (
    reasons.REST_SEND_NOT_ENABLED,
    reasons.OUTSIDE_WINDOW,
    reasons.AGENT_NOT_RUNNING,
    reasons.PROVISIONAL,
    reasons.GOAL_CONDITION_FALSE,
    NO_SELECTION,
)


@dataclass
class ReplayCounts:
    events: int = 0  # judged again
    credited: int = 0  # events that gained at least one credit
    credits: int = 0  # credits made
    before: Counter[str] = field(default_factory=Counter)  # reasons, as first answered
    after: Counter[str] = field(default_factory=Counter)  # reasons, as judged now
    # left as they were: the goal has a condition now, and the event kept no context for it
    # (it arrived before the goal had one), so it cannot be judged honestly
    no_context: int = 0


def _reasons_of(response: dict[str, Any]) -> list[str]:
    skipped = [s.get("reason", "") for s in response.get("skipped") or []]
    if response.get("s") == reasons.STATUS_NONE and not skipped:
        return [NO_SELECTION]
    return skipped


def goal_events_replay(
    *,
    account: AccountConf,
    goal_code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    replay_reasons: Iterable[str] = REPLAYABLE,
    dry_run: bool = False,
) -> ReplayCounts:
    """Judge again the account's stored goal events that were not credited for one of
    `replay_reasons` (in [since, until) of their own time); credit what matches now. The
    run is kept as a `GoalReplay` (in the audit log, with who ran it) unless it is a dry
    run."""
    chosen = list(replay_reasons)
    wanted = set(chosen)
    events = GoalEvent.objects.filter(account_id=account.id).order_by("occurred_at", "id")
    if goal_code is not None:
        goal = account.goals.get(goal_code)
        events = events.filter(goal_id=goal.id if goal else -1)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    counts = ReplayCounts()
    targets = {t.id: t for t in account.targets}
    codes = account.goal_codes_by_id
    for event in events.iterator(chunk_size=500):
        before = _reasons_of(event.response or {})
        target = targets.get(event.target_id or -1)
        if wanted.isdisjoint(before) or target is None or event.goal_id not in codes:
            continue
        goal = account.goals[codes[event.goal_id]]
        if goal.when_holds is not None and CONTEXT_KEY not in (event.response or {}):
            counts.no_context += 1
            continue
        counts.events += 1
        counts.before.update(before)
        result = _judge(account, target, event, codes[event.goal_id], dry_run=dry_run)
        new = [c for c in result.credited if c not in (event.response or {}).get("rs", [])]
        counts.credits += len(new)
        counts.credited += int(bool(new))
        counts.after.update(_reasons_of(result.to_record()))
    if not dry_run:
        GoalReplay.objects.create(
            account_id=account.id, goal_code=goal_code or "", reasons=",".join(chosen)[:300],
            since=since, until=until, events=counts.events, credited=counts.credited,
            credits=counts.credits,
        )  # fmt: skip
    return counts


def _judge(
    account: AccountConf, target: TargetConf, event: GoalEvent, goal_code: str, *, dry_run: bool
) -> GoalResult:
    done = frozenset(Credit.objects.filter(event_id=event.pk).values_list("agent_id", flat=True))
    context = (event.response or {}).get(CONTEXT_KEY) or {}
    visitor = Visitor(
        session=event.session,
        vid=event.vid,
        traits=tuple(context.get("traits", ())),
        inputs=dict(context.get("inputs", {})),
    )
    command = GoalCommand(goal=goal_code, value=event.value, time=event.occurred_at)
    now = timezone.now()
    for attempt in range(3):
        # the visitor's state read as a request's (its own event id is not looked up)
        plan = _plan_read(account, target, visitor, [command], now, read_events=False)
        writes = plan.writes
        result = _goal(plan, command, agents_done=done)
        kept = [c for c in (event.response or {}).get("rs", []) if c not in result.credited]
        result.credited = kept + result.credited
        if result.credited:
            result.status = reasons.STATUS_OK
        if result.err or dry_run:  # refused now (a time past retention): left as it is
            return result
        if not writes.events[0].credits and result.to_record() == event.response:
            return result
        try:
            replay_writes_save(writes=writes, event_pk=event.pk, response=result.to_record())
        except IntegrityError:  # a concurrent request credited the visitor first
            if attempt == 2:
                raise
            continue
        return result
    raise AssertionError("unreachable")  # pragma: no cover
