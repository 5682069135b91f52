"""Sharding by account on Citus (docs/scaling.md, "The Citus path"): which tables a
request writes and are distributed by `account_id`, which are configuration (reference
tables, copied to every node), what in the schema would keep them from being
distributed, and the statements that distribute a database (`citus_distribute`).

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
    models_ = apps.get_models(include_auto_created=True)  # many-to-many tables too
    return [m for m in models_ if m._meta.app_label in own and m._meta.managed]


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


def account_in_key(*, null: bool = False) -> models.ForeignKey:
    """The account column of a table that had none (the report aggregates, the recent
    requests): in its keys, with no constraint or index of its own, as on raw rows.
    `null` only while a migration fills it."""
    return models.ForeignKey(
        "accounts.Account",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
        null=null,
    )


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
    `citus_detect`; a thread's first asks connects). The agent-api's statements then name
    the account on every table, so that each goes to the account's shard alone."""
    db = connections[using]
    if db.vendor != "postgresql":
        return False
    if not hasattr(db, "citus"):
        db.ensure_connection()
    return bool(getattr(db, "citus", False))


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


# The table the others are co-located with: the same account's rows of every distributed
# table are on the same node, so a request's statements (joins included) run there.
COLOCATION_ANCHOR = "agents_assignment"
# made a reference table first: every configuration table refers to it
ROOT_REFERENCE_TABLE = "accounts_account"


@dataclass(frozen=True)
class Step:
    """One statement of the distribution, and what it does, in words."""

    sql: str
    what: str


def citus_kinds() -> dict[str, str]:
    """Table -> what Citus has made of it: `distributed`, `reference` or `local` (a "citus
    local" table, on the coordinator alone); tables Citus does not know are absent."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT logicalrelid::regclass::text, partmethod, repmodel FROM pg_dist_partition"
        )
        return {
            table: "distributed" if method == "h" else "reference" if model == "t" else "local"
            for table, method, model in cursor.fetchall()
        }


def _foreign_keys(cursor: Any, table: str) -> dict[str, str]:
    """Column -> the name of the foreign key on it, of `table`'s foreign keys."""
    cursor.execute(
        "SELECT a.attname, c.conname FROM pg_constraint c JOIN pg_attribute a "
        "ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "WHERE c.contype = 'f' AND c.conrelid = %s::regclass",
        [table],
    )
    return dict(cursor.fetchall())


def _models_by_table() -> dict[str, type[models.Model]]:
    return {m._meta.db_table: m for m in project_models()}


def distribution_steps() -> list[Step]:
    """What is left to distribute this database (a Citus coordinator with its workers
    added), in an order that works; empty when it is done.

    1. The distributed tables' foreign keys go (to the configuration they name): a table
       that has one to a reference table is made a "citus local" table along with it,
       and such a table can never be distributed (identity columns).
    2. The distributed tables are distributed by `account_id`, co-located, their rows
       moved to the workers.
    3. The configuration tables become reference tables, `accounts_account` first (the
       tables that refer to it become citus local, then reference tables in turn;
       Django's own tables, users and sessions, stay on the coordinator as citus local).
    4. The foreign keys of step 1 come back, now from distributed to reference tables,
       where Django declares them (checked at once, not deferred to the commit: Citus
       takes them so, and every row of a distributed table is written after what it
       names).
    """
    kinds = citus_kinds()
    by_table = _models_by_table()
    steps: list[Step] = []
    quote = connection.ops.quote_name
    todo = sorted(DISTRIBUTED_TABLES, key=lambda t: (t != COLOCATION_ANCHOR, t))
    stuck = [t for t in todo if kinds.get(t) in ("reference", "local")]
    if stuck:
        raise ValueError(
            f"{', '.join(stuck)}: made a reference or citus local table, which cannot be "
            "distributed; undo it first (SELECT undistribute_table('<table>', "
            "cascade_via_foreign_keys => true))"
        )
    with connection.cursor() as cursor:
        for table in todo:
            if kinds.get(table) == "distributed":
                continue
            for name in _foreign_keys(cursor, table).values():
                steps.append(
                    Step(
                        f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}",
                        f"{table}: its foreign key {name} dropped until it is distributed",
                    )
                )
        for table in todo:
            if kinds.get(table) == "distributed":
                continue
            colocate = "none" if table == COLOCATION_ANCHOR else COLOCATION_ANCHOR
            steps.append(
                Step(
                    f"SELECT create_distributed_table('{table}', '{DISTRIBUTION_COLUMN}', "
                    f"colocate_with => '{colocate}')",
                    f"{table}: distributed by {DISTRIBUTION_COLUMN}",
                )
            )
        references = sorted(reference_tables(), key=lambda t: (t != ROOT_REFERENCE_TABLE, t))
        for table in references:
            if kinds.get(table) != "reference":
                steps.append(
                    Step(
                        f"SELECT create_reference_table('{table}')",
                        f"{table}: a reference table",
                    )
                )
        for table in todo:
            model = by_table.get(table)
            if model is None:
                continue
            present = _foreign_keys(cursor, table) if kinds.get(table) == "distributed" else {}
            for field in model._meta.concrete_fields:
                if not (field.is_relation and getattr(field, "db_constraint", False)):
                    continue
                column = field.column
                if column in present:
                    continue
                target = field.related_model._meta  # type: ignore[union-attr]
                name = f"{table}_{column}_fk"[:63]
                steps.append(
                    Step(
                        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} FOREIGN KEY "
                        f"({quote(column)}) REFERENCES {quote(target.db_table)} "
                        f"({quote(target.pk.column)})",
                        f"{table}: its foreign key to {target.db_table} again",
                    )
                )
    return steps


def cluster_database_create(url: str, name: str) -> None:
    """Create the database `name` on the Citus cluster whose coordinator `url` names (a
    database there with its workers added): on every node, with the citus extension, the
    coordinator and workers added to it as they are to `url`'s. Replaces a database of
    that name. For tests and benchmarks (make test-citus, bench/agent_api.py --citus);
    an installation's database is made once, by hand (docs/scaling.md)."""
    import psycopg  # a dependency; imported here, as only tests and benchmarks call this

    with psycopg.connect(url, autocommit=True) as admin:
        workers = admin.execute(
            "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 AND isactive "
            "ORDER BY nodeid"
        ).fetchall()
        if not workers:
            raise ValueError(f"{url}: no workers (SELECT citus_add_node(host, port) there)")
        coordinator = admin.info.host, admin.info.port
        admin.execute("SET citus.enable_create_database_propagation = on")
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    for host, port in workers:
        with psycopg.connect(url, dbname=name, host=host, port=port, autocommit=True) as node:
            node.execute("CREATE EXTENSION IF NOT EXISTS citus")
    with psycopg.connect(url, dbname=name, autocommit=True) as new:
        new.execute("CREATE EXTENSION IF NOT EXISTS citus")
        new.execute("SELECT citus_set_coordinator_host(%s, %s)", coordinator)
        for host, port in workers:
            new.execute("SELECT citus_add_node(%s, %s)", [host, port])


def cluster_database_drop(url: str, name: str) -> None:
    """Drop `name` from every node of the cluster (see `cluster_database_create`)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SET citus.enable_create_database_propagation = on")
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
