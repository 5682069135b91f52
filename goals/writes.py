"""Writing what one agent-api request recorded: new assignments, confirmations, goal events,
credits and the report aggregates they add to, all of them or none.

On PostgreSQL this is one SQL statement (data-modifying CTEs: a single statement is atomic
on its own, so it needs no BEGIN/COMMIT round trips); elsewhere (SQLite) a short
transaction of bulk inserts. Unique constraints (one assignment per agent and visitor,
one event per goal and event id, one once-credit per assignment) raise IntegrityError
when a concurrent request won the race; the caller then runs the request again.
"""

import json
import random
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction

from agents.models import Assignment
from goals.models import Credit, GoalEvent
from goals.selectors import AssignmentRow
from goals.statements import statement_execute
from reports.models import AGGREGATE_SHARDS, GoalDay, VisitorDay


@dataclass
class EventWrite:
    goal_id: int
    event_id: str | None
    value: float
    response: dict
    # (assignment, agent id, variation id, first credit of this visitor) per credited agent
    credits: list[tuple[AssignmentRow, int, int, bool]] = field(default_factory=list)


def channel_of(target_kind: str) -> str:
    return "client" if target_kind == "express" else "server"


@dataclass
class RequestWrites:
    account_id: int
    target_id: int
    target_kind: str
    channel: str
    session: str
    vid: str | None
    traits: list[str]
    now: datetime
    new_rows: list[AssignmentRow] = field(default_factory=list)
    confirmed_rows: list[AssignmentRow] = field(default_factory=list)
    events: list[EventWrite] = field(default_factory=list)
    # report aggregates: (agent, variation, day, channel) -> new visitors
    visitor_deltas: dict[tuple, int] = field(default_factory=dict)
    # (agent, variation, goal, day, channel) -> [conversions, credits, value sum, sumsq]
    goal_deltas: dict[tuple, list] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.new_rows or self.confirmed_rows or self.events)

    def visitor_add(self, row: AssignmentRow) -> None:
        """Count `row` as a new visitor, on the day it is confirmed."""
        key = (row.agent_id, row.variation_id, self.now.date(), channel_of(row.target_kind))
        self.visitor_deltas[key] = self.visitor_deltas.get(key, 0) + 1

    def credit_add(
        self, *, assignment: AssignmentRow, goal_id: int, variation_id: int, value: float,
        first: bool,
    ) -> None:  # fmt: skip
        """Add a credit to the aggregates; keeps the assignment's running value total."""
        prior = assignment.goal_values.get(goal_id, 0.0)
        assignment.goal_values[goal_id] = prior + value
        assignment.credited_goal_ids.add(goal_id)
        key = (assignment.agent_id, variation_id, goal_id, self.now.date(), self.channel)
        delta = self.goal_deltas.setdefault(key, [0, 0, 0.0, 0.0])
        delta[0] += int(first)
        delta[1] += 1
        delta[2] += value
        delta[3] += (prior + value) ** 2 - prior**2


def request_writes_save(*, writes: RequestWrites) -> None:
    """Record `writes` atomically. Raises IntegrityError when a concurrent request won."""
    if writes.empty:
        return
    if connection.vendor == "postgresql":
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint, so a lost race can be retried
                _save_postgresql(writes)
        else:
            _save_postgresql(writes)
    else:
        with transaction.atomic():
            _save_orm(writes)
            with connection.cursor() as cursor:
                for sql, params in _aggregate_statements(writes):
                    cursor.execute(sql, params)


