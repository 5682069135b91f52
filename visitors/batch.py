"""Goal events of many visitors at once (SPEC §4c "Batch endpoint"): a back office's
batch, or an import's slice of one.

`goal_events_record` judges each event exactly as the same goal command sent alone with
its session, vid and time would be (the same `_goal` of `visitors.execution`: the same
credits, skips, replays, diagnostics and report counts), in order, so that a later event
sees what an earlier one of the same visitor credited. What it costs does not grow in
round trips with the number of events: one read of the ids linked to its vids
(`visitors.links.person_ids`), one read of every visitor's state (`visitors_state_read`,
at most four queries), one write of everything (`request_writes_save`: one statement on
PostgreSQL), all of it or nothing. Events with an `alias` are linked first, in a few more
statements (`visitors.links.links_make`), in the same transaction.
"""

import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.codes import BAD_TEXT_RULE, text_ok
from goals import reasons
from goals.diagnostics import VID_NOT_ALLOWED
from goals.event_time import T_RULE, event_time_parse
from targeting.inputs import inputs_problem
from targeting.traits import TRAITS_RULE, traits_parse
from targets.choices import channel_of
from targets.models import ALLOW_EXTERNAL_VID_LABEL
from visitors.config import AccountConf, TargetConf
from visitors.execution import RACE_RETRIES, _goal, _Plan, _Relevant, _relevant, results_note
from visitors.links import aliases_link, person_ids
from visitors.request import (
    AliasResult,
    GoalCommand,
    GoalResult,
    Visitor,
    printable_id,
    vid_problem,
    who_keys,
)
from visitors.selectors import AssignmentRow, visitors_state_read
from visitors.writes import RequestWrites, request_writes_save


@dataclass(frozen=True)
class BatchEvent:
    """One event of a batch: its visitor (session "" when it names a vid alone), its goal
    command, and the id to link to its vid first, if any (SPEC §4d)."""

    visitor: Visitor
    command: GoalCommand
    alias: str | None = None


EVENT_KEYS = frozenset({"session", "vid", "g", "v", "id", "t", "traits", "inputs", "alias"})


@dataclass(frozen=True)
class BadEvent:
    """An event of the wrong shape: its item's `invalid_event`, `detail` naming the field."""

    goal: str
    detail: str


def event_of(raw: Any) -> BatchEvent | BadEvent:
    """One event of a batch or of an import's row, checked: a `BatchEvent` to judge, or a
    `BadEvent` (its item's `invalid_event`) naming the field at fault."""
    if not isinstance(raw, dict):
        return BadEvent("", 'an event is an object {"g": ..., "session" or "vid": ...}')
    goal = raw.get("g")
    shown_goal = goal if isinstance(goal, str) and text_ok(goal) else ""
    unknown = sorted(str(k) for k in raw if k not in EVENT_KEYS)
    if unknown:
        return BadEvent(shown_goal, f"{unknown[0][:40]!r}: unknown field")
    if not isinstance(goal, str) or not goal or not text_ok(goal):
        return BadEvent(shown_goal, f'"g": a non-empty string of {BAD_TEXT_RULE}')
    session, vid = raw.get("session"), raw.get("vid")
    if session is None and vid is None:
        return BadEvent(goal, '"session" or "vid": at least one is required')
    if session is not None and (not isinstance(session, str) or not printable_id(session)):
        return BadEvent(goal, '"session": 1 to 128 printable characters')
    if vid is not None and (not isinstance(vid, str) or vid_problem(vid)):
        why = vid_problem(vid) if isinstance(vid, str) else "it is not a string"
        return BadEvent(goal, f'"vid": refused: {why}')
    alias = raw.get("alias")
    if alias is not None and (not isinstance(alias, str) or not text_ok(alias)):
        return BadEvent(goal, f'"alias": a visitor id, {BAD_TEXT_RULE}')
    value = raw.get("v")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        return BadEvent(goal, '"v": a number')
    event_id = raw.get("id")
    if event_id is not None and (not isinstance(event_id, str) or not printable_id(event_id)):
        return BadEvent(goal, '"id": 1 to 128 printable characters')
    t = raw.get("t")
    if t is not None and (isinstance(t, bool) or not isinstance(t, str | int | float)):
        return BadEvent(goal, f'"t": {T_RULE}')
    traits: tuple[str, ...] = ()
    if raw.get("traits") is not None:
        parsed = traits_parse(raw["traits"]) if isinstance(raw["traits"], str) else None
        if parsed is None:
            return BadEvent(goal, f'"traits": {TRAITS_RULE}')
        traits = parsed
    inputs = raw.get("inputs")
    if inputs is not None and inputs != {}:
        problem = inputs_problem(inputs)
        if problem is None and not all(
            text_ok(k) and (not isinstance(v, str) or text_ok(v)) for k, v in inputs.items()
        ):
            problem = f'"inputs" must hold {BAD_TEXT_RULE}.'
        if problem is not None:
            return BadEvent(goal, problem)
    at = event_time_parse(t) if t is not None else None
    try:
        v = None if value is None else float(value)
    except OverflowError:
        v = math.inf  # the item's invalid_value
    return BatchEvent(
        visitor=Visitor(
            session=session or "",
            vid=vid,
            traits=traits,
            inputs=MappingProxyType(dict(inputs or {})),
        ),
        command=GoalCommand(
            goal=goal,
            value=v,
            event_id=event_id,
            time=at,
            time_error="" if t is None or at is not None else f"t must be {T_RULE}",
        ),
        alias=alias,
    )


