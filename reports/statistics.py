"""Statistics of a test, computed from additive sums only (n, Σx, Σx²).

Methods (stated in docs/statistics.md):
- value per visitor: mean of per-visitor values x (0 for visitors without credit), with
  a normal 95% interval mean ± z·s/√n, s² the sample variance (n − 1);
- lift against the first variation: the difference of means, with Welch's unequal-variance
  standard error √(s₁²/n₁ + s₂²/n₂), a normal 95% interval and a two-sided z-test p-value;
  confidence = 1 − p; relative lift = difference / baseline mean;
- sample ratio mismatch: Pearson's chi-square of visitors against the configured weights,
  flagged when p < 0.001.
Every function returns None where a statistic is undefined (never NaN or infinity).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054  # two-sided 95% quantile of the standard normal
SRM_THRESHOLD = 0.001


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def normal_two_sided_p(z: float) -> float:
    """P(|Z| ≥ |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class Moments:
    """n observations summarised by their sum and sum of squares."""

    n: int
    total: float
    total_sq: float

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n > 0 else None

    @property
    def variance(self) -> float | None:
        """Sample variance (n − 1); None below two observations."""
        if self.n < 2:
            return None
        variance = (self.total_sq - self.total * self.total / self.n) / (self.n - 1)
        return max(variance, 0.0)  # rounding can make an exact 0 slightly negative


def mean_ci95(m: Moments) -> tuple[float, float] | None:
    """Normal 95% interval of the mean, or None when undefined."""
    mean, variance = m.mean, m.variance
    if mean is None or variance is None:
        return None
    half = Z95 * math.sqrt(variance / m.n)
    return (mean - half, mean + half)


@dataclass(frozen=True)
class Comparison:
    lift_abs: float | None
    lift_rel: float | None
    lift_ci95: tuple[float, float] | None
    p_value: float | None

    @property
    def confidence(self) -> float | None:
        return None if self.p_value is None else 1.0 - self.p_value


def compare_means(baseline: Moments, other: Moments) -> Comparison:
    """Welch comparison of `other` against `baseline` (difference other − baseline)."""
    if baseline.mean is None or other.mean is None:
        return Comparison(None, None, None, None)
    diff = other.mean - baseline.mean
    rel = _finite(diff / baseline.mean) if baseline.mean != 0 else None
    if baseline.variance is None or other.variance is None:
        return Comparison(diff, rel, None, None)
    se = math.sqrt(baseline.variance / baseline.n + other.variance / other.n)
    if se == 0:
        return Comparison(diff, rel, None, None)
    ci = (diff - Z95 * se, diff + Z95 * se)
    return Comparison(diff, rel, ci, normal_two_sided_p(diff / se))


def _gamma_q(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x) (series below a + 1, continued fraction
    above; Numerical Recipes §6.2), accurate to about 1e-14."""
    if x <= 0:
        return 1.0
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return math.exp(log_prefix) * h


def chi_square_sf(statistic: float, dof: int) -> float:
    """P(χ²(dof) ≥ statistic)."""
    return _gamma_q(dof / 2, statistic / 2)


@dataclass(frozen=True)
class SampleRatio:
    p_value: float | None
    flagged: bool


def sample_ratio_mismatch(observed: Sequence[int], weights: Sequence[float]) -> SampleRatio:
    """Chi-square goodness of fit of visitor counts against weights (weight-0 arms left out)."""
    pairs = [(o, w) for o, w in zip(observed, weights, strict=True) if w > 0]
    total = sum(o for o, _ in pairs)
    if len(pairs) < 2 or total == 0:
        return SampleRatio(None, False)
    weight_sum = sum(w for _, w in pairs)
    statistic = 0.0
    for o, w in pairs:
        expected = total * w / weight_sum
        statistic += (o - expected) ** 2 / expected
    p = chi_square_sf(statistic, len(pairs) - 1)
    return SampleRatio(p, p < SRM_THRESHOLD)
