"""Deterministic weighted bucketing: the same (agent, visitor) gets the same variation anywhere.

The browser client makes the same decisions (`static/conductrics/conductrics.js`, local
decisions): both pass `tests/vectors/local_decisions.json`, so every float operation here
has its exact twin there.
"""

import hashlib
from collections.abc import Sequence
from typing import Protocol, TypeVar


class Weighted(Protocol):
    @property
    def weight(self) -> float: ...


W = TypeVar("W", bound=Weighted)

_SCALE = float(2**64)


def bucket_point(*, agent_code: str, identity: str) -> float:
    """Return a number in [0, 1) fixed by (agent code, visitor identity), uniform over visitors."""
    digest = hashlib.sha256(f"{agent_code}\x1f{identity}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def variation_pick(*, agent_code: str, identity: str, variations: Sequence[W]) -> W | None:
    """Pick one of `variations` (in their order) with probability proportional to its weight.

    Returns None when no variation has a weight above 0.
    """
    eligible = [v for v in variations if v.weight > 0]
    total = 0.0
    for variation in eligible:  # left to right, as the browser adds (sum() may compensate)
        total += variation.weight
    if not eligible or total <= 0:
        return None
    point = bucket_point(agent_code=agent_code, identity=identity) * total
    cumulative = 0.0
    for variation in eligible:
        cumulative += variation.weight
        if point < cumulative:
            return variation
    return eligible[-1]  # float rounding at the very top of the range


def random_number(*, agent_code: str, identity: str) -> int:
    """The visitor's number 1 to 100 for an agent (the condition source `random`), by hash
    of (agent code + "/random", identity): independent of its variation's bucket."""
    return int(bucket_point(agent_code=f"{agent_code}/random", identity=identity) * 100) + 1
