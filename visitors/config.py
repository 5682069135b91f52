"""An account's configuration as the agent-api reads it: immutable, cached in-process.

Loading an account costs a handful of queries; afterwards the hot path reads targets,
agents and goals from memory. Every change of an account's configuration raises its
`ConfigVersion` in the same transaction, and drops this process's snapshots at once (see
`apps.py`). Other processes read the version (one indexed row) when a snapshot is older
than `CONFIG_CHECK_SECONDS` (0.5 s), and load the snapshot again when it moved: every
server serves a change within a second. A snapshot is loaded again after
`CONFIG_CACHE_TTL_SECONDS` whatever the version says.
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F

from accounts.codes import account_code_well_formed
from accounts.models import RETENTION_DEFAULT_DAYS, Account
from agents.choices import Allocation
from agents.models import Agent, AgentPhase, AgentRun, AgentStatus, GroupMember
from agents.runs import Period, running_at
from agents.selection import schedule_holds
from goals.models import Goal
from targeting.conditions import (
    GOAL_SOURCES,
    SOURCE_GOAL,
    SOURCE_VARIATION,
    ConditionError,
    Predicate,
    condition_check,
    condition_compile,
    names_used,
)
from targeting.rules import agent_targeting_check
from targets.models import DeployTarget, TargetKind
from visitors.models import ConfigVersion

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetConf:
    id: int
    code: str
    kind: str
    api_key: str
    enabled: bool
    allow_external_vid: bool
    allowed_origins: tuple[str, ...]
    allow_linking: bool = False  # Express targets: the alias command (SPEC §4d)

    @property
    def is_express(self) -> bool:
        return self.kind == TargetKind.EXPRESS


@dataclass(frozen=True)
class VariationConf:
    id: int
    code: str
    weight: float
    md: MappingProxyType[str, str]


@dataclass(frozen=True)
class RuleConf:
    name: str
    when: Any  # the condition as saved (for explanations), None: always
    holds: Predicate | None  # compiled from `when`
    variation: VariationConf


@dataclass(frozen=True)
class GroupMemberConf:
    agent_id: int
    agent_code: str
    weight: float


@dataclass(frozen=True)
class GroupConf:
    code: str
    members: tuple[GroupMemberConf, ...]  # all of them, whatever their status


@dataclass(frozen=True)
class AgentConf:
    id: int
    code: str
    status: str
    variations: tuple[VariationConf, ...]
    paused_variation: VariationConf
    target_ids: frozenset[int]
    goal_ids: frozenset[int]
    eligibility: Any = None  # the condition as saved, None: everyone
    eligible: Predicate | None = None  # compiled from `eligibility`
    rules: tuple[RuleConf, ...] = ()
    qa: MappingProxyType[tuple[str, str], VariationConf] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # what its conditions read of the visitor's state, fetched by the request's one read
    reads_agent_ids: frozenset[int] = frozenset()
    reads_goal_ids: frozenset[int] = frozenset()
    broken: str = ""  # targeting saved that no longer checks: nobody is eligible
    group: GroupConf | None = None  # its mutually exclusive group
    runs: tuple[Period, ...] = ()  # the periods in which it ran (agents.runs)
    starts_at: datetime | None = None  # its schedule (SPEC §6b): it runs only between
    ends_at: datetime | None = None
    phase: int = 1  # new assignments are recorded in it (SPEC §4e)
    # an adaptive agent's weights are its period's shares, until this (running agents)
    period_ends_at: datetime | None = None

    def running_at(self, at: datetime, *, now: bool) -> bool:
        """Whether it ran when a goal happened at `at`: by its status when the goal is
        sent as it happens (`now`), else by the periods in which it ran; inside its
        schedule either way."""
        if not schedule_holds(self.starts_at, self.ends_at, at):
            return False
        return self.status == AgentStatus.RUNNING if now else running_at(self.runs, at)

    @property
    def has_conditions(self) -> bool:
        return self.eligible is not None or bool(self.rules) or bool(self.broken)


@dataclass(frozen=True)
class GoalConf:
    id: int
    code: str
    trigger: str
    rest_send: bool
    counting: str
    accepted_from: str
    max_value: float | None
    window_hours: int
    agent_ids: tuple[int, ...]
    when: Any = None  # the condition as saved, None: always
    when_holds: Predicate | None = None  # compiled from `when`
    reads_agent_ids: frozenset[int] = frozenset()
    reads_goal_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class AccountConf:
    id: int
    code: str
    version: int
    window_hours: int
    targets: tuple[TargetConf, ...]
    retention_days: int = RETENTION_DEFAULT_DAYS
    agents: MappingProxyType[str, AgentConf] = field(default_factory=lambda: MappingProxyType({}))
    goals: MappingProxyType[str, GoalConf] = field(default_factory=lambda: MappingProxyType({}))
    agents_by_id: MappingProxyType[int, AgentConf] = field(
        default_factory=lambda: MappingProxyType({})
    )
    goal_codes_by_id: MappingProxyType[int, str] = field(
        default_factory=lambda: MappingProxyType({})
    )


def config_version_bump(*, account_id: int) -> None:
    """Raise the configuration version of an account (call it in the change's transaction)."""
    table = ConfigVersion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (account_id, version) VALUES (%s, 1) "  # noqa: S608 - a table name
            f"ON CONFLICT (account_id) DO UPDATE SET version = {table}.version + 1",
            [account_id],
        )