def goal_events_record(
    *,
    account: AccountConf,
    target: TargetConf,
    events: Sequence[BatchEvent],
    now: datetime | None = None,
    dry_run: bool = False,
) -> list[GoalResult]:
    """Judge and record `events` arriving on `target` (a REST target); one result each,
    in order. All recorded, or nothing (`dry_run`: judged, nothing recorded).
    Raises django.db.DatabaseError when the database fails (the caller answers 503)."""
    now = now or timezone.now()
    relevant = _relevant(account, [event.command for event in events])
    linking = any(e.alias is not None for e in events)
    for attempt in range(RACE_RETRIES):
        try:
            # links are rows of their own: with them the batch is one transaction, and a
            # dry run makes them to judge its events, then rolls them back
            with transaction.atomic() if linking else nullcontext():
                results = _attempt(account, target, events, relevant, now, dry_run=dry_run)
                if dry_run and linking:
                    transaction.set_rollback(True)
        except IntegrityError:  # a concurrent request won a race: judge again from the data
            if attempt == RACE_RETRIES - 1:
                raise
            continue
        if not dry_run:
            results_note(account=account, target=target, results=results, now=now)
        return results
    raise AssertionError("unreachable")  # pragma: no cover


def _attempt(
    account: AccountConf,
    target: TargetConf,
    events: Sequence[BatchEvent],
    relevant: _Relevant,
    now: datetime,
    *,
    dry_run: bool,
) -> list[GoalResult]:
    """Judge the batch once, and write it unless `dry_run`. Its links are made first (all
    of them, before any event is judged); then one read finds the ids of each vid's
    person, and the state read finds the assignments made under any of them."""
    links = _aliases_link(account, target, events, now)
    vids = {e.visitor.vid for e in events if e.visitor.vid} if target.allow_external_vid else set()
    linked = person_ids(account_id=account.id, vids=vids) if vids else {}
    visitors = [
        replace(e.visitor, linked=linked[e.visitor.vid]) if e.visitor.vid in linked else e.visitor
        for e in events
    ]
    state = visitors_state_read(
        account_id=account.id,
        agent_ids=relevant.agent_ids,
        sessions=(v.session for v in visitors),
        vids={i for v in visitors if v.vid for i in (v.vid, *v.linked)},
        goal_ids=relevant.goal_ids,
        event_keys=relevant.event_keys,  # read first: a batch sent again is the usual retry
        event_channel=channel_of(target.kind),
        reached_goal_ids=relevant.reached_goal_ids,
    )
    by_key: dict[str, list[AssignmentRow]] = {}
    for row in state.assignments:
        for key in who_keys(row.session, row.vid):
            by_key.setdefault(key, []).append(row)
    writes = RequestWrites(
        account_id=account.id,
        target_id=target.id,
        target_kind=target.kind,
        channel=channel_of(target.kind),
        session="",
        vid=None,
        traits=[],
        now=now,
        batch=True,
    )
    seen = dict(state.events)
    results = []
    for i, (event, visitor) in enumerate(zip(events, visitors, strict=True)):
        if visitor.vid and not target.allow_external_vid:
            results.append(_vid_refused(event, target))
            continue
        keys = visitor.lookup_keys()
        rows = list({id(r): r for key in keys for r in by_key.get(key, ())}.values())
        reached: dict[int, datetime] = {}
        for key in keys:
            for goal_id, at in state.reached.get(key, {}).items():
                reached[goal_id] = max(at, reached.get(goal_id, at))
        plan = _Plan(
            account=account,
            target=target,
            visitor=visitor,
            now=now,
            rows=rows,
            by_identity={},  # goals make no assignments
            seen_events=seen,
            writes=writes,
            reached=reached,
            conditions=relevant.conditions,
            credited_by=state.credited_by,
        )
        result = _goal(plan, event.command)
        result.link = links.get(i)
        results.append(result)
    if not dry_run:
        request_writes_save(writes=writes)
    return results


def _aliases_link(
    account: AccountConf, target: TargetConf, events: Sequence[BatchEvent], now: datetime
) -> dict[int, AliasResult]:
    """The batch's aliases, by event index: linked to their event's vid, or refused."""
    allowed = target.allow_external_vid  # else the event's vid is refused, and no alias
    indexed = [
        (i, (e.visitor.vid if allowed else None, e.alias))
        for i, e in enumerate(events)
        if e.alias is not None
    ]
    made = aliases_link(
        account_id=account.id, target=target, asks=[ask for _, ask in indexed], now=now
    )
    return {i: result for (i, _), result in zip(indexed, made, strict=True)}


def _vid_refused(event: BatchEvent, target: TargetConf) -> GoalResult:
    return GoalResult(
        goal=event.command.goal,
        status=reasons.STATUS_ERR,
        err=VID_NOT_ALLOWED,
        detail=f"deploy target {target.code} does not allow passing a vid: turn on "
        f"“{ALLOW_EXTERNAL_VID_LABEL}” on it",
    )
