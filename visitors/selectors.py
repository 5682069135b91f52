"""Reads of a visitor's raw data for the agent-api: assignments, once-credits, event ids."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.distribution import distributed
from agents.reasons import POLICY_RANDOM
from visitors.models import Assignment, Credit, GoalEvent, VisitorLink
from visitors.request import who_keys
from visitors.statements import Rows, pg_ints, pg_texts, statement_fetch


@dataclass
class AssignmentRow:
    """An assignment as the matching rules see it (mutable while a request is executed)."""

    id: int | None
    agent_id: int
    variation_id: int
    identity: str
    session: str
    vid: str | None
    target_kind: str
    created_at: datetime
    confirmed_at: datetime | None
    policy: str = POLICY_RANDOM  # `r`, or `f` when a rule forced it (reported apart)
    phase: int = 1  # the agent's phase when it was made (SPEC §4e)
    # made under the request's vid or an id linked to it (SPEC §4d): the person's own,
    # whatever the session (a request of one visitor only; a batch tells by
    # `Visitor.lookup_keys`)
    by_person: bool = False
    credited_goal_ids: set[int] = field(default_factory=set)
    goal_values: dict[int, float] = field(default_factory=dict)  # value credited so far


@dataclass(frozen=True)
class SeenEvent:
    """A goal event already received with an event id: its first answer, and who sent it."""

    response: dict[str, Any]
    session: str
    vid: str | None

    def same_visitor(self, *, session: str, vid: str | None) -> bool:
        """Sent by this visitor: the same session, or the same vid (SPEC §4)."""
        # a batch's event may name a vid alone (no session: "")
        return bool(session) and self.session == session or (vid is not None and self.vid == vid)


@dataclass
class VisitorState:
    assignments: list[AssignmentRow]
    events: dict[tuple[int, str], SeenEvent]  # (goal id, event id) -> the first event
    reached: dict[int, datetime] = field(default_factory=dict)  # goal id -> last event


def visitor_state_read(
    *,
    account_id: int,
    agent_ids: Iterable[int],
    session: str,
    vid: str | None,
    goal_ids: Iterable[int] = (),
    every_goal_ids: Iterable[int] = (),
    event_keys: Iterable[tuple[int, str]] = (),
    event_channel: str = "",
    reached_goal_ids: Iterable[int] = (),
) -> VisitorState:
    """Return the visitor's assignments in `agent_ids` and the events already received.

    The visitor is `session` and, when given, the external visitor id `vid`: assignments
    made for that session, and those made with that vid or an id linked to it (SPEC §4d,
    resolved in the same statement). Each assignment carries the
    goals among `goal_ids` already credited to this visitor in its agent, and for
    `every_goal_ids` the value already credited to it; and for `reached_goal_ids` (goals
    that conditions read) when this visitor last reached each. One query for all of it
    (on the session and vid indexes), one more only when `event_keys` is not empty: the
    events with those (goal id, event id) received through `event_channel` (event ids are
    scoped to the kind of target, SPEC §4).
    """
    agent_ids = list(agent_ids)
    goal_ids = list(goal_ids)
    every_goal_ids = list(every_goal_ids)
    event_keys = list(event_keys)
    reached_goal_ids = list(reached_goal_ids)
    rows: list[AssignmentRow] = []
    reached: dict[int, datetime] = {}
    if agent_ids or reached_goal_ids:
        sql, params = _assignments_sql(
            account_id=account_id,
            agent_ids=agent_ids,
            session=session,
            vid=vid,
            goal_ids=goal_ids,
            every_goal_ids=every_goal_ids,
            reached_goal_ids=reached_goal_ids,
        )
        found = statement_fetch(sql=sql, params=params)
        width = 12
        ends = width + len(goal_ids) + len(every_goal_ids)
        for values in found[:1]:
            for goal_id, when in zip(reached_goal_ids, values[ends:], strict=True):
                if when is not None:
                    reached[goal_id] = _aware(when)
        for values in found:
            if values[0] is None:
                continue  # the one row of a visitor without assignments (reached goals)
            flags = values[width : width + len(goal_ids)]
            totals = values[width + len(goal_ids) : ends]
            rows.append(
                AssignmentRow(
                    id=values[0],
                    agent_id=values[1],
                    variation_id=values[2],
                    identity=values[3],
                    session=values[4],
                    vid=values[5],
                    target_kind=values[6],
                    created_at=_aware(values[7]),
                    confirmed_at=None if values[8] is None else _aware(values[8]),
                    policy=values[9],
                    phase=values[10],
                    by_person=bool(values[11]),
                    credited_goal_ids={g for g, flag in zip(goal_ids, flags, strict=True) if flag},
                    goal_values={
                        g: float(total)
                        for g, total in zip(every_goal_ids, totals, strict=True)
                        if total is not None
                    },
                )
            )
    events: dict[tuple[int, str], SeenEvent] = {}
    if event_keys:
        match = Q()
        for goal_id, event_id in event_keys:
            match |= Q(goal_id=goal_id, event_id=event_id)
        stored = GoalEvent.objects.filter(
            match, channel=event_channel, **_routing(account_id)
        ).values_list("goal_id", "event_id", "response", "session", "vid")
        for goal_id, stored_id, response, stored_session, stored_vid in stored:
            if stored_id is not None:  # always: events were filtered by their ids
                events[(goal_id, stored_id)] = SeenEvent(response, stored_session, stored_vid)
    return VisitorState(assignments=rows, events=events, reached=reached)


def _assignments_sql(
    *,
    account_id: int,
    agent_ids: list[int],
    session: str,
    vid: str | None,
    goal_ids: list[int],
    every_goal_ids: list[int],
    reached_goal_ids: Sequence[int] = (),
) -> tuple[str, list[Any]]:
    """The hot path's read, written out (the ORM's query building cost more than the query).

    A goal is credited to this visitor in an agent when one of the assignments found holds
    a credit of it, or when one of the visitor's own events (same session or vid) was
    credited in that agent, through any assignment.

    The statement is planned once per connection (generic plans, see statements.py), often
    while the tables are still small, and that plan must stay good as they grow. So each
    EXISTS ends in OFFSET 0, which keeps PostgreSQL from planning it as a "hashed subplan"
    (every credit of the goal read into a hash table, then probed, on every request; see
    docs/benchmarks.md). The visitor's events are looked up by session and
    by vid in two EXISTS, each matching a (session|vid, goal) index in full, which wins
    over the goal's own index once the tables have statistics (autovacuum's ANALYZE makes
    PostgreSQL plan the statement again; on empty tables the choice is a tie).
    So that a plan made on empty tables, kept while they grow (autovacuum off, or between
    two of its passes), never reads every event of the goal, the goal is compared as
    `goal_id + 0`: no index can take it, and the visitor's own index is the only choice
    (seen in bench/linked_ids.py, docs/benchmarks.md: such a plan read all 1,480 events of
    the goal on each request, 0.25 ms by session and 0.57 ms by ten linked ids, growing).

    Goals that conditions read (`reached_goal_ids`) add a column each: the visitor's last
    event of that goal, an uncorrelated subquery that both databases run once. Then the
    assignments are LEFT JOINed to one row, so that a visitor without any still gets it.
    """
    a, c, e = Assignment._meta.db_table, Credit._meta.db_table, GoalEvent._meta.db_table
    postgres = connection.vendor == "postgresql"
    # On Citus every table named is also filtered by the account, a parameter, so that the
    # statement goes to the account's shard alone (accounts.distribution). Elsewhere the
    # filter is left out: the visitor's rows are the account's anyway, and a plan made on
    # empty tables would take the account's index (every row of the account) for it.
    (ac, ac2, ae, aa, al2), acct = _on_account(account_id, "c.", "c2.", "e.", "a.", "l2.")
    person = _PERSON_SQL.format(l2=al2)
    # the person's ids (SPEC §4d): the vid and those linked to it, read in this statement.
    # PostgreSQL reads them once, as an array in a one-row FROM item that every condition
    # then names (`= ANY(p.ids)` is an index condition); SQLite repeats the subquery.
    person_params: list[Any] = []
    if vid and postgres:
        source = f"(SELECT ARRAY({person}) AS ids) AS p"
        person_params = [vid, *acct, account_id, vid]
        in_person, in_person_params = "= ANY(p.ids)", []
    elif vid:
        source = "(SELECT 1 AS one) AS p"
        in_person, in_person_params = f"IN ({person})", [vid, account_id, vid]
    else:
        source = "(SELECT 1 AS one) AS p"
        in_person, in_person_params = "", []
    who_a = f"(a.session = %s OR a.vid {in_person})" if vid else "a.session = %s"
    who_params = [session, *in_person_params] if vid else [session]
    columns = [
        "a.id",
        "a.agent_id",
        "a.variation_id",
        "a.identity",
        "a.session",
        "a.vid",
        "a.target_kind",
        "a.created_at",
        "a.confirmed_at",
        "a.policy",
        "a.phase",
        f"a.vid {in_person}" if vid else "0",
    ]
    params: list[Any] = [*in_person_params]
    # SQLite has no OFFSET without LIMIT, and no hashed subplans to avoid
    fence = " OFFSET 0" if postgres else ""
    by_event = (
        f"EXISTS (SELECT 1 FROM {e} e JOIN {c} c2 ON c2.event_id = e.id "
        "WHERE e.{who} AND e.goal_id + 0 = %s AND c2.agent_id = a.agent_id" + ae + ac2 + fence + ")"
    )
    for goal_id in goal_ids:
        ways = [
            f"EXISTS (SELECT 1 FROM {c} c WHERE c.assignment_id = a.id AND c.goal_id = %s"
            f"{ac}{fence})",
            by_event.format(who="session = %s"),
        ]
        params += [goal_id, *acct, session, goal_id, *acct, *acct]
        if vid and postgres:
            # one lookup of (vid, goal) per id of the person: an index scan whatever the
            # tables' size when the plan was made (`= ANY` of an array of unknown length
            # was planned as a sequential scan on empty tables)
            ways.append(
                "EXISTS (SELECT 1 FROM unnest(p.ids) AS i(vid) CROSS JOIN LATERAL "
                f"(SELECT 1 FROM {e} e JOIN {c} c2 ON c2.event_id = e.id WHERE e.vid = i.vid "
                f"AND e.goal_id + 0 = %s AND c2.agent_id = a.agent_id{ae}{ac2}{fence}) AS x)"
            )
            params += [goal_id, *acct, *acct]
        elif vid:
            ways.append(by_event.format(who=f"vid {in_person}"))
            params += [*in_person_params, goal_id]
        columns.append("(" + " OR ".join(ways) + ")")
    for goal_id in every_goal_ids:
        columns.append(
            f"(SELECT SUM(c.value) FROM {c} c WHERE c.assignment_id = a.id AND c.goal_id = %s{ac})"
        )
        params += [goal_id, *acct]
    last = f"SELECT MAX(e.occurred_at) FROM {e} e WHERE e.goal_id + 0 = %s{ae} AND e."
    for goal_id in reached_goal_ids:
        if vid and postgres:  # by session, then by each id of the person (as above)
            columns.append(
                f"GREATEST(({last}session = %s), (SELECT MAX(x.at) FROM unnest(p.ids) AS "
                f"i(vid) CROSS JOIN LATERAL ({last}vid = i.vid{fence}) AS x(at)))"
            )
            params += [goal_id, *acct, session, goal_id, *acct]
        elif vid:
            columns.append(
                f"(SELECT MAX(e.occurred_at) FROM {e} e WHERE e.goal_id + 0 = %s "
                f"AND (e.session = %s OR e.vid {in_person}))"
            )
            params += [goal_id, session, *in_person_params]
        else:
            columns.append(f"({last}session = %s)")
            params += [goal_id, *acct, session]
    if postgres:
        # one statement shape whatever the agents, so that it is prepared once
        agents, agent_params = "= ANY(%s::bigint[])", [pg_ints(agent_ids)]
    else:
        agents, agent_params = f"IN ({', '.join(str(int(i)) for i in agent_ids) or 'NULL'})", []
    if reached_goal_ids or (vid and postgres):  # a row of its own: always one, or the ids
        join = "LEFT JOIN" if reached_goal_ids else "JOIN"
        sql = (
            f"SELECT {', '.join(columns)} FROM {source} {join} {a} a "
            f"ON a.agent_id {agents}{aa} AND {who_a}"
        )
    else:
        sql = f"SELECT {', '.join(columns)} FROM {a} a WHERE a.agent_id {agents}{aa} AND {who_a}"
    # parameters in the text's order: the columns', the FROM item's, then the join's
    return sql, params + person_params + agent_params + acct + who_params


# the ids of the person the vid (parameters: vid, account id, vid) belongs to; `{l2}`: the
# second table's filter by account on Citus (then one more parameter, the account, after
# the vid)
_LINK = VisitorLink._meta.db_table
_PERSON_SQL = (
    f"SELECT CAST(%s AS varchar(128)) UNION ALL SELECT l2.vid FROM {_LINK} l1 JOIN {_LINK} l2 "
    "ON l2.person = l1.person{l2} WHERE l1.account_id = %s AND l1.vid = %s AND l2.vid <> l1.vid"
)


def _aware(value: datetime | str) -> datetime:
    """A timestamp as read by a raw cursor (SQLite gives text), as an aware UTC datetime."""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"not a timestamp: {value!r}")
        value = parsed
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


@dataclass
class VisitorsState:
    """What a batch of goal events of many visitors needs to know, read at once
    (`visitors_state_read`)."""

    assignments: list[AssignmentRow]  # credited goals and values: their own credits only
    # (agent id, goal id, "s:session" or "v:vid"): goals credited in an agent through
    # events of that session or vid (the once-rule's "this visitor", SPEC §4)
    credited_by: set[tuple[int, int, str]]
    events: dict[tuple[int, str], SeenEvent]
    reached: dict[str, dict[int, datetime]]  # "s:…" or "v:…" -> goal id -> last event


def visitors_state_read(
    *,
    account_id: int,
    agent_ids: Iterable[int],
    sessions: Iterable[str],
    vids: Iterable[str],
    goal_ids: Iterable[int] = (),
    event_keys: Iterable[tuple[int, str]] = (),
    event_channel: str = "",
    reached_goal_ids: Iterable[int] = (),
) -> VisitorsState:
    """`visitor_state_read` for many visitors at once (a batch of goal events): a fixed
    number of queries whatever their number (at most four: assignments; their credits and
    the visitors' credited events; the event ids already received; the goals conditions
    read), each on the session and vid indexes. On PostgreSQL each list goes as one array
    parameter (a statement of fixed text, whatever the batch: no thousand placeholders to
    build and parse)."""
    agent_ids, goal_ids = list(agent_ids), list(goal_ids)
    sessions, vids = sorted(set(sessions) - {""}), sorted(set(vids))
    who_a = Q(session__in=sessions) | Q(vid__in=vids)
    rows: list[AssignmentRow] = []
    if agent_ids and (sessions or vids):
        rows = [
            AssignmentRow(
                id=v[0], agent_id=v[1], variation_id=v[2], identity=v[3], session=v[4],
                vid=v[5], target_kind=v[6], created_at=_aware(v[7]),
                confirmed_at=None if v[8] is None else _aware(v[8]), policy=v[9],
                phase=v[10],
            )
            for v in _assignments_of(account_id, agent_ids, sessions, vids)
        ]  # fmt: skip
    credited_by: set[tuple[int, int, str]] = set()
    if rows and goal_ids:
        by_id = {r.id: r for r in rows}
        credits = _credits_of(
            account_id, [r.id for r in rows if r.id], agent_ids, goal_ids, sessions, vids
        )
        for assignment_id, agent_id, goal_id, value, session, vid, own in credits:
            row = by_id.get(assignment_id) if own else None
            if row is not None:
                row.credited_goal_ids.add(goal_id)
                row.goal_values[goal_id] = row.goal_values.get(goal_id, 0.0) + float(value)
            credited_by.update((agent_id, goal_id, key) for key in who_keys(session, vid))
    events: dict[tuple[int, str], SeenEvent] = {}
    event_keys = set(event_keys)
    if event_keys:
        for goal_id, stored_id, response, stored_session, stored_vid in _events_of(
            account_id, event_keys, event_channel
        ):
            if stored_id is not None and (goal_id, stored_id) in event_keys:
                events[(goal_id, stored_id)] = SeenEvent(response, stored_session, stored_vid)
    reached: dict[str, dict[int, datetime]] = {}
    reached_goal_ids = list(reached_goal_ids)
    if reached_goal_ids and (sessions or vids):
        last = (
            GoalEvent.objects.filter(who_a, goal_id__in=reached_goal_ids, **_routing(account_id))
            .values_list("goal_id", "session", "vid")
            .annotate(at=Max("occurred_at"))
        )
        for goal_id, session, vid, at in last:
            for key in who_keys(session, vid):
                mine = reached.setdefault(key, {})
                if goal_id not in mine or at > mine[goal_id]:
                    mine[goal_id] = _aware(at)
    return VisitorsState(assignments=rows, credited_by=credited_by, events=events, reached=reached)


_A_COLUMNS = "id, agent_id, variation_id, identity, session, vid, target_kind, created_at, confirmed_at, policy, phase"  # noqa: E501


def _assignments_of(
    account_id: int, agent_ids: list[int], sessions: list[str], vids: list[str]
) -> Rows:
    if connection.vendor != "postgresql":
        return list(
            Assignment.objects.filter(
                Q(session__in=sessions) | Q(vid__in=vids), agent_id__in=agent_ids
            ).values_list(*_A_COLUMNS.split(", "))
        )
    a = Assignment._meta.db_table
    (on_account,), acct = _on_account(account_id, "")
    # a branch per index (session, agent) and (vid, agent): a plan made once for every
    # batch (prepared) uses them whatever the arrays hold
    return statement_fetch(
        sql=f"SELECT {_A_COLUMNS} FROM {a} WHERE session = ANY(%s::varchar[]) "
        f"AND agent_id = ANY(%s::bigint[]){on_account} UNION SELECT {_A_COLUMNS} "
        f"FROM {a} WHERE vid = ANY(%s::varchar[]) AND agent_id = ANY(%s::bigint[]){on_account}",
        params=[pg_texts(sessions), pg_ints(agent_ids), *acct,
                pg_texts(vids), pg_ints(agent_ids), *acct],
    )  # fmt: skip


def _credits_of(
    account_id: int,
    assignment_ids: list[int],
    agent_ids: list[int],
    goal_ids: list[int],
    sessions: list[str],
    vids: list[str],
) -> Rows:
    """(assignment, agent, goal, value, session, vid, own): credits of `goal_ids` to those
    assignments (own 1), and those in those agents through events of those sessions or
    vids (own 0, with the event's session or vid)."""
    if connection.vendor != "postgresql":
        own = Credit.objects.filter(assignment_id__in=assignment_ids, goal_id__in=goal_ids)
        rows = [(*r, None, None, 1) for r in own.values_list(
            "assignment_id", "agent_id", "goal_id", "value")]  # fmt: skip
        through = Credit.objects.filter(
            Q(event__session__in=sessions) | Q(event__vid__in=vids),
            goal_id__in=goal_ids, agent_id__in=agent_ids,
        ).values_list("assignment_id", "agent_id", "goal_id", "value", "event__session",
                      "event__vid")  # fmt: skip
        return rows + [(*r, 0) for r in through]
    c, e = Credit._meta.db_table, GoalEvent._meta.db_table
    (on_account, on_e, on_c), acct = _on_account(account_id, "", "e.", "c.")
    by_event = (
        "SELECT c.assignment_id, c.agent_id, c.goal_id, c.value, {session}, {vid}, 0 "
        f"FROM {e} e JOIN {c} c ON c.event_id = e.id WHERE e.{{who}} = ANY(%s::varchar[]) "
        "AND e.goal_id = ANY(%s::bigint[]) AND c.agent_id = ANY(%s::bigint[])" + on_e + on_c
    )
    return statement_fetch(
        sql=f"SELECT assignment_id, agent_id, goal_id, value, NULL, NULL, 1 FROM {c} "
        f"WHERE assignment_id = ANY(%s::bigint[]) AND goal_id = ANY(%s::bigint[]){on_account} "
        "UNION ALL "
        + by_event.format(session="e.session", vid="NULL", who="session")
        + " UNION ALL "
        + by_event.format(session="NULL", vid="e.vid", who="vid"),
        params=[pg_ints(assignment_ids), pg_ints(goal_ids), *acct,
                pg_texts(sessions), pg_ints(goal_ids), pg_ints(agent_ids), *acct, *acct,
                pg_texts(vids), pg_ints(goal_ids), pg_ints(agent_ids), *acct, *acct],
    )  # fmt: skip


def _events_of(account_id: int, event_keys: set[tuple[int, str]], channel: str) -> Rows:
    """The events already received with those (goal id, event id) through `channel`."""
    if connection.vendor != "postgresql":
        stored = GoalEvent.objects.filter(
            channel=channel,
            goal_id__in={g for g, _ in event_keys},
            event_id__in={i for _, i in event_keys},
        ).values_list("goal_id", "event_id", "response", "session", "vid")
        return [row for row in stored if (row[0], row[1]) in event_keys]
    e = GoalEvent._meta.db_table
    keys = sorted(event_keys)
    (on_e,), acct = _on_account(account_id, "e.")
    found = statement_fetch(
        sql=f"SELECT e.goal_id, e.event_id, e.response, e.session, e.vid FROM {e} e "
        "JOIN unnest(%s::bigint[], %s::varchar[]) AS k(goal_id, event_id) "
        "ON e.goal_id = k.goal_id AND e.event_id = k.event_id WHERE e.channel = %s" + on_e,
        params=[pg_ints([g for g, _ in keys]), pg_texts([i for _, i in keys]), channel, *acct],
    )
    return [(g, i, json.loads(r) if isinstance(r, str) else r, s, v) for g, i, r, s, v in found]


def _on_account(account_id: int, *aliases: str) -> tuple[list[str], list[int]]:
    """On Citus, a condition ` AND {alias}account_id = %s` for each alias (`""`, `"e."`...)
    and the parameter each takes (see `_assignments_sql`); empty conditions elsewhere."""
    if distributed():
        return [f" AND {alias}account_id = %s" for alias in aliases], [account_id]
    return [""] * len(aliases), []


def _routing(account_id: int) -> dict[str, int]:
    """`_on_account` for the ORM: filter arguments."""
    return {"account_id": account_id} if distributed() else {}
