"""Sharding by account (docs/scaling.md, "The Citus path"): which tables a request writes
and would be distributed by `account_id`, which are configuration (reference tables,
copied to every node), and what in the schema keeps them from being distributed yet.

Citus distributes a table by one column and refuses a primary or unique key that does
not include it: `shape_problems` lists each such key in the database, and each
distributed table without the column. Tables are named by their database table, models
read from Django's registry, so this bottom layer imports no app.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connection, connections, migrations, models
from django.db.backends.base.base import BaseDatabaseWrapper

DISTRIBUTION_COLUMN = "account_id"

# Written by the agent-api's requests (raw rows, report aggregates, the goal diagnostics,
# the match rate, the install page's recent requests): one account per request, so one
# node per request once distributed and co-located.
DISTRIBUTED_TABLES = frozenset(
    {
        "agents_assignment",
        "goals_goalevent",
        "goals_credit",
        "visitors_visitorlink",
        "reports_visitorday",
        "reports_goalday",
        "reports_linkconflict",
        "goals_goaloutcomecount",
        "goals_goalmatchday",
        "goals_goaldelayday",
        "targets_recentrequest",
    }
)


@dataclass(frozen=True)
class ShapeProblem:
    table: str
    problem: str

    def __str__(self) -> str:
        return f"{self.table}: {self.problem}"


def project_models() -> list[type[models.Model]]:
    """The product's own models (Django's and libraries' tables stay on the coordinator)."""
    own = {"accounts", "agents", "goals", "targets", "visitors", "reports", "notifications"}
    return [m for m in apps.get_models() if m._meta.app_label in own and m._meta.managed]


def reference_tables() -> list[str]:
    """The product's tables that are not distributed: configuration, copied to every node."""
    return sorted(
        m._meta.db_table for m in project_models() if m._meta.db_table not in DISTRIBUTED_TABLES
    )


def shape_problems() -> list[ShapeProblem]:
    """What keeps each distributed table from being distributed by `account_id`, as the
    database has it (what Citus reads): a missing column, a primary key or a unique key
    (constraint or unique index, partial ones included) without it.

    On SQLite the primary key is not read: it is the rowid (`id INTEGER PRIMARY KEY`),
    which cannot take a second column, and SQLite is never distributed."""
    problems = []
    rowid = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for table in sorted(DISTRIBUTED_TABLES & tables):
            columns = {
                c.name for c in connection.introspection.get_table_description(cursor, table)
            }
            if DISTRIBUTION_COLUMN not in columns:
                problems.append(ShapeProblem(table, f"no {DISTRIBUTION_COLUMN} column"))
            constraints = connection.introspection.get_constraints(cursor, table)
            for name, info in sorted(constraints.items()):
                if not (info["primary_key"] or info["unique"]) or not info["columns"]:
                    continue
                if info["primary_key"] and rowid:
                    continue
                if DISTRIBUTION_COLUMN not in info["columns"]:
                    kind = "primary key" if info["primary_key"] else f"unique key {name}"
                    keyed = ", ".join(info["columns"])
                    problems.append(
                        ShapeProblem(table, f"{kind} ({keyed}) lacks {DISTRIBUTION_COLUMN}")
                    )
    return problems


def primary_key_with_account(table: str) -> migrations.RunPython:
    """A migration operation: on PostgreSQL, `table`'s primary key (id) becomes
    (id, account_id), which Citus can distribute by account. The id stays unique on its
    own (one sequence), and leads the key, so a lookup by id alone keeps its index. Django
    still names `id` the primary key. SQLite keeps its rowid (see `shape_problems`)."""

    def change(columns: str) -> Callable[[Any, Any], None]:
        def run(apps: Any, schema_editor: Any) -> None:
            if schema_editor.connection.vendor != "postgresql":
                return
            quote = schema_editor.quote_name
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
                    "AND contype = 'p'",
                    [table],
                )
                [name] = cursor.fetchone()
            schema_editor.execute(
                f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}, "
                f"ADD CONSTRAINT {quote(table + '_pkey')} PRIMARY KEY ({columns})"
            )

        return run

    return migrations.RunPython(change(f"id, {DISTRIBUTION_COLUMN}"), change("id"))


def distributed(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the database is a Citus coordinator (told when the connection was made by
    `citus_detect`). The agent-api's statements then name the account on every table,
    so that each goes to the account's shard alone."""
    return bool(getattr(connections[using], "citus", False))


def citus_detect(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """On each new PostgreSQL connection (`connection_created`): whether the database has
    the citus extension. If it has, the forced generic plans the settings ask for are
    undone for this connection: Citus plans a prepared statement for the shard its
    parameters name, and refuses generic plans of some (parameters in SQL functions)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        connection.citus = cursor.fetchone() is not None  # type: ignore[attr-defined]
        if connection.citus:  # type: ignore[attr-defined]
            cursor.execute("SET plan_cache_mode = auto")
