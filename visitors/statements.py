"""Running the agent-api's hand-written statements (the visitor read, the request write).

On PostgreSQL they go through a cursor that binds parameters on the server, so psycopg
prepares each statement shape once per connection and PostgreSQL stops planning it on
every request (planning cost more than running them). Prepared statements are on unless
`DB_PREPARED_STATEMENTS=false` (needed behind a transaction-pooling PgBouncer); Django's
own ORM queries keep client-side binding either way.

The read also stands in for Django's per-request connection health check: instead of a
`SELECT 1` round trip before it, a read on a reused connection that finds the connection
dead reconnects and runs once more. Writes are never repeated this way (a lost answer
does not tell whether the write happened).

Outside query logging (DEBUG, or a test capturing queries) and Django's execute wrappers,
they run on one psycopg cursor kept per connection, inside Django's database-error
translation but without its cursor wrapper (what the wrapper and a new cursor per
statement cost is in docs/benchmarks.md).
"""

from collections.abc import Sequence
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

# the PostgreSQL backend's cursor with server-side binding (psycopg is a dependency)
from django.db.backends.postgresql.base import (  # type: ignore[attr-defined]  # not in the stubs
    ServerBindingCursor,
)
from django.db.backends.utils import CursorWrapper
from psycopg.types.datetime import TimestamptzLoader


def _cursor(db: BaseDatabaseWrapper) -> CursorWrapper:
    if db.vendor != "postgresql":
        return db.cursor()
    db.ensure_connection()
    with db.wrap_database_errors:
        raw = ServerBindingCursor(db.connection)
        # the same wrappers as db.cursor(): query logging, execute_wrappers
        return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)


Params = Sequence[Any] | dict[str, Any]  # positional (%s) or named (%(name)s)
Rows = list[tuple[Any, ...]]


def _run(db: BaseDatabaseWrapper, sql: str, params: Params, *, fetch: bool) -> Rows | None:
    """Execute on `db` (a Django database wrapper); the rows when `fetch`."""
    if db.vendor == "postgresql" and not db.queries_logged and not db.execute_wrappers:
        if db.connection is None:
            db.ensure_connection()
        cursor = getattr(db, "_agent_api_cursor", None)
        if cursor is None or cursor.connection is not db.connection or cursor.closed:
            cursor = db._agent_api_cursor = ServerBindingCursor(db.connection)  # type: ignore[attr-defined]
            # psycopg's own timestamptz loader, in C, in the session's time zone (UTC, as
            # Django sets it): the same instants as Django's loader, which is Python code
            # run for every value read
            cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        db.validate_no_broken_transaction()
        with db.wrap_database_errors:
            cursor.execute(sql, params)
            return cursor.fetchall() if fetch else None
    with _cursor(db) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if fetch else None


def statement_fetch(*, sql: str, params: Params) -> Rows:
    """Run a read and return its rows; reconnect once if a reused connection was dead.

    Raises django.db.DatabaseError when the database fails (again).
    """
    db = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` goes through a proxy
    # Django checks a reused connection before the first query of a request (a round trip);
    # this read is that first query, so it checks the connection by being run.
    check = (
        db.vendor == "postgresql"
        and db.connection is not None
        and db.health_check_enabled  # type: ignore[attr-defined]  # Django 5.1's, not in the stubs
        and not db.health_check_done  # type: ignore[attr-defined]
        and not db.in_atomic_block
    )
    if check:
        db.health_check_done = True  # type: ignore[attr-defined]
    for attempt in range(2):
        try:
            rows = _run(db, sql, params, fetch=True)
            return rows if rows is not None else []
        except DatabaseError:
            if attempt or not check or db.is_usable():
                raise  # the statement failed, not the connection
            db.close()  # the next attempt reconnects
    raise AssertionError("unreachable")  # pragma: no cover


def statement_execute(*, sql: str, params: Params) -> None:
    """Run a write. Raises IntegrityError on a constraint, DatabaseError on a failure."""
    _run(connections[DEFAULT_DB_ALIAS], sql, params, fetch=False)


def statement_returning(*, sql: str, params: Params) -> Rows:
    """Run a write and return the rows of its RETURNING (never run twice, as a write)."""
    rows = _run(connections[DEFAULT_DB_ALIAS], sql, params, fetch=True)
    return rows if rows is not None else []


# Array literals: a request's rows go to PostgreSQL as one text parameter per column, cast
# in the SQL (`%(x)s::bigint[]`). psycopg's own list adaptation picks a dumper per list
# and per element, which cost more than the rest of the statement's parameters.


def pg_ints(values: Sequence[int | None]) -> str:
    """`{1,NULL,3}` for bigint[] (or int[])."""
    if None in values:
        return "{" + ",".join(["NULL" if v is None else str(int(v)) for v in values]) + "}"
    return "{" + ",".join(map(str, map(int, cast(Sequence[int], values)))) + "}"


def pg_floats(values: Sequence[float]) -> str:
    """`{2.5,inf,nan}` for float8[] (PostgreSQL reads Python's repr, infinities included)."""
    return "{" + ",".join(map(repr, map(float, values))) + "}"


def pg_bools(values: Sequence[bool]) -> str:
    """`{t,f}` for boolean[]."""
    return "{" + ",".join(["t" if v else "f" for v in values]) + "}"


def pg_texts(values: Sequence[str | None]) -> str:
    """`{"a\\"b",NULL}` for varchar[], text[] or jsonb[]: each quoted, backslash and quote
    escaped (so NULL, braces and commas inside a value stay text)."""
    return (
        "{"
        + ",".join(
            [
                "NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                for v in values
            ]
        )
        + "}"
    )
