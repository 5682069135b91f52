"""Adaptive allocation's shares (SPEC §4e): each variation's chance of having the best
conversion rate (Thompson sampling over Beta(1, 1) posteriors), with a floor, and equal
shares until every variation has enough visitors. Pure: no database; the period's
rollover that reads the aggregates is `reports.adaptive`.

The chance of being best is computed, not sampled: P(v best) = ∫ f_v(x) Π_{j≠v} F_j(x) dx
over a grid spanning where the posteriors have mass, so the same counts always give the
same shares (every server, every replay of the simulation) at a cost of about a
millisecond.
"""

import math
from collections.abc import Sequence

GRID = 600  # points of the integral; each P(best) is then within about 1e-4
_SPAN = 9.0  # standard deviations either side of the posteriors' means


def best_chances(counts: Sequence[tuple[int, int]]) -> list[float]:
    """For (conversions, visitors) per variation: the probability that each has the
    highest rate, its rate's posterior Beta(1 + conversions, 1 + visitors − conversions)."""
    params = [(1.0 + c, 1.0 + max(n - c, 0)) for c, n in counts]
    if len(params) < 2:
        return [1.0] * len(params)
    means = [a / (a + b) for a, b in params]
    sds = [math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))) for a, b in params]
    low = max(0.0, min(m - _SPAN * s for m, s in zip(means, sds, strict=True)))
    high = min(1.0, max(m + _SPAN * s for m, s in zip(means, sds, strict=True)))
    step = (high - low) / GRID
    xs = [low + (i + 0.5) * step for i in range(GRID)]  # midpoints: no log(0)
    logs = [(math.log(x), math.log1p(-x)) for x in xs]
    exp = math.exp
    cells: list[list[float]] = []  # each posterior's mass per cell of the grid
    below: list[list[float]] = []  # P(rate < the cell's midpoint): half the cell's own mass
    for a, b in params:
        log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        row = [exp(log_norm + (a - 1) * lx + (b - 1) * l1x) for lx, l1x in logs]
        mass = sum(row) or 1.0
        row = [d / mass for d in row]
        acc, cdf = 0.0, []
        for d in row:
            cdf.append(acc + d / 2)
            acc += d
        cells.append(row)
        below.append(cdf)
    everyone = [math.prod(column) for column in zip(*below, strict=True)]
    # Π over the others = the product over all without its own factor (where that factor
    # underflows to 0, so does the cell's mass: nothing is left out)
    chances = [
        sum(d * every / own for d, every, own in zip(row, everyone, cdf, strict=True) if own > 0)
        for row, cdf in zip(cells, below, strict=True)
    ]
    total = sum(chances) or 1.0
    return [c / total for c in chances]


def adaptive_shares(
    counts: Sequence[tuple[int, int]],
    *,
    active: Sequence[bool],
    floor: float,
    burn_in: int,
) -> list[float]:
    """The shares of new visitors for the next period: 0 for inactive variations (weight
    0); equal among the active ones until each has `burn_in` visitors; else each active
    variation's chance of being best among them, lifted so that none is under `floor`
    (a floor above an equal share becomes the equal share)."""
    on = [i for i, a in enumerate(active) if a]
    shares = [0.0] * len(counts)
    if not on:
        return shares
    if len(on) == 1 or any(counts[i][1] < burn_in for i in on):
        for i in on:
            shares[i] = 1.0 / len(on)
        return shares
    floor = min(max(floor, 0.0), 1.0 / len(on))
    chances = best_chances([counts[i] for i in on])
    free = 1.0 - floor * len(on)
    for i, chance in zip(on, chances, strict=True):
        shares[i] = floor + free * chance
    return shares
