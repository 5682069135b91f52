"""Additive upserts: the one rule by which counts are added to a table's rows, whatever
adds them (a request's report aggregates, the goal diagnostics, the match rate):
`INSERT … ON CONFLICT (keys) DO UPDATE SET n = table.n + excluded.n`, atomic in both
databases, so concurrent writers never lose each other's counts."""

import logging
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

from django.db import DatabaseError, connection, transaction

logger = logging.getLogger(__name__)


def adding_tail(table: str, keys: Sequence[str], counts: Sequence[str]) -> str:
    """`ON CONFLICT (keys) DO UPDATE SET n = table.n + excluded.n, ...`."""
    adds = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counts)
    return f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {adds}"


def adding_insert(table: str, keys: Sequence[str], counts: Sequence[str], rows: int) -> str:
    """The whole statement for `rows` rows of placeholders (keys, then counts)."""
    row = "(" + ", ".join(["%s"] * (len(keys) + len(counts))) + ")"
    return (
        f"INSERT INTO {table} ({', '.join((*keys, *counts))}) VALUES "  # noqa: S608 - names
        + ", ".join([row] * rows)
        + " "
        + adding_tail(table, keys, counts)
    )


def counts_send(
    statements: Sequence[tuple[str, list[Any]]], *, cleanup: Callable[[], None], what: str
) -> None:
    """Run a buffer's upserts, then its `cleanup` (which deletes old rows when due), as one
    unit. Never raises: counts that cannot be sent (the database is down) are dropped and
    logged, for a measurement on the side must neither fail a request nor pile up in
    memory."""
    try:
        # a statement stands alone; inside a transaction, a savepoint keeps a failure out
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            with connection.cursor() as cursor:
                for sql, params in statements:
                    cursor.execute(sql, params)
            cleanup()
    except DatabaseError:
        logger.warning("%s not counted: database unavailable", what)