def config_version(*, account_id: int) -> int:
    """The configuration version of an account (0 before its first change)."""
    found = ConfigVersion.objects.filter(account_id=account_id).values_list("version", flat=True)
    return next(iter(found), 0)


def account_conf_load(*, code: str) -> AccountConf | None:
    """Read an account's whole runtime configuration from the database (None if unknown).

    Its version is read first, so a change saved while it loads is seen at the next check.
    """
    account = Account.objects.filter(code=code).first()
    if account is None:
        return None
    version = config_version(account_id=account.pk)
    targets = tuple(
        TargetConf(
            id=t.pk,
            code=t.code,
            kind=t.kind,
            api_key=t.api_key,
            enabled=t.enabled,
            allow_external_vid=t.allow_external_vid,
            allow_linking=t.allow_linking,
            allowed_origins=tuple(t.allowed_origins or ()),
        )
        for t in DeployTarget.objects.filter(account=account)
    )
    agents: dict[str, AgentConf] = {}
    agent_rows = list(
        Agent.objects.filter(account=account).prefetch_related("variations", "targets", "goals")
    )
    goal_rows = list(Goal.objects.filter(account=account))
    agent_ids = {a.code: a.pk for a in agent_rows}
    goal_ids = {g.code: g.pk for g in goal_rows}
    groups = _groups_conf(account, {a.pk: a.code for a in agent_rows})
    runs: dict[int, list[Period]] = {}
    for agent_id, started, ended in AgentRun.objects.filter(agent__account=account).values_list(
        "agent_id", "started_at", "ended_at"
    ):
        runs.setdefault(agent_id, []).append((started, ended))
    shares = {  # adaptive agents' current phases: their shares, and when they began
        p.agent_id: p
        for p in AgentPhase.objects.filter(
            agent__account=account, agent__allocation=Allocation.ADAPTIVE, number=F("agent__phase")
        )
    }
    period = timedelta(minutes=account.adaptive_period_minutes)
    for agent in agent_rows:
        variations = list(agent.variations.all())  # ordered by position
        current = shares.get(agent.pk) if agent.allocation == Allocation.ADAPTIVE else None
        if not variations:
            continue  # an agent without variations cannot select; treated as unknown
        md_keys = sorted({k for v in variations for k in (v.metadata or {})})
        confs = tuple(
            VariationConf(
                id=v.pk,
                code=v.code,
                weight=float(v.weight if current is None else current.weights.get(v.code, 0.0)),
                md=MappingProxyType({k: str((v.metadata or {}).get(k, "")) for k in md_keys}),
            )
            for v in variations
        )
        paused = next((c for c in confs if c.id == agent.paused_variation_id), confs[0])
        agents[agent.code] = AgentConf(
            id=agent.pk,
            code=agent.code,
            status=agent.status,
            variations=confs,
            paused_variation=paused,
            target_ids=frozenset(t.pk for t in agent.targets.all()),
            goal_ids=frozenset(g.pk for g in agent.goals.all()),
            group=groups.get(agent.pk),
            runs=tuple(runs.get(agent.pk, ())),
            starts_at=agent.starts_at,
            ends_at=agent.ends_at,
            phase=agent.phase,
            period_ends_at=(
                current.started_at + period
                if current is not None and agent.status == AgentStatus.RUNNING
                else None
            ),
            **_targeting_conf(agent, confs, agent_ids=agent_ids, goal_ids=goal_ids),
        )
    goals = {
        g.code: GoalConf(
            id=g.pk,
            code=g.code,
            trigger=g.trigger,
            rest_send=g.rest_send,
            counting=g.counting,
            accepted_from=g.accepted_from,
            max_value=g.max_value,
            window_hours=g.attribution_window_hours or account.attribution_window_hours,
            agent_ids=tuple(sorted(a.id for a in agents.values() if g.pk in a.goal_ids)),
            **_goal_condition_conf(g.when, agent_ids=agent_ids, goal_ids=goal_ids),
        )
        for g in goal_rows
    }
    return AccountConf(
        id=account.pk,
        code=account.code,
        version=version,
        window_hours=account.attribution_window_hours,
        targets=targets,
        retention_days=account.retention_days,
        agents=MappingProxyType(agents),
        goals=MappingProxyType(goals),
        agents_by_id=MappingProxyType({a.id: a for a in agents.values()}),
        goal_codes_by_id=MappingProxyType({g.pk: g.code for g in goal_rows}),
    )


