"""Executing one agent-api request's commands for one visitor: all of it, or nothing.

`visitor_commands_execute` is the one service the runtime calls. It reads the visitor's
state once, decides every command in order (selections through `agents.selection`,
goals through `goals.matching`), then writes new assignments, confirmations, goal
events and credits in bulk, inside one transaction. Concurrent requests are settled by
the database's unique constraints: a request that loses a race is run again from the
start, and then sees the winner's rows (a sticky repeat, a replay, `already_credited`).
"""

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents import reasons as sel
from agents.bucketing import random_number
from agents.selection import Action, Who, selection_decide
from goals import reasons
from goals.choices import GoalAcceptedFrom, GoalCounting, GoalTrigger
from goals.diagnostics import VID_NOT_ALLOWED, goal_outcomes_count
from goals.event_time import event_time_problem, event_time_shown
from goals.match_rate import Delay, goal_matches_count
from goals.matching import goal_match
from goals.models import ACCEPTED_FROM_LABEL, GOAL_VALUE_MAX
from reports.adaptive import period_roll
from targeting.conditions import Facts, condition_explain
from targeting.useragent import trait_log, ua_traits
from targets.choices import TargetKind, channel_of
from visitors.config import AccountConf, GoalConf, TargetConf, VariationConf
from visitors.links import aliases_link
from visitors.metrics import goal_outcomes_observe
from visitors.request import (
    AliasCommand,
    AliasResult,
    Command,
    ExecutionResult,
    GoalCommand,
    GoalResult,
    SelectionCommand,
    SelectionResult,
    Visitor,
    who_keys,
)
from visitors.selectors import AssignmentRow, SeenEvent, visitor_state_read
from visitors.writes import EventWrite, RequestWrites, request_writes_save

RACE_RETRIES = 3


def visitor_commands_execute(
    *,
    account: AccountConf,
    target: TargetConf,
    visitor: Visitor,
    commands: Sequence[Command],
    now: datetime | None = None,
    explain: bool = False,
) -> ExecutionResult:
    """Run `commands` for `visitor` arriving on `target`; return one result per command.

    Everything the commands record is written atomically, or nothing is. `explain` (debug)
    makes each decision name the leaves of the conditions that decided it.
    Raises django.db.DatabaseError when the database fails (the caller answers 503).
    """
    now = now or timezone.now()
    linking = any(isinstance(c, AliasCommand) for c in commands)
    for attempt in range(RACE_RETRIES):
        try:
            # links are rows of their own: with them, the request is one transaction
            with transaction.atomic() if linking else nullcontext():
                result = _attempt(
                    account, target, visitor, commands, now,
                    explain=explain, retry=attempt > 0, linking=linking,
                )  # fmt: skip
        except IntegrityError:
            # An event id already received, or a concurrent request that wrote the same
            # assignment, event id, once-credit or link first: decide again from what is
            # stored.
            if attempt == RACE_RETRIES - 1:
                raise
            continue
        results_note(account=account, target=target, results=result.items, now=now)
        return result
    raise AssertionError("unreachable")  # pragma: no cover


def _attempt(
    account: AccountConf,
    target: TargetConf,
    visitor: Visitor,
    commands: Sequence[Command],
    now: datetime,
    *,
    explain: bool,
    retry: bool,
    linking: bool,
) -> ExecutionResult:
    """Decide and write the request once. A request's links are made first, whatever their
    place among its commands, so that its selections and goals find the person."""
    aliases = _aliases_link(account, target, visitor, commands, now) if linking else {}
    # Event ids are looked up only after a write collided: a new id (the usual case)
    # costs no read, and a retried one is caught by the unique constraint.
    plan = _plan_read(account, target, visitor, commands, now, read_events=retry)
    plan.explain = explain
    result = ExecutionResult(
        items=[
            aliases[i] if isinstance(command, AliasCommand) else _decide(plan, command)
            for i, command in enumerate(commands)
        ]
    )
    request_writes_save(writes=plan.writes)
    return result


