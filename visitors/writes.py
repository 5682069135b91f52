"""Writing what one agent-api request recorded: new assignments, confirmations, goal events,
credits and the report aggregates they add to, all of them or none.

On PostgreSQL this is one SQL statement (data-modifying CTEs: a single statement is atomic
on its own, so it needs no BEGIN/COMMIT round trips); elsewhere (SQLite) a short
transaction of bulk inserts. On Citus, a short transaction too, of statements that each
write one account's rows from literal VALUES: each is a single-shard ("router") statement
to Citus, so the transaction stays on the account's worker, where the CTE statement would
run as several distributed steps (docs/scaling.md).

Unique constraints (one assignment per agent and visitor, one event per goal and event
id, one once-credit per assignment) raise IntegrityError when a concurrent request won
the race; the caller then runs the request again.
"""

import json
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Model

from accounts.distribution import distributed
from agents.reasons import POLICY_FORCED
from conductrics_admin.upserts import adding_insert, adding_tail
from reports.deltas import (
    GOAL_DAY_COUNTS,
    VISITOR_DAY_COUNTS,
    GoalDayKey,
    ReportDeltas,
    VisitorDayKey,
)
from reports.models import AGGREGATE_SHARDS, GoalDay, VisitorDay
from targets.choices import channel_of
from visitors.models import Assignment, Credit, GoalEvent
from visitors.selectors import AssignmentRow
from visitors.statements import (
    pg_bools,
    pg_floats,
    pg_ints,
    pg_texts,
    statement_execute,
    statement_returning,
)


@dataclass
class CreditWrite:
    assignment: AssignmentRow
    agent_id: int
    variation_id: int
    first: bool  # the credit that makes this visitor a conversion of the goal in the agent


@dataclass
class EventWrite:
    goal_id: int
    event_id: str | None
    value: float
    response: dict[str, Any]
    occurred_at: datetime  # when it happened (`t`), the request's time when not sent
    credits: list[CreditWrite] = field(default_factory=list)
    # a batch's event names its own visitor (goal-events); None: the request's
    session: str | None = None
    vid: str | None = None


@dataclass
class RequestWrites:
    """Everything one request records, gathered while its commands are decided."""

    account_id: int
    target_id: int
    target_kind: str
    channel: str
    session: str
    vid: str | None
    traits: list[str]
    now: datetime
    new_rows: list[AssignmentRow] = field(default_factory=list)
    # stored provisional assignments this request confirms: each counts as a visitor only
    # if this request's write is the one that confirms it (concurrent ones count nothing)
    confirmed_rows: list[AssignmentRow] = field(default_factory=list)
    events: list[EventWrite] = field(default_factory=list)
    deltas: ReportDeltas = field(default_factory=ReportDeltas)
    batch: bool = False  # events of several visitors, each naming its own (goal-events)

    @property
    def empty(self) -> bool:
        return not (self.new_rows or self.confirmed_rows or self.events)

    def visitor_key(self, row: AssignmentRow) -> VisitorDayKey:
        """Where `row` counts as a visitor: on the day it is confirmed, in its channel."""
        return VisitorDayKey(
            row.agent_id,
            row.variation_id,
            self.now.date(),
            channel_of(row.target_kind),
            row.policy == POLICY_FORCED,
            row.phase,
        )

    def visitor_add(self, row: AssignmentRow) -> None:
        """Count `row` (an assignment this request makes) as a new visitor."""
        self.deltas.visitor_add(self.visitor_key(row))

    def credit_add(
        self,
        *,
        event: EventWrite,
        assignment: AssignmentRow,
        agent_id: int,
        variation_id: int,
        first: bool,
    ) -> None:
        """Credit `event` to `assignment`: the credit row, the aggregates, and the
        assignment's running total (what later credits of this request see)."""
        event.credits.append(CreditWrite(assignment, agent_id, variation_id, first))
        prior = assignment.goal_values.get(event.goal_id, 0.0)
        assignment.goal_values[event.goal_id] = prior + event.value
        assignment.credited_goal_ids.add(event.goal_id)
        key = GoalDayKey(  # counted on the day the goal happened, not the day it arrived
            agent_id,
            variation_id,
            event.goal_id,
            event.occurred_at.date(),
            self.channel,
            assignment.policy == POLICY_FORCED,
            assignment.phase,
        )
        self.deltas.credit_add(key, prior=prior, value=event.value, first=first)