def _save_orm(w: RequestWrites) -> None:
    if w.new_rows:
        objs = [
            Assignment(
                account_id=w.account_id, agent_id=r.agent_id, variation_id=r.variation_id,
                identity=r.identity, session=r.session, vid=r.vid, target_id=w.target_id,
                target_kind=r.target_kind, traits=w.traits, created_at=r.created_at,
                confirmed_at=r.confirmed_at,
            )
            for r in w.new_rows
        ]  # fmt: skip
        Assignment.objects.bulk_create(objs)
        for row, obj in zip(w.new_rows, objs, strict=True):
            row.id = obj.pk
    if w.confirmed_rows:
        Assignment.objects.filter(
            pk__in=[r.id for r in w.confirmed_rows], confirmed_at__isnull=True
        ).update(confirmed_at=w.now)
    if not w.events:
        return
    events = [
        GoalEvent(
            account_id=w.account_id, goal_id=e.goal_id, event_id=e.event_id, session=w.session,
            vid=w.vid, target_id=w.target_id, channel=w.channel, value=e.value,
            received_at=w.now, response=e.response,
        )
        for e in w.events
    ]  # fmt: skip
    GoalEvent.objects.bulk_create(events)
    credits = [
        Credit(
            account_id=w.account_id, event_id=event.pk, goal_id=e.goal_id, agent_id=agent_id,
            variation_id=variation_id, assignment_id=row.id, value=e.value, channel=w.channel,
            first=first, created_at=w.now,
        )
        for event, e in zip(events, w.events, strict=True)
        for row, agent_id, variation_id, first in e.credits
    ]  # fmt: skip
    if credits:
        Credit.objects.bulk_create(credits)


def _aggregate_statements(w: RequestWrites) -> list[tuple[str, list]]:
    """Upserts that add this request's counts to the aggregates (same SQL on both databases).

    Each request adds to one of `AGGREGATE_SHARDS` rows per key, chosen at random: a single
    row per variation and day would be locked by every concurrent request from its update
    to its commit. Rows go in key order, so two requests always lock in the same order.
    """
    statements = []
    shard = _shard()
    if w.visitor_deltas:
        params: list = []
        rows = [(*key, shard, n) for key, n in sorted(w.visitor_deltas.items())]
        values = _values(rows, params)
        table = VisitorDay._meta.db_table
        statements.append((
            f"INSERT INTO {table} (agent_id, variation_id, day, channel, shard, visitors) "
            f"VALUES {values} ON CONFLICT (agent_id, variation_id, day, channel, shard) "
            f"DO UPDATE SET visitors = {table}.visitors + excluded.visitors",
            params,
        ))  # fmt: skip
    if w.goal_deltas:
        params = []
        rows = [(*key, shard, *delta) for key, delta in sorted(w.goal_deltas.items())]
        values = _values(rows, params)
        table = GoalDay._meta.db_table
        statements.append((
            f"INSERT INTO {table} (agent_id, variation_id, goal_id, day, channel, shard, "
            f"conversions, credits, value_sum, value_sumsq) VALUES {values} "
            "ON CONFLICT (agent_id, variation_id, goal_id, day, channel, shard) DO UPDATE SET "
            f"conversions = {table}.conversions + excluded.conversions, "
            f"credits = {table}.credits + excluded.credits, "
            f"value_sum = {table}.value_sum + excluded.value_sum, "
            f"value_sumsq = {table}.value_sumsq + excluded.value_sumsq",
            params,
        ))  # fmt: skip
    return statements


def _shard() -> int:
    if connection.vendor != "postgresql":
        return 0  # SQLite runs one write at a time anyway
    return random.randrange(AGGREGATE_SHARDS)  # noqa: S311 - spreading locks, not a secret


def _values(rows: list[tuple], params: list) -> str:
    """Render rows as a VALUES list of placeholders, appending their values to `params`."""
    rendered = []
    for row in rows:
        params.extend(row)
        rendered.append("(" + ", ".join(["%s"] * len(row)) + ")")
    return ", ".join(rendered)


