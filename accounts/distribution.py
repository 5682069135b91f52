"""Sharding by account (docs/scaling.md, "The Citus path"): which tables a request writes
and would be distributed by `account_id`, which are configuration (reference tables,
copied to every node), and what in the schema keeps them from being distributed yet.

Citus distributes a table by one column and refuses a primary or unique key that does
not include it: `shape_problems` lists each such key in the database, and each
distributed table without the column. Tables are named by their database table, models
read from Django's registry, so this bottom layer imports no app.
"""

from dataclasses import dataclass

from django.apps import apps
from django.db import connection, models

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
    (constraint or unique index, partial ones included) without it."""
    problems = []
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
                if DISTRIBUTION_COLUMN not in info["columns"]:
                    kind = "primary key" if info["primary_key"] else f"unique key {name}"
                    keyed = ", ".join(info["columns"])
                    problems.append(
                        ShapeProblem(table, f"{kind} ({keyed}) lacks {DISTRIBUTION_COLUMN}")
                    )
    return problems