def _aliases_link(
    account: AccountConf,
    target: TargetConf,
    visitor: Visitor,
    commands: Sequence[Command],
    now: datetime,
) -> dict[int, AliasResult]:
    """The request's alias commands, by index: linked to its vid, or refused (a bot links
    nothing, SPEC §4b)."""
    indexed = [(i, c.alias) for i, c in enumerate(commands) if isinstance(c, AliasCommand)]
    if visitor.bot:
        return {i: AliasResult(alias, reasons.STATUS_NONE, detail="a bot's: nothing linked")
                for i, alias in indexed}  # fmt: skip
    made = aliases_link(
        account_id=account.id,
        target=target,
        asks=[(visitor.vid, alias) for _, alias in indexed],
        now=now,
    )
    return {i: result for (i, _), result in zip(indexed, made, strict=True)}


def vid_refused_count(*, account: AccountConf, goal_codes: Sequence[str]) -> None:
    """The goals of a request refused whole for its vid (a REST target that may not pass
    one, SPEC §4), counted in the goal diagnostics: those of the account's goals only."""
    outcomes = [(code, VID_NOT_ALLOWED) for code in goal_codes if code in account.goals]
    _outcomes_note(account=account, outcomes=outcomes, now=timezone.now())


def invalid_events_count(*, account: AccountConf, goal_codes: Sequence[str]) -> None:
    """A batch's events of the wrong shape, counted in the goal diagnostics (those that
    name one of the account's goals)."""
    outcomes = [(code, reasons.INVALID_EVENT) for code in goal_codes if code in account.goals]
    _outcomes_note(account=account, outcomes=outcomes, now=timezone.now())


def results_note(
    *, account: AccountConf, target: TargetConf, results: Sequence[object], now: datetime
) -> None:
    """Count what became of a request's goals: in the goal diagnostics, the match rate
    (REST targets) and the time to convert (goals.match_rate)."""
    goals = [r for r in results if isinstance(r, GoalResult)]
    if not goals:
        return
    outcomes = [(r.goal, outcome) for r in goals for outcome in r.outcomes()]
    _outcomes_note(account=account, outcomes=outcomes, now=now)
    rest = target.kind == TargetKind.REST
    goal_matches_count(
        account_id=account.id,
        target_code=target.code if rest else None,
        matches=[(r.goal, r.found) for r in goals if r.found is not None],
        delays=[(r.goal, d, r.happened_on or now.date()) for r in goals for d in r.delays],
        day=now.date(),
    )


def _outcomes_note(
    *, account: AccountConf, outcomes: Sequence[tuple[str, str]], now: datetime
) -> None:
    if outcomes:
        goal_outcomes_count(account_id=account.id, outcomes=outcomes, now=now)
        goal_outcomes_observe(outcome for _, outcome in outcomes)


@dataclass
class _Relevant:
    """What the request's one read must fetch for its commands."""

    agent_ids: set[int] = field(default_factory=set)
    goal_ids: set[int] = field(default_factory=set)
    every_goal_ids: set[int] = field(default_factory=set)
    event_keys: set[tuple[int, str]] = field(default_factory=set)
    reached_goal_ids: set[int] = field(default_factory=set)  # read by conditions
    conditions: bool = False  # some agent of the request has conditions to evaluate


def _relevant(account: AccountConf, commands: Sequence[Command]) -> _Relevant:
    found = _Relevant()
    agent_ids, goal_ids, every_goal_ids, event_keys = (
        found.agent_ids,
        found.goal_ids,
        found.every_goal_ids,
        found.event_keys,
    )
    for command in commands:
        if isinstance(command, SelectionCommand):
            agent = account.agents.get(command.agent)
            if agent is not None:
                agent_ids.add(agent.id)
                if agent.has_conditions:
                    found.conditions = True
                    agent_ids.update(agent.reads_agent_ids)
                    found.reached_goal_ids.update(agent.reads_goal_ids)
        elif isinstance(command, GoalCommand):
            goal = account.goals.get(command.goal)
            if goal is None:
                continue
            agent_ids.update(goal.agent_ids)
            goal_ids.add(goal.id)
            if goal.when_holds is not None:
                found.conditions = True
                agent_ids.update(goal.reads_agent_ids)
                found.reached_goal_ids.update(goal.reads_goal_ids)
            if goal.counting != GoalCounting.ONCE:
                every_goal_ids.add(goal.id)
            if command.event_id is not None:
                event_keys.add((goal.id, command.event_id))
    return found


