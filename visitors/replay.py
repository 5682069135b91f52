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
from targets.choices import channel_of
from visitors.config import AccountConf, TargetConf
from visitors.execution import _goal, _Plan, _relevant
from visitors.models import Credit, GoalEvent, GoalReplay
from visitors.request import GoalCommand, GoalResult, Visitor
from visitors.selectors import visitor_state_read
from visitors.writes import RequestWrites, replay_writes_save

# what a fixed setting can change; `goal_condition_false` is judged again only by the
# condition's own data, which a goal event does not keep
REPLAYABLE = (
    reasons.REST_SEND_NOT_ENABLED,
    reasons.OUTSIDE_WINDOW,
    reasons.AGENT_NOT_RUNNING,
    reasons.PROVISIONAL,
    NO_SELECTION,
)


@dataclass
class ReplayCounts:
    events: int = 0  # judged again
    credited: int = 0  # events that gained at least one credit
    credits: int = 0  # credits made
    before: Counter[str] = field(default_factory=Counter)  # reasons, as first answered
    after: Counter[str] = field(default_factory=Counter)  # reasons, as judged now


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
    `replay_reasons` (in [since, until) of their own time); credit what matches now."""
    wanted = set(replay_reasons)
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
        found = [r for r in _reasons_of(event.response or {}) if r in wanted]
        target = targets.get(event.target_id or -1)
        if not found or target is None or event.goal_id not in codes:
            continue
        counts.events += 1
        counts.before.update(_reasons_of(event.response or {}))
        result = _judge(account, target, event, codes[event.goal_id], dry_run=dry_run)
        new = [c for c in result.credited if c not in (event.response or {}).get("rs", [])]
        counts.credits += len(new)
        counts.credited += int(bool(new))
        counts.after.update(_reasons_of(result.to_record()))
    return counts


def _judge(
    account: AccountConf, target: TargetConf, event: GoalEvent, goal_code: str, *, dry_run: bool
) -> GoalResult:
    done = frozenset(Credit.objects.filter(event_id=event.pk).values_list("agent_id", flat=True))
    visitor = Visitor(session=event.session, vid=event.vid)
    command = GoalCommand(goal=goal_code, value=event.value, time=event.occurred_at)
    now = timezone.now()
    for attempt in range(3):
        relevant = _relevant(account, [command])
        state = visitor_state_read(
            agent_ids=relevant.agent_ids, session=visitor.session, vid=visitor.vid,
            goal_ids=relevant.goal_ids, every_goal_ids=relevant.every_goal_ids,
            reached_goal_ids=relevant.reached_goal_ids,
        )  # fmt: skip
        writes = RequestWrites(
            account_id=account.id, target_id=target.id, target_kind=target.kind,
            channel=channel_of(target.kind), session=visitor.session, vid=visitor.vid,
            traits=[], now=now,
        )  # fmt: skip
        plan = _Plan(
            account=account, target=target, visitor=visitor, now=now,
            rows=state.assignments, by_identity={}, seen_events={}, writes=writes,
            reached=dict(state.reached), conditions=relevant.conditions,
        )  # fmt: skip
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


def replay_run(
    *,
    account: AccountConf,
    goal_code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    replay_reasons: Iterable[str] = REPLAYABLE,
    dry_run: bool = False,
) -> ReplayCounts:
    """`goal_events_replay`, kept as a `GoalReplay` (in the audit log, with who ran it)
    unless it is a dry run."""
    chosen = list(replay_reasons)
    counts = goal_events_replay(
        account=account, goal_code=goal_code, since=since, until=until,
        replay_reasons=chosen, dry_run=dry_run,
    )  # fmt: skip
    if not dry_run:
        GoalReplay.objects.create(
            account_id=account.id, goal_code=goal_code or "", reasons=",".join(chosen)[:300],
            since=since, until=until, events=counts.events, credited=counts.credited,
            credits=counts.credits,
        )  # fmt: skip
    return counts
