from collections import Counter
from dataclasses import dataclass

import pytest

from agents.bucketing import bucket_point, variation_pick


@dataclass(frozen=True)
class V:
    code: str
    weight: float


def test_bucket_point__is_deterministic_and_in_unit_interval():
    points = [bucket_point(agent_code="a-hero", identity=f"s:{i}") for i in range(1000)]
    assert points == [bucket_point(agent_code="a-hero", identity=f"s:{i}") for i in range(1000)]
    assert all(0 <= p < 1 for p in points)


def test_bucket_point__differs_between_agents():
    same = sum(
        bucket_point(agent_code="a-one", identity=f"s:{i}")
        == bucket_point(agent_code="a-two", identity=f"s:{i}")
        for i in range(100)
    )
    assert same == 0


@pytest.mark.parametrize("weights", [(1, 1), (1, 3), (2, 1, 1), (0.5, 0.25, 0.25)])
def test_variation_pick__respects_weights(weights):
    variations = [V(str(i), w) for i, w in enumerate(weights)]
    n = 20000
    counts = Counter(
        variation_pick(agent_code="a-w", identity=f"v:{i}", variations=variations).code
        for i in range(n)
    )
    total = sum(weights)
    for variation in variations:
        expected = n * variation.weight / total
        # 5 standard deviations of a binomial count: fails only when the weights are ignored.
        sd = (n * (variation.weight / total) * (1 - variation.weight / total)) ** 0.5
        assert abs(counts[variation.code] - expected) < 5 * sd


def test_variation_pick__zero_weight_is_never_picked():
    variations = [V("A", 0), V("B", 1)]
    picks = {
        variation_pick(agent_code="a", identity=str(i), variations=variations).code
        for i in range(500)
    }
    assert picks == {"B"}


def test_variation_pick__all_zero__is_none():
    assert variation_pick(agent_code="a", identity="x", variations=[V("A", 0)]) is None
    assert variation_pick(agent_code="a", identity="x", variations=[]) is None