@dataclass
class _Plan:
    """One request while its commands are decided: who, where, what the read found (kept
    up to date with what earlier commands of the request decided), and what to write."""

    account: AccountConf
    target: TargetConf
    visitor: Visitor
    now: datetime
    rows: list[AssignmentRow]
    by_identity: dict[tuple[int, str], AssignmentRow]
    seen_events: dict[tuple[int, str], SeenEvent]
    writes: RequestWrites
    reached: dict[int, datetime] = field(default_factory=dict)  # goal id -> last event
    conditions: bool = False
    explain: bool = False
    # a batch's (visitors.batch): goals credited to visitors by agent, as (agent id, goal
    # id, "s:session" or "v:vid"), read and added to across its events; None for a request
    # of one visitor, whose read folds this into each assignment's credited goals
    credited_by: set[tuple[int, int, str]] | None = None
    _who: Who | None = None

    def credited_to_visitor(self, agent_id: int, goal_id: int) -> bool:
        """Credited to this visitor in the agent by one of its own events (a batch's)."""
        ledger = self.credited_by
        return ledger is not None and any(
            (agent_id, goal_id, key) in ledger for key in self.visitor.lookup_keys()
        )

    def who(self) -> Who:
        """The visitor as selections see it, with the facts conditions read (built once,
        only when an agent of the request has conditions)."""
        if self._who is None:
            visitor = self.visitor
            facts = None
            if self.conditions:
                identity = visitor.identity
                facts = Facts(
                    target=self.target.code,
                    now=self.now,
                    random=lambda agent_code: random_number(
                        agent_code=agent_code, identity=identity
                    ),
                    inputs=visitor.inputs,
                    traits=visitor.trait_values(),
                    goals=_GoalsReached(self),
                    variations=_VariationsHeld(self),
                )
            self._who = Who(
                identity=visitor.identity,
                session=visitor.session,
                vid=visitor.vid,
                facts=facts,
                explain=self.explain,
            )
        return self._who

    def facts(self) -> Facts:
        """The facts conditions read (the request has conditions, so they were built)."""
        facts = self.who().facts
        if facts is None:
            raise AssertionError("facts are built for every request with conditions")
        return facts

    def mine_by_agent(self) -> dict[int, list[AssignmentRow]]:
        """The visitor's assignments (by session, or by vid or an id linked to it), as
        known so far, by agent."""
        visitor = self.visitor
        held: dict[int, list[AssignmentRow]] = {}
        for r in self.rows:
            if (
                r.session == visitor.session
                or r.by_person
                or (r.vid is not None and (r.vid == visitor.vid or r.vid in visitor.linked))
            ):
                held.setdefault(r.agent_id, []).append(r)
        return held

    def held(self, agent_id: int) -> AssignmentRow | None:
        """The assignment a selection of the agent keeps: the earliest of the visitor's own
        (by its identity) and its person's (made under its vid or an id linked to it, SPEC
        §4d): the first variation seen wins."""
        own = self.by_identity.get((agent_id, self.visitor.identity))
        held = [r for r in self.rows if r.agent_id == agent_id and r.by_person]
        held += [own] if own is not None else []
        return min(held, key=lambda r: r.created_at) if held else None

    def mine(self, agent_id: int) -> list[AssignmentRow]:
        """The visitor's assignments in an agent (by session, or by vid), as known so far."""
        return self.mine_by_agent().get(agent_id, [])


class _GoalsReached(Mapping[str, datetime]):
    """Goal code -> when this visitor last reached it (source `goal`), as the request's
    one read found it (goals sent by this request itself are not counted yet)."""

    def __init__(self, plan: _Plan) -> None:
        self._plan = plan

    def _codes(self) -> dict[str, datetime]:
        names = self._plan.account.goal_codes_by_id
        return {names[g]: when for g, when in self._plan.reached.items() if g in names}

    def __getitem__(self, code: str) -> datetime:
        return self._codes()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes())

    def __len__(self) -> int:
        return len(self._plan.reached)