def _groups_conf(account: Account, agent_codes: dict[int, str]) -> dict[int, GroupConf]:
    """Agent id -> its group, with every member (the slots are a hash over all of them)."""
    members: dict[str, list[GroupMember]] = {}
    rows = GroupMember.objects.filter(group__account=account).select_related("group")
    for member in rows.order_by("group__code", "position", "id"):
        members.setdefault(member.group.code, []).append(member)
    found: dict[int, GroupConf] = {}
    for code, group_members in members.items():
        conf = GroupConf(
            code=code,
            members=tuple(
                GroupMemberConf(m.agent_id, agent_codes[m.agent_id], float(m.weight))
                for m in group_members
                if m.agent_id in agent_codes
            ),
        )
        for member_conf in conf.members:
            found[member_conf.agent_id] = conf
    return found


def _goal_condition_conf(
    when: Any, *, agent_ids: dict[str, int], goal_ids: dict[str, int]
) -> dict[str, Any]:
    try:
        condition_check(when, path="when", sources=GOAL_SOURCES)
    except ConditionError as exc:  # saved before a check existed: credited as without one
        logger.warning("goal condition does not check, ignored: %s", exc)
        return {}
    return {
        "when": when,
        "when_holds": condition_compile(when),
        "reads_agent_ids": frozenset(
            agent_ids[c] for c in names_used(when, SOURCE_VARIATION) if c in agent_ids
        ),
        "reads_goal_ids": frozenset(
            goal_ids[c] for c in names_used(when, SOURCE_GOAL) if c in goal_ids
        ),
    }


