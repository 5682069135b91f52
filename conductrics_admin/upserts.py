"""Additive upserts: the one rule by which counts are added to a table's rows, whatever
adds them (a request's report aggregates, the goal diagnostics, the match rate):
`INSERT … ON CONFLICT (keys) DO UPDATE SET n = table.n + excluded.n`, atomic in both
databases, so concurrent writers never lose each other's counts."""

from collections.abc import Sequence


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