def _save_postgresql(w: RequestWrites) -> None:
    """One statement: ids are drawn from the tables' sequences first, so credits can refer
    to assignments and events inserted by the same statement (foreign keys are deferred)."""
    ctes: list[str] = []
    params: list = []
    a_table, e_table, c_table = (
        Assignment._meta.db_table, GoalEvent._meta.db_table, Credit._meta.db_table,
    )  # fmt: skip
    if w.new_rows:
        ctes.append(
            f"a_ids AS (SELECT nextval(pg_get_serial_sequence('{a_table}', 'id')) AS id, ord "
            f"FROM generate_series(1, {len(w.new_rows)}) AS ord)"
        )
        traits = json.dumps(w.traits)
        rows = [
            (i + 1, r.agent_id, r.variation_id, r.identity, r.session, r.vid, r.target_kind,
             traits, r.created_at, r.confirmed_at)
            for i, r in enumerate(w.new_rows)
        ]  # fmt: skip
        params.extend([w.account_id, w.target_id])
        values = _values(rows, params)
        ctes.append(
            f"new_a AS (INSERT INTO {a_table} (id, account_id, agent_id, variation_id, identity, "
            "session, vid, target_id, target_kind, traits, created_at, confirmed_at) "
            "SELECT a_ids.id, %s, v.agent_id::bigint, v.variation_id::bigint, v.identity, "
            "v.session, v.vid::varchar, %s, v.target_kind, v.traits::jsonb, "
            "v.created_at::timestamptz, v.confirmed_at::timestamptz "
            f"FROM (VALUES {values}) AS v(ord, agent_id, variation_id, identity, session, vid, "
            "target_kind, traits, created_at, confirmed_at) JOIN a_ids USING (ord))"
        )
    if w.confirmed_rows:
        params.extend([w.now, [int(r.id) for r in w.confirmed_rows]])
        ctes.append(
            f"conf AS (UPDATE {a_table} SET confirmed_at = %s "
            "WHERE id = ANY(%s) AND confirmed_at IS NULL)"
        )
    credit_rows: list[tuple] = []
    if w.events:
        ctes.append(
            f"e_ids AS (SELECT nextval(pg_get_serial_sequence('{e_table}', 'id')) AS id, ord "
            f"FROM generate_series(1, {len(w.events)}) AS ord)"
        )
        rows = [
            (i + 1, e.goal_id, e.event_id, e.value, json.dumps(e.response))
            for i, e in enumerate(w.events)
        ]
        params.extend([w.account_id, w.session, w.vid, w.target_id, w.channel, w.now])
        values = _values(rows, params)
        ctes.append(
            f"new_e AS (INSERT INTO {e_table} (id, goal_id, event_id, value, response, "
            "account_id, session, vid, target_id, channel, received_at) "
            "SELECT e_ids.id, v.goal_id::bigint, v.event_id::varchar, v.value::float8, "
            "v.response::jsonb, %s, %s, %s::varchar, %s, %s, %s "
            f"FROM (VALUES {values}) AS v(ord, goal_id, event_id, value, response) "
            "JOIN e_ids USING (ord))"
        )
        new_ord = {id(r): i + 1 for i, r in enumerate(w.new_rows)}
        for i, e in enumerate(w.events):
            for row, agent_id, variation_id, first in e.credits:
                credit_rows.append(
                    (i + 1, row.id, new_ord.get(id(row)) if row.id is None else None,
                     e.goal_id, agent_id, variation_id, e.value, first)
                )  # fmt: skip
    for n, (agg_sql, agg_params) in enumerate(_aggregate_statements(w)):
        ctes.append(f"agg{n} AS ({agg_sql})")
        params.extend(agg_params)
    if credit_rows:
        params.extend([w.account_id, w.channel, w.now])
        values = _values(credit_rows, params)
        new_a_ref = (
            "(SELECT id FROM a_ids WHERE a_ids.ord = v.new_ord::int)" if w.new_rows else "NULL"
        )
        main = (
            f"INSERT INTO {c_table} (event_id, assignment_id, goal_id, agent_id, variation_id, "
            "value, first, account_id, channel, created_at) "
            f"SELECT e_ids.id, COALESCE(v.assignment_id::bigint, {new_a_ref}), "
            "v.goal_id::bigint, v.agent_id::bigint, v.variation_id::bigint, v.value::float8, "
            "v.first::boolean, %s, %s, %s "
            f"FROM (VALUES {values}) AS v(ord, assignment_id, new_ord, goal_id, agent_id, "
            "variation_id, value, first) JOIN e_ids USING (ord)"
        )
    else:
        main = "SELECT 1"
    statement_execute(sql="WITH " + ", ".join(ctes) + " " + main, params=params)