def _targeting_conf(
    agent: Agent,
    variations: tuple[VariationConf, ...],
    *,
    agent_ids: dict[str, int],
    goal_ids: dict[str, int],
) -> dict[str, Any]:
    """An agent's eligibility, rules and QA overrides, compiled once per snapshot."""
    by_code = {v.code: v for v in variations}
    try:  # checked when saved; checked again, since evaluation must never fail
        agent_targeting_check(
            eligibility=agent.eligibility,
            rules=agent.rules,
            qa=agent.qa,
            variation_codes=list(by_code),
        )
    except ConditionError as exc:
        logger.warning("agent %s: targeting does not check, nobody is eligible: %s", agent, exc)
        return {"broken": str(exc)}
    rules = tuple(
        RuleConf(
            name=r["name"],
            when=r.get("when"),
            holds=condition_compile(r.get("when")),
            variation=by_code[r["variation"]],
        )
        for r in agent.rules or ()
    )
    qa = {
        (who, o[who]): by_code[o["variation"]]
        for o in agent.qa or ()
        for who in ("vid", "session")
        if who in o
    }
    conditions = [agent.eligibility, *(r.when for r in rules)]
    agents_read = set().union(*(names_used(c, SOURCE_VARIATION) for c in conditions))
    goals_read = set().union(*(names_used(c, SOURCE_GOAL) for c in conditions))
    return {
        "eligibility": agent.eligibility,
        "eligible": condition_compile(agent.eligibility),
        "rules": rules,
        "qa": MappingProxyType(qa),
        "reads_agent_ids": frozenset(agent_ids[c] for c in agents_read if c in agent_ids),
        "reads_goal_ids": frozenset(goal_ids[c] for c in goals_read if c in goal_ids),
    }


_lock = threading.Lock()
# account code -> _Entry; accounts that exist and codes that name none are kept apart and
# each bounded, so that codes made up by a client neither grow memory nor push real
# accounts out. A full cache forgets its oldest entry.
_cache: dict[str, "_Entry"] = {}
_unknown: dict[str, float] = {}  # code -> until when it is taken to name no account
UNKNOWN_CODES_KEPT = 1000


@dataclass(frozen=True)
class _Entry:
    conf: AccountConf
    fresh_until: float  # served without a check until then
    expires: float  # loaded again after this, whatever its version


def account_conf(*, code: str) -> AccountConf | None:
    """Return the configuration of account `code` (None when there is no such account), as
    cached by this process and checked against the account's version at most every
    `CONFIG_CHECK_SECONDS`.

    A code without an account code's shape is None at once, without a query.
    """
    now = time.monotonic()
    hit = _cache.get(code)
    if hit is not None:
        if hit.fresh_until > now:
            return hit.conf
        if hit.expires > now and config_version(account_id=hit.conf.id) == hit.conf.version:
            _cache[code] = _Entry(hit.conf, now + settings.CONFIG_CHECK_SECONDS, hit.expires)
            return hit.conf
    elif _unknown.get(code, 0.0) > now:
        return None
    if not account_code_well_formed(code):
        return None
    conf = account_conf_load(code=code)
    with _lock:
        if conf is None:
            _cache.pop(code, None)
            _remember(_unknown, code, now + settings.CONFIG_CHECK_SECONDS, UNKNOWN_CODES_KEPT)
        else:
            _unknown.pop(code, None)
            entry = _Entry(
                conf,
                now + settings.CONFIG_CHECK_SECONDS,
                now + settings.CONFIG_CACHE_TTL_SECONDS,
            )
            _remember(_cache, code, entry, settings.CONFIG_CACHE_MAX_ACCOUNTS)
    return conf


def _remember(store: dict[str, Any], code: str, entry: object, limit: int) -> None:
    store.pop(code, None)  # re-inserted last: the oldest entry is the first
    while len(store) >= limit:
        del store[next(iter(store))]
    store[code] = entry


def config_cache_clear() -> None:
    """Forget every cached snapshot of this process (called on any configuration save)."""
    with _lock:
        _cache.clear()
        _unknown.clear()


def config_cache_size() -> tuple[int, int]:
    """(accounts, unknown codes) held by this process's cache."""
    return len(_cache), len(_unknown)