def request_writes_save(*, writes: RequestWrites) -> None:
    """Record `writes` atomically. Raises IntegrityError when a concurrent request won."""
    if writes.empty:
        return
    routed = distributed()
    if connection.vendor == "postgresql" and not routed:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint, so a lost race can be retried
                _save_postgresql(writes)
        else:
            _save_postgresql(writes)
    else:
        with transaction.atomic():
            _save_rows(writes, routed=routed)
            _aggregates_save(writes)


def _rows_insert(objs: list[Any], *, routed: bool) -> None:
    """Insert `objs` (new rows of one model) and set their ids: Django's `bulk_create`, or on
    Citus (`routed`) `INSERT … VALUES (…), (…) RETURNING id`, every row of one account (a
    single-shard statement; Django's bulk insert of several rows selects from UNNEST
    arrays, which Citus runs through the coordinator)."""
    model: type[Model] = type(objs[0])
    if not routed:
        model._default_manager.bulk_create(objs)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(f.column for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per = _PARAMS_MAX // len(fields)
    for start in range(0, len(objs), per):
        chunk = objs[start : start + per]
        rows = statement_returning(
            sql=f"INSERT INTO {model._meta.db_table} ({columns}) VALUES "
            + ", ".join([row] * len(chunk))
            + " RETURNING id",
            params=[
                f.get_db_prep_save(getattr(o, f.attname), connection) for o in chunk for f in fields
            ],
        )
        for obj, (pk,) in zip(chunk, rows, strict=True):
            obj.pk = pk


_PARAMS_MAX = 60_000  # PostgreSQL takes 65,535 parameters a statement


def _confirmed_ids(w: RequestWrites, *, routed: bool) -> set[int]:
    """Confirm `w.confirmed_rows` not confirmed yet; the ids this request confirmed."""
    ids = [r.id for r in w.confirmed_rows]
    if routed:  # one account's rows: the account's shard alone
        rows = statement_returning(
            sql=f"UPDATE {Assignment._meta.db_table} SET confirmed_at = %s WHERE account_id = %s "
            "AND id = ANY(%s::bigint[]) AND confirmed_at IS NULL RETURNING id",
            params=[w.now, w.account_id, pg_ints(ids)],
        )
        return {pk for (pk,) in rows}
    Assignment.objects.filter(pk__in=ids, confirmed_at__isnull=True).update(confirmed_at=w.now)
    # those this request confirmed (SQLite's write lock is held: nobody else can meanwhile)
    return set(
        Assignment.objects.filter(pk__in=ids, confirmed_at=w.now).values_list("pk", flat=True)
    )


def _save_rows(w: RequestWrites, *, routed: bool) -> None:
    """The rows of `w`, a statement per table (SQLite; Citus when `routed`), inside the
    caller's transaction."""
    if w.new_rows:
        objs = [
            Assignment(
                account_id=w.account_id,
                agent_id=r.agent_id,
                variation_id=r.variation_id,
                identity=r.identity,
                session=r.session,
                vid=r.vid,
                target_id=w.target_id,
                target_kind=r.target_kind,
                traits=w.traits,
                created_at=r.created_at,
                confirmed_at=r.confirmed_at,
                policy=r.policy,
                phase=r.phase,
            )
            for r in w.new_rows
        ]
        _rows_insert(objs, routed=routed)
        for row, obj in zip(w.new_rows, objs, strict=True):
            row.id = obj.pk
    if w.confirmed_rows:
        mine = _confirmed_ids(w, routed=routed)
        for row in w.confirmed_rows:
            if row.id in mine:
                w.deltas.visitor_add(w.visitor_key(row))
    if not w.events:
        return
    events = [
        GoalEvent(
            account_id=w.account_id,
            goal_id=e.goal_id,
            event_id=e.event_id,
            session=(e.session or "") if w.batch else w.session,
            vid=e.vid if w.batch else w.vid,
            target_id=w.target_id,
            channel=w.channel,
            value=e.value,
            received_at=w.now,
            occurred_at=e.occurred_at,
            response=e.response,
        )
        for e in w.events
    ]
    _rows_insert(events, routed=routed)
    credits = [
        credit
        for event, e in zip(events, w.events, strict=True)
        for credit in _credits(w, e, event.pk)
    ]
    if credits:
        _rows_insert(credits, routed=routed)


def _credits(w: RequestWrites, event: EventWrite, event_pk: int) -> list[Credit]:
    """The credit rows of `event` (stored as `event_pk`)."""
    return [
        Credit(
            account_id=w.account_id,
            event_id=event_pk,
            goal_id=event.goal_id,
            agent_id=c.agent_id,
            variation_id=c.variation_id,
            assignment_id=_stored_id(c.assignment),
            value=event.value,
            channel=w.channel,
            first=c.first,
            created_at=w.now,
        )
        for c in event.credits
    ]


def _aggregates_save(w: RequestWrites) -> None:
    """Add `w`'s deltas to the aggregates, a statement per table (SQLite, Citus, replays)."""
    for sql, params in _aggregate_statements(w):
        statement_execute(sql=sql, params=params)


# an aggregate row's key: the delta's, its shard, and the account (in every key of a table
# a request writes, accounts.distribution)
_VISITOR_KEYS = (*VisitorDayKey._fields, "shard", "account_id")
_GOAL_KEYS = (*GoalDayKey._fields, "shard", "account_id")


def _stored_id(row: AssignmentRow) -> int:
    """The id of an assignment written before its credits (by this request, or earlier)."""
    if row.id is None:
        raise AssertionError("an assignment is written before the credits that name it")
    return row.id


def _aggregate_statements(w: RequestWrites) -> list[tuple[str, list[Any]]]:
    """Upserts that add this request's deltas to the aggregates (SQLite, Citus; PostgreSQL
    runs the same upserts as `_aggregate_ctes`).

    Each request adds to one of `AGGREGATE_SHARDS` rows per key, chosen at random: a single
    row per variation and day would be locked by every concurrent request from its update
    to its commit. Rows go in key order, so two requests always lock in the same order.
    """
    statements = []
    shard = _shard()
    for table, keys, counts, rows in (
        (VisitorDay._meta.db_table, _VISITOR_KEYS, VISITOR_DAY_COUNTS, w.deltas.visitor_rows()),
        (GoalDay._meta.db_table, _GOAL_KEYS, GOAL_DAY_COUNTS, w.deltas.goal_rows()),
    ):
        if not rows:
            continue
        width = len(keys) - 2
        params = [v for row in rows for v in (*row[:width], shard, w.account_id, *row[width:])]
        statements.append((adding_insert(table, keys, counts, len(rows)), params))
    return statements


def _shard() -> int:
    if connection.vendor != "postgresql":
        return 0  # SQLite runs one write at a time anyway
    return random.randrange(AGGREGATE_SHARDS)  # noqa: S311 - spreading locks, not a secret


def _save_postgresql(w: RequestWrites) -> None:
    """One statement of data-modifying CTEs, its rows passed as one array per column.

    Its text depends only on which kinds of rows the request writes, never on how many,
    so psycopg converts it once and PostgreSQL prepares it once per connection (a VALUES
    list per row made a new statement text per row count, parsed again every time once
    longer than psycopg's cache limit; measured in docs/benchmarks.md). Ids
    are drawn from the tables' sequences first, so credits can refer to assignments and
    events inserted by the same statement.
    """
    a_table, e_table, c_table = (
        Assignment._meta.db_table,
        GoalEvent._meta.db_table,
        Credit._meta.db_table,
    )
    p: dict[str, Any] = {
        "account": w.account_id,
        "target": w.target_id,
        "now": w.now,
        "vid": w.vid,
        "session": w.session,
        "channel": w.channel,
    }
    ctes: list[str] = []
    if w.new_rows:
        p.update(
            a_agent=pg_ints([r.agent_id for r in w.new_rows]),
            a_variation=pg_ints([r.variation_id for r in w.new_rows]),
            a_identity=pg_texts([r.identity for r in w.new_rows]),
            a_confirmed=pg_bools([r.confirmed_at is not None for r in w.new_rows]),
            a_policy=pg_texts([r.policy for r in w.new_rows]),
            a_phase=pg_ints([r.phase for r in w.new_rows]),
            kind=w.target_kind,  # the target the request came to: its new rows' kind
            traits=json.dumps(w.traits),
        )
        ctes.append(
            f"a_in AS (SELECT nextval(pg_get_serial_sequence('{a_table}', 'id')) AS id, v.* "
            "FROM unnest(%(a_agent)s::bigint[], %(a_variation)s::bigint[], "
            "%(a_identity)s::varchar[], %(a_confirmed)s::boolean[], %(a_policy)s::varchar[], "
            "%(a_phase)s::int[]) "
            "WITH ORDINALITY AS v(agent_id, variation_id, identity, confirmed, policy, phase, ord))"
        )
        ctes.append(
            f"new_a AS (INSERT INTO {a_table} (id, account_id, agent_id, variation_id, identity, "
            "session, vid, target_id, target_kind, traits, created_at, confirmed_at, policy, "
            "phase) "
            "SELECT id, %(account)s, agent_id, variation_id, identity, %(session)s, "
            "%(vid)s::varchar, %(target)s, %(kind)s, %(traits)s::jsonb, %(now)s, "
            "CASE WHEN confirmed THEN %(now)s::timestamptz END, policy, phase FROM a_in "
            "ORDER BY ord)"
        )
    if w.confirmed_rows:
        p["confirmed"] = pg_ints([r.id for r in w.confirmed_rows])
        ctes.append(
            f"conf AS (UPDATE {a_table} SET confirmed_at = %(now)s WHERE account_id = "
            "%(account)s AND id = ANY(%(confirmed)s::bigint[]) AND confirmed_at IS NULL "
            "RETURNING id)"
        )
    if w.events:
        p.update(
            e_goal=pg_ints([e.goal_id for e in w.events]),
            e_event=pg_texts([e.event_id for e in w.events]),
            e_value=pg_floats([e.value for e in w.events]),
            e_response=pg_texts([json.dumps(e.response) for e in w.events]),
            e_at=pg_texts([e.occurred_at.isoformat() for e in w.events]),
        )
        # a batch's events name their own visitors: two more columns (another statement
        # text, prepared apart from the single request's)
        own, own_columns, who = "", "", "%(session)s, %(vid)s::varchar"
        if w.batch:
            p.update(
                e_session=pg_texts([e.session for e in w.events]),
                e_vid=pg_texts([e.vid for e in w.events]),
            )
            own, own_columns, who = (
                ", %(e_session)s::varchar[], %(e_vid)s::varchar[]",
                "session, vid, ",
                "session, vid",
            )
        ctes.append(
            f"e_in AS (SELECT nextval(pg_get_serial_sequence('{e_table}', 'id')) AS id, v.* "
            "FROM unnest(%(e_goal)s::bigint[], %(e_event)s::varchar[], %(e_value)s::float8[], "
            f"%(e_response)s::jsonb[], %(e_at)s::timestamptz[]{own}) WITH ORDINALITY AS "
            f"v(goal_id, event_id, value, response, occurred_at, {own_columns}ord))"
        )
        ctes.append(
            f"new_e AS (INSERT INTO {e_table} (id, goal_id, event_id, value, response, "
            "account_id, session, vid, target_id, channel, received_at, occurred_at) "
            f"SELECT id, goal_id, event_id, value, response, %(account)s, {who}, "
            "%(target)s, %(channel)s, %(now)s, occurred_at "
            "FROM e_in ORDER BY ord)"
        )
    ctes += _aggregate_ctes(w, p)
    credits = [
        (i + 1, c.assignment, c.agent_id, c.variation_id, e.goal_id, e.value, c.first)
        for i, e in enumerate(w.events)
        for c in e.credits
    ]
    if not credits:
        statement_execute(sql="WITH " + ", ".join(ctes) + " SELECT 1", params=p)
        return
    new_ord = {id(r): i + 1 for i, r in enumerate(w.new_rows)}
    p.update(
        c_event=pg_ints([c[0] for c in credits]),
        c_assignment=pg_ints([c[1].id for c in credits]),
        c_new=pg_ints([new_ord.get(id(c[1])) if c[1].id is None else None for c in credits]),
        c_agent=pg_ints([c[2] for c in credits]),
        c_variation=pg_ints([c[3] for c in credits]),
        c_goal=pg_ints([c[4] for c in credits]),
        c_value=pg_floats([c[5] for c in credits]),
        c_first=pg_bools([c[6] for c in credits]),
    )
    new_a_ref = "(SELECT id FROM a_in WHERE a_in.ord = v.new_ord)" if w.new_rows else "NULL"
    main = (
        f"INSERT INTO {c_table} (event_id, assignment_id, goal_id, agent_id, variation_id, "
        "value, first, account_id, channel, created_at) "
        f"SELECT e_in.id, COALESCE(v.assignment_id, {new_a_ref}), v.goal_id, v.agent_id, "
        "v.variation_id, v.value, v.first, %(account)s, %(channel)s, %(now)s "
        "FROM unnest(%(c_event)s::bigint[], %(c_assignment)s::bigint[], %(c_new)s::bigint[], "
        "%(c_goal)s::bigint[], %(c_agent)s::bigint[], %(c_variation)s::bigint[], "
        "%(c_value)s::float8[], %(c_first)s::boolean[]) WITH ORDINALITY AS v(event_ord, "
        "assignment_id, new_ord, goal_id, agent_id, variation_id, value, first, ord) "
        "JOIN e_in ON e_in.ord = v.event_ord ORDER BY v.ord"
    )
    statement_execute(sql="WITH " + ", ".join(ctes) + " " + main, params=p)


def _aggregate_cte_texts() -> tuple[str, str, str]:
    """The aggregate upserts as PostgreSQL CTEs (static text, built once): new visitors,
    new visitors and confirmations, goal deltas."""
    v, g = VisitorDay._meta.db_table, GoalDay._meta.db_table
    counts = ", ".join(GOAL_DAY_COUNTS)
    new_visitors = (
        "unnest(%(vd_agent)s::bigint[], %(vd_variation)s::bigint[], %(vd_channel)s::varchar[], "
        "%(vd_forced)s::boolean[], %(vd_phase)s::int[], %(vd_n)s::bigint[]) "
        "WITH ORDINALITY AS v(agent_id, variation_id, channel, forced, phase, n, ord)"
    )
    insert = f"agg_v AS (INSERT INTO {v} ({', '.join((*_VISITOR_KEYS, *VISITOR_DAY_COUNTS))}) "
    tail = adding_tail(v, _VISITOR_KEYS, VISITOR_DAY_COUNTS)
    visitors = (
        f"{insert}SELECT agent_id, variation_id, %(day)s, channel, forced, phase, %(shard)s, "
        f"%(account)s, n "
        f"FROM {new_visitors} ORDER BY ord {tail})"
    )
    # a confirmation counts only when `conf` (this statement's UPDATE) confirmed the row
    with_confirmations = (
        f"{insert}SELECT agent_id, variation_id, %(day)s, channel, forced, phase, %(shard)s, "
        f"%(account)s, sum(n) FROM (SELECT agent_id, variation_id, channel, forced, phase, n FROM "
        f"{new_visitors} UNION ALL SELECT c.agent_id, c.variation_id, c.channel, c.forced, "
        "c.phase, 1 FROM unnest(%(cf_id)s::bigint[], %(cf_agent)s::bigint[], "
        "%(cf_variation)s::bigint[], %(cf_channel)s::varchar[], %(cf_forced)s::boolean[], "
        "%(cf_phase)s::int[]) AS c(id, agent_id, variation_id, channel, forced, phase) "
        "JOIN conf ON conf.id = c.id) AS d GROUP BY agent_id, variation_id, channel, forced, "
        f"phase ORDER BY agent_id, variation_id, channel, forced, phase {tail})"
    )
    goals = (
        f"agg_g AS (INSERT INTO {g} ({', '.join(_GOAL_KEYS)}, {counts}) "
        f"SELECT agent_id, variation_id, goal_id, day, %(channel)s, forced, phase, %(shard)s, "
        f"%(account)s, {counts} FROM unnest(%(gd_agent)s::bigint[], %(gd_variation)s::bigint[], "
        "%(gd_goal)s::bigint[], %(gd_day)s::date[], %(gd_forced)s::boolean[], "
        "%(gd_phase)s::int[], "
        "%(gd_conversions)s::bigint[], %(gd_credits)s::bigint[], %(gd_sum)s::float8[], "
        "%(gd_sumsq)s::float8[]) "
        f"WITH ORDINALITY AS v(agent_id, variation_id, goal_id, day, forced, phase, {counts}, "
        "ord) "
        f"ORDER BY ord {adding_tail(g, _GOAL_KEYS, GOAL_DAY_COUNTS)})"
    )
    return visitors, with_confirmations, goals


_VISITOR_DAY_CTE, _VISITOR_DAY_CONFIRMED_CTE, _GOAL_DAY_CTE = _aggregate_cte_texts()


def _aggregate_ctes(w: RequestWrites, p: dict[str, Any]) -> list[str]:
    """`_aggregate_statements` for PostgreSQL: the same upserts, rows as arrays in `p`
    (visitors' day, and goals' channel, are the request's own; goals' day is each
    goal's)."""
    ctes: list[str] = []
    if w.deltas.empty and not w.confirmed_rows:
        return ctes
    p.update(shard=_shard(), day=w.now.date())
    rows = w.deltas.visitor_rows()
    if rows or w.confirmed_rows:
        agent, variation, _day, channel, forced, phase, n = (
            zip(*rows, strict=True) if rows else ((),) * 7
        )
        p.update(
            vd_agent=pg_ints(agent),
            vd_variation=pg_ints(variation),
            vd_channel=pg_texts(channel),
            vd_forced=pg_bools(forced),
            vd_phase=pg_ints(phase),
            vd_n=pg_ints(n),
        )
        if w.confirmed_rows:
            keys = [w.visitor_key(r) for r in w.confirmed_rows]
            p.update(
                cf_id=pg_ints([r.id for r in w.confirmed_rows]),
                cf_agent=pg_ints([k.agent_id for k in keys]),
                cf_variation=pg_ints([k.variation_id for k in keys]),
                cf_channel=pg_texts([k.channel for k in keys]),
                cf_forced=pg_bools([k.forced for k in keys]),
                cf_phase=pg_ints([k.phase for k in keys]),
            )
        ctes.append(_VISITOR_DAY_CONFIRMED_CTE if w.confirmed_rows else _VISITOR_DAY_CTE)
    rows = w.deltas.goal_rows()
    if rows:
        (
            agent,
            variation,
            goal,
            days,
            _channel,
            forced,
            phase,
            conversions,
            credits,
            sums,
            sumsqs,
        ) = zip(*rows, strict=True)
        p.update(
            gd_agent=pg_ints(agent),
            gd_variation=pg_ints(variation),
            gd_goal=pg_ints(goal),
            gd_day=pg_texts([day.isoformat() for day in days]),  # the days the goals happened
            gd_forced=pg_bools(forced),
            gd_phase=pg_ints(phase),
            gd_conversions=pg_ints(conversions),
            gd_credits=pg_ints(credits),
            gd_sum=pg_floats(sums),
            gd_sumsq=pg_floats(sumsqs),
        )
        ctes.append(_GOAL_DAY_CTE)
    return ctes


def replay_writes_save(*, writes: RequestWrites, event_pk: int, response: dict[str, Any]) -> None:
    """Record what judging a stored goal event again credited (`visitors.replay`): its new
    credits, tied to the event already stored, the aggregates they add to, and its new
    answer; all or nothing. Raises IntegrityError when a concurrent request credited the
    same once-goal first."""
    [event] = writes.events
    credits = _credits(writes, event, event_pk)
    with transaction.atomic():
        if credits:
            _rows_insert(credits, routed=distributed())
        # by account too: on Citus, the account's shard alone
        GoalEvent.objects.filter(account_id=writes.account_id, pk=event_pk).update(
            response=response
        )
        _aggregates_save(writes)