class _VariationsHeld(Mapping[str, str]):
    """Agent code -> the variation this visitor holds there (source `variation`): the
    earliest of its assignments, those made by this request's earlier commands included."""

    def __init__(self, plan: _Plan) -> None:
        self._plan = plan

    def __getitem__(self, code: str) -> str:
        plan = self._plan
        agent = plan.account.agents.get(code)
        held = sorted(plan.mine(agent.id), key=lambda r: r.created_at) if agent else []
        if agent is None or not held:
            raise KeyError(code)
        return next(v.code for v in agent.variations if v.id == held[0].variation_id)

    def __iter__(self) -> Iterator[str]:
        return (code for code in self._plan.account.agents if code in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _plan_read(
    account: AccountConf,
    target: TargetConf,
    visitor: Visitor,
    commands: Sequence[Command],
    now: datetime,
    *,
    read_events: bool,
) -> _Plan:
    """Read the visitor's state once; nothing is written here."""
    relevant = _relevant(account, commands)
    state = visitor_state_read(
        account_id=account.id,
        agent_ids=relevant.agent_ids,
        session=visitor.session,
        vid=visitor.vid,
        goal_ids=relevant.goal_ids,
        every_goal_ids=relevant.every_goal_ids,
        event_keys=relevant.event_keys if read_events else (),
        event_channel=channel_of(target.kind),
        reached_goal_ids=relevant.reached_goal_ids,
    )
    rows = state.assignments
    return _Plan(
        account=account,
        target=target,
        visitor=visitor,
        now=now,
        rows=rows,
        by_identity={(r.agent_id, r.identity): r for r in rows},
        seen_events=dict(state.events),
        writes=RequestWrites(
            account_id=account.id,
            target_id=target.id,
            target_kind=target.kind,
            channel=channel_of(target.kind),
            session=visitor.session,
            vid=visitor.vid,
            traits=list(visitor.traits),
            now=now,
        ),
        reached=dict(state.reached),
        conditions=relevant.conditions,
    )


def _decide(plan: _Plan, command: SelectionCommand | GoalCommand) -> SelectionResult | GoalResult:
    if isinstance(command, SelectionCommand):
        return _select(plan, command)
    return _goal(plan, command)


def _select(plan: _Plan, command: SelectionCommand) -> SelectionResult:
    visitor = plan.visitor
    agent = plan.account.agents.get(command.agent)
    if agent is not None and agent.period_ends_at is not None and plan.now >= agent.period_ends_at:
        # an adaptive agent's period is over: the next one's shares, for the next requests
        period_roll(agent_id=agent.id, phase=agent.phase, now=plan.now)
    existing = plan.held(agent.id) if agent else None
    decision = selection_decide(
        agent=agent,
        agent_code=command.agent,
        target_id=plan.target.id,
        who=plan.who(),
        existing=existing,
        allow=command.allow,
        exclude=command.exclude,
        status=command.status,
        now=plan.now,
    )
    if decision.action is Action.NONE:
        result = SelectionResult(
            agent=command.agent, reason=decision.reason, detail=decision.detail
        )
        if decision.reason in (sel.NOT_ELIGIBLE, sel.OTHER_AGENT_IN_GROUP):
            result.log = f"{command.agent}: {decision.detail}"
        return result
    variation = cast(VariationConf | None, decision.variation)  # one of the snapshot's
    if agent is None or variation is None:
        raise AssertionError("every decision but NONE is of a known agent and names a variation")
    result = SelectionResult(
        agent=command.agent, variation=variation.code, md=dict(variation.md), detail=decision.detail
    )
    if decision.action in (Action.PAUSED, Action.QA):
        policy = sel.POLICY_PAUSED if decision.action is Action.PAUSED else sel.POLICY_FORCED
        result.policy, result.status = policy, sel.STATUS_OK
    elif visitor.bot:
        # the variation a person would get, recorded nowhere (SPEC §4b "Bots")
        result.policy, result.status = sel.POLICY_BOT, sel.STATUS_OK
        result.detail += "; a bot: nothing recorded"
    elif decision.action in (Action.NEW, Action.FORCED):
        forced = decision.action is Action.FORCED
        provisional = command.status == sel.STATUS_PROVISIONAL
        row = AssignmentRow(
            id=None,
            agent_id=agent.id,
            variation_id=variation.id,
            identity=visitor.identity,
            session=visitor.session,
            vid=visitor.vid,
            target_kind=plan.target.kind,
            created_at=plan.now,
            confirmed_at=None if provisional else plan.now,
            policy=sel.POLICY_FORCED if forced else sel.POLICY_RANDOM,
            phase=agent.phase,
        )
        plan.rows.append(row)
        plan.by_identity[(agent.id, visitor.identity)] = row
        plan.writes.new_rows.append(row)
        if not provisional:
            plan.writes.visitor_add(row)
        result.policy = row.policy
        result.status = sel.STATUS_PROVISIONAL if provisional else sel.STATUS_OK
        if forced:
            result.log = f"{command.agent}: {decision.detail}: {variation.code} (p={row.policy})"
    else:
        if existing is None:
            raise AssertionError("a sticky or confirmed decision keeps an existing assignment")
        if decision.action is Action.CONFIRM:
            existing.confirmed_at = plan.now
            if existing.id is None:  # made by this request: it counts here
                plan.writes.visitor_add(existing)
            elif existing not in plan.writes.confirmed_rows:  # counted by the write that wins
                plan.writes.confirmed_rows.append(existing)
        result.policy = sel.POLICY_STICKY
        result.status = sel.STATUS_OK if existing.confirmed_at else sel.STATUS_PROVISIONAL
        if (command.allow is not None and variation.code not in command.allow) or (
            variation.code in command.exclude
        ):
            result.warning = sel.ASSIGNMENT_KEPT
            result.detail = (
                f"the visitor is assigned {variation.code} already: kept, whatever c/x ask"
            )
    return result


def _goal_value(goal: GoalConf, command: GoalCommand) -> float | None:
    value = 1.0 if command.value is None else command.value
    if not math.isfinite(value) or not 0 <= value <= GOAL_VALUE_MAX:
        return None
    if goal.max_value is not None and value > goal.max_value:
        return goal.max_value
    return value


def _goal_accepted(plan: _Plan, command: GoalCommand) -> tuple[GoalConf, float] | GoalResult:
    """The goal and its value, or the goal item when the goal is refused whole (`err`)."""
    goal = plan.account.goals.get(command.goal)
    if goal is None:
        err, detail = reasons.UNKNOWN_GOAL, f"no goal {command.goal} in this account"
    elif not plan.target.is_express and goal.trigger != GoalTrigger.API:
        err = reasons.NOT_AN_API_GOAL
        detail = f"{goal.code} is triggered by page events; a REST target sends API goals only"
    elif plan.target.is_express and goal.accepted_from == GoalAcceptedFrom.SERVER:
        err = reasons.SERVER_ONLY_GOAL
        detail = (
            f"{goal.code} is accepted from servers only (“{ACCEPTED_FROM_LABEL}”): send it "
            "through a REST target"
        )
    else:
        value = _goal_value(goal, command)
        time_problem = command.time_error or (
            event_time_problem(
                command.time, now=plan.now, retention_days=plan.account.retention_days
            )
            if command.time is not None
            else None
        )
        if value is None:
            err = reasons.INVALID_VALUE
            detail = f"v must be a finite number from 0 to {GOAL_VALUE_MAX:,.0f}"
        elif time_problem:
            err, detail = reasons.INVALID_TIME, time_problem
        else:
            return goal, value
    return GoalResult(goal=command.goal, status=reasons.STATUS_ERR, err=err, detail=detail)


def _goal(
    plan: _Plan, command: GoalCommand, *, agents_done: frozenset[int] = frozenset()
) -> GoalResult:
    """Decide a goal command; `agents_done` (a replay of a stored event) are the agents it
    was already credited in, left as they are."""
    accepted = _goal_accepted(plan, command)
    if isinstance(accepted, GoalResult):
        return accepted
    goal, value = accepted
    visitor = plan.visitor
    if command.event_id is not None:
        first = plan.seen_events.get((goal.id, command.event_id))
        if first is not None:
            if first.same_visitor(session=visitor.session, vid=visitor.vid):
                return GoalResult.from_record(command.goal, first.response)
            return GoalResult(
                goal=command.goal,
                status=reasons.STATUS_ERR,
                err=reasons.EVENT_ID_TAKEN,
                detail=f"event id {command.event_id} was already sent by another visitor",
            )
    if visitor.bot:  # credits nothing, records nothing (SPEC §4b "Bots")
        return GoalResult(
            goal=command.goal,
            status=reasons.STATUS_NONE,
            bot=True,
            detail="the User-Agent is a bot's: nothing credited or recorded",
        )
    at = command.time or plan.now  # when it happened: every rule below reads this time
    result = GoalResult(goal=command.goal, status=reasons.STATUS_NONE)
    if not plan.target.is_express:  # a server's goal: the item says which time was used
        result.time = event_time_shown(at)
    event = EventWrite(
        goal_id=goal.id, event_id=command.event_id, value=value, response={}, occurred_at=at
    )
    if plan.writes.batch:
        event.session, event.vid = visitor.session, visitor.vid
    condition_false = ""  # why the goal's condition is false, when it is
    if goal.when_holds is not None:
        result.context = {"inputs": dict(visitor.inputs), "traits": list(visitor.traits)}
        facts = plan.facts() if command.time is None else replace(plan.facts(), now=at)
        if not goal.when_holds(facts, ""):
            _, condition_false = condition_explain(goal.when, facts, "")
    held = plan.mine_by_agent()
    for agent_id in goal.agent_ids:
        mine = held.get(agent_id)
        if not mine or agent_id in agents_done:  # no assignment of the visitor: nothing
            continue
        agent = plan.account.agents_by_id[agent_id]
        already_credited = any(
            goal.id in r.credited_goal_ids for r in mine
        ) or plan.credited_to_visitor(agent_id, goal.id)
        match = goal_match(
            goal=goal,
            target_kind=plan.target.kind,
            agent_running=agent.running_at(at, now=command.time is None),
            assignments=mine,
            already_credited=already_credited,
            now=at,
        )
        if match is None:
            continue
        variation = next(v for v in agent.variations if v.id == match.assignment.variation_id)
        if match.credited and condition_false:
            result.skipped.append(
                {"a": agent.code, "c": variation.code, "reason": reasons.GOAL_CONDITION_FALSE}
            )
        elif match.credited:
            result.credited.append({"a": agent.code, "c": variation.code, "v": event.value})
            _delay_note(result, match.assignment, at, inside=True)
            # The first credit makes the visitor a conversion; later ones (counting
            # "every") add value only.
            plan.writes.credit_add(
                event=event,
                assignment=match.assignment,
                agent_id=agent.id,
                variation_id=variation.id,
                first=not already_credited,
            )
            if plan.credited_by is not None:
                plan.credited_by.update(
                    (agent.id, goal.id, k) for k in who_keys(visitor.session, visitor.vid)
                )
        else:
            result.skipped.append({"a": agent.code, "c": variation.code, "reason": match.reason})
            if match.reason == reasons.OUTSIDE_WINDOW:
                _delay_note(result, match.assignment, at, inside=False)
    if result.credited:
        result.status = reasons.STATUS_OK
    if result.credited:
        result.detail = f"credited to {', '.join(c['a'] + '/' + c['c'] for c in result.credited)}"
    elif result.skipped:
        result.detail = "no assignment of this visitor was credited"
        if condition_false:
            result.detail += f": the goal's condition is false ({condition_false})"
    else:
        result.detail = (
            f"no selection was found for this session{' or vid' if visitor.vid else ''} in "
            f"the agents that track {goal.code}: the page must pass the same vid"
        )
    if command.event_id is not None:
        plan.seen_events[(goal.id, command.event_id)] = SeenEvent(
            result.to_record(), visitor.session, visitor.vid
        )
    event.response = result.to_record()
    plan.writes.events.append(event)
    return result


def _delay_note(
    result: GoalResult, assignment: AssignmentRow, at: datetime, *, inside: bool
) -> None:
    """Note for the time to convert how long after `assignment`'s confirmation the goal
    came (at `at`)."""
    if assignment.confirmed_at is not None:
        hours = (at - assignment.confirmed_at).total_seconds() / 3600
        result.delays.append(Delay(hours, inside))
        result.happened_on = at.date()


@dataclass
class Explanation:
    """A selection decided and explained, nothing recorded (SPEC §4b `explain`)."""

    result: SelectionResult
    log: list[str]
    traits: list[str]
    notes: list[str]

    def as_json(self) -> dict[str, Any]:
        result = self.result
        selection = None
        if result.selected:
            selection = {
                "a": result.agent,
                "c": result.variation,
                "p": result.policy,
                "s": result.status,
                "md": result.md,
            }
        return {
            "agent": result.agent,
            "selection": selection,
            "reason": result.reason,
            "detail": result.detail,
            "log": self.log,
            "traits": self.traits,
            "notes": self.notes,
        }


def selection_explain(
    *,
    account: AccountConf,
    target: TargetConf,
    agent_code: str,
    session: str,
    vid: str | None = None,
    inputs: Mapping[str, str] | None = None,
    traits: tuple[str, ...] = (),
    ua: str | None = None,
    now: datetime | None = None,
) -> Explanation:
    """What a selection of `agent_code` would answer for this visitor on `target`, decided
    exactly as `visitor_commands_execute` decides it (the same one read, the same rules),
    each leaf that decided named in its log line; nothing is recorded. Its pieces are
    checked already (the caller's form); a vid the target may not pass is ignored, noted."""
    notes = []
    if vid is not None and not target.allow_external_vid:
        notes.append(f"vid ignored: {target.code} does not allow passing it")
        vid = None
    derived, bot = ua_traits(ua)
    visitor = Visitor(
        session=session, vid=vid, traits=traits + derived, inputs=dict(inputs or {}), bot=bot
    )
    command = SelectionCommand(agent=agent_code)
    plan = _plan_read(account, target, visitor, [command], now or timezone.now(), read_events=False)
    plan.explain = True
    result = _select(plan, command)  # its writes are dropped, never saved
    return Explanation(
        result=result,
        log=trait_log(derived) + ExecutionResult(items=[result]).log,
        traits=list(visitor.traits),
        notes=notes,
    )


def goal_explain(
    *,
    account: AccountConf,
    target: TargetConf,
    goal_code: str,
    session: str,
    vid: str | None = None,
    value: float | None = None,
    time: datetime | None = None,
    inputs: Mapping[str, str] | None = None,
    traits: tuple[str, ...] = (),
    now: datetime | None = None,
    time_error: str = "",
) -> tuple[GoalResult, list[str], list[str]]:
    """The goal item that sending this goal now would answer (SPEC §4c "Explaining a
    goal"), decided exactly as `visitor_commands_execute` decides it, with a log that
    names, per agent tracking the goal, the assignment found (or not) and the rule that
    decided; nothing is recorded. Returns (the item, the log, notes)."""
    notes = []
    if vid is not None and not target.allow_external_vid:
        notes.append(f"vid ignored: {target.code} does not allow passing it")
        if not target.is_express:
            notes.append("sent to this REST target with a vid, the request would be refused (403)")
        vid = None
    if (time is not None or time_error) and target.is_express:
        notes.append("t ignored on an Express target: the arrival time is used")
        time, time_error = None, ""
    visitor = Visitor(session=session, vid=vid, traits=traits, inputs=dict(inputs or {}))
    command = GoalCommand(goal=goal_code, value=value, time=time, time_error=time_error)
    plan = _plan_read(account, target, visitor, [command], now or timezone.now(), read_events=False)
    result = _goal(plan, command)  # its writes are dropped, never saved
    goal = account.goals.get(goal_code)
    log = []
    if goal is not None and not result.err:
        outcome = {c["a"]: "credited" for c in result.credited}
        outcome.update({s["a"]: s["reason"] for s in result.skipped})
        for agent_id in goal.agent_ids:
            agent = account.agents_by_id[agent_id]
            mine = sorted(plan.mine(agent_id), key=lambda r: r.confirmed_at or r.created_at)
            if not mine:
                log.append(f"{agent.code}: no assignment of this session or vid")
                continue
            found = "; ".join(
                f"{_variation_code(agent, r.variation_id)} made {r.created_at:%Y-%m-%d %H:%M:%S}"
                f" UTC by {_found_by(r, vid)} on a "
                f"{r.target_kind} target" + ("" if r.confirmed_at else " (provisional)")
                for r in mine
            )
            decided = outcome.get(agent.code, "")
            words = "credited" if decided == "credited" else reasons.WORDS.get(decided, decided)
            log.append(f"{agent.code}: {found}: {words}")
    log.append(ExecutionResult(items=[result]).log[0])
    return result, log, notes


def _found_by(row: AssignmentRow, vid: str | None) -> str:
    """How the goal's visitor holds `row`: by its vid, an id linked to it, or its session."""
    if vid and row.vid == vid:
        return "vid"
    return f"linked id {row.vid}" if row.by_person else "session"


def _variation_code(agent: Any, variation_id: int) -> str:
    return next((v.code for v in agent.variations if v.id == variation_id), "?")
