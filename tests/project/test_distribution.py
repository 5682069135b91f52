"""The schema's shape for sharding by account (accounts.distribution, docs/scaling.md):
every product table is classified, and what keeps the distributed ones from being
distributed can only shrink. Runs on both databases, on the migrated schema."""

import pytest

from accounts.distribution import (
    DISTRIBUTED_TABLES,
    project_models,
    reference_tables,
    shape_problems,
)

pytestmark = pytest.mark.django_db

# What the schema lacks, by table: nothing since the migrations "distributable_by_account"
# (issue #35). A new table or key written by requests without account_id fails the test.
NOT_YET: dict[str, set[str]] = {}


def _kind(problem) -> str:
    text = problem.problem
    return "column" if text.startswith("no ") else " ".join(text.split()[:2])


def test_every_product_table__is_distributed_or_reference():
    tables = {m._meta.db_table for m in project_models()}
    assert tables >= DISTRIBUTED_TABLES, DISTRIBUTED_TABLES - tables
    assert set(reference_tables()) == tables - DISTRIBUTED_TABLES
    assert "accounts_account" in reference_tables()
    assert "agents_assignment" not in reference_tables()


def test_shape__what_blocks_distribution_only_shrinks():
    found: dict[str, set[str]] = {}
    for problem in shape_problems():
        found.setdefault(problem.table, set()).add(_kind(problem))
    new = {t: kinds - NOT_YET.get(t, set()) for t, kinds in found.items()}
    assert not any(new.values()), f"distributed tables gained keys without account_id: {new}"
    fixed = {t: kinds - found.get(t, set()) for t, kinds in NOT_YET.items()}
    assert not any(fixed.values()), f"fixed (remove them from NOT_YET): {fixed}"


def test_shape__a_unique_key_without_account_is_found(django_db_blocker):
    """The check reads the database: a unique index added outside Django is caught."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE UNIQUE INDEX shape_probe ON visitors_visitorlink (vid)")
    try:
        problems = [str(p) for p in shape_problems()]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX shape_probe")
    assert "visitors_visitorlink: unique key shape_probe (vid) lacks account_id" in problems
