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

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

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


# --- conversion rates (SPEC §7b) -----------------------------------------------------------


def wilson_ci95(conversions: int, n: int) -> tuple[float, float] | None:
    """Wilson score 95% interval of a proportion (as statsmodels' `proportion_confint`
    with method="wilson"); None without visitors."""
    if n <= 0:
        return None
    p = conversions / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_diff_ci95(
    baseline: tuple[int, int], other: tuple[int, int]
) -> tuple[float, float] | None:
    """Newcombe's hybrid score 95% interval of p_other − p_baseline (his method 10, as
    statsmodels' `confint_proportions_2indep(method="newcomb")`), from (conversions, n)."""
    (c1, n1), (c2, n2) = baseline, other
    ci1, ci2 = wilson_ci95(c1, n1), wilson_ci95(c2, n2)
    if ci1 is None or ci2 is None:
        return None
    p1, p2 = c1 / n1, c2 / n2
    (l1, u1), (l2, u2) = ci1, ci2
    diff = p2 - p1
    lower = diff - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    upper = diff + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return (lower, upper)


# --- always-valid intervals: an asymptotic confidence sequence --------------------------------

SEQUENTIAL_ALPHA = 0.05


def sequential_rho(tuning: float, alpha: float = SEQUENTIAL_ALPHA) -> float:
    """The mixing parameter of the confidence sequence, tightest near `tuning` observations
    (Waudby-Smith et al., "Time-uniform central limit theory", 2023, eq. 161; GrowthBook)."""
    log_alpha = math.log(alpha)
    return math.sqrt((-2 * log_alpha + math.log(-2 * log_alpha + 1)) / tuning)


def sequential_ci95(
    diff: float, se: float, n: int, tuning: float, alpha: float = SEQUENTIAL_ALPHA
) -> tuple[float, float] | None:
    """The always-valid interval of a difference estimated with standard error `se` from
    `n` observations in all: diff ± σ̂·√(2(nρ²+1)/(nρ)² · ln(√(nρ²+1)/α)), σ̂² = se²·n
    (Waudby-Smith et al. 2023, eq. 9). None when undefined."""
    if n < 1 or not se > 0 or not math.isfinite(se):
        return None
    rho = sequential_rho(tuning, alpha)
    n_rho2 = n * rho * rho + 1
    half = math.sqrt(se * se * n) * math.sqrt(
        2 * n_rho2 * math.log(math.sqrt(n_rho2) / alpha) / (n * rho) ** 2
    )
    return (diff - half, diff + half)


def rate_diff_se(baseline: tuple[int, int], other: tuple[int, int]) -> float | None:
    """The unpooled standard error of p_other − p_baseline."""
    (c1, n1), (c2, n2) = baseline, other
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = c1 / n1, c2 / n2
    return math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)


def welch_se(baseline: Moments, other: Moments) -> float | None:
    if baseline.variance is None or other.variance is None:
        return None
    return math.sqrt(baseline.variance / baseline.n + other.variance / other.n)


# --- Bayesian: chance to win and expected loss (Beta(1, 1) priors) ---------------------------


def _stirling_rest(x: int) -> float:
    """S(x) = ln Γ(x) − ((x − ½)·ln x − x + ½·ln 2π), Stirling's remainder (below 0.1)."""
    if x < 20:  # from lgamma itself: small numbers, exact enough
        return math.lgamma(x) - ((x - 0.5) * math.log(x) - x + 0.5 * math.log(2 * math.pi))
    inv = 1.0 / x
    inv2 = inv * inv
    return inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))


def _log_gammas(plus: tuple[int, ...], minus: tuple[int, ...]) -> float:
    """Σ ln Γ(x) over `plus` less Σ over `minus`, for Σ plus = Σ minus, precisely: such sums
    of log-gammas of sizes up to n·ln n cancel to a few units, so each is split by
    Stirling's formula, ln Γ(x) = (x − ½)·ln(x/N) + (x − ½)·ln N − x + ½·ln 2π + S(x),
    N the largest argument. The x parts cancel exactly, the ln N and ln 2π parts leave a
    multiple of ½; the (x − ½)·ln(x/N) parts are summed in 40-digit decimals, S(x) in
    floats. (math.lgamma alone loses 1e-9 at 10⁷ visitors.)"""
    scale = max(plus + minus)
    halves = len(minus) - len(plus)
    with localcontext() as ctx:
        ctx.prec = 40
        big = Decimal(scale)
        large = halves * big.ln() / 2
        for sign, group in ((1, plus), (-1, minus)):
            for x in group:
                large += sign * (Decimal(x) - Decimal("0.5")) * (Decimal(x) / big).ln()
    small = math.fsum(_stirling_rest(x) for x in plus) - math.fsum(_stirling_rest(x) for x in minus)
    return float(large) + small - halves * 0.5 * math.log(2 * math.pi)


def _beta_greater(a1: int, b1: int, a2: int, b2: int) -> float:
    """P(X > Y) for X ~ Beta(a1, b1), Y ~ Beta(a2, b2), integer a1 (Evan Miller's finite
    sum, exact): Σ_{i<a1} B(a2+i, b1+b2) / ((b1+i) B(1+i, b1) B(a2, b2)). Its terms rise
    and fall once, so the sum starts at the largest term and walks both ways until the
    terms no longer count: O(√n) steps, whatever the counts."""
    # consecutive terms: t(i+1) / t(i) = (a2+i)(b1+i) / ((a2+b2+b1+i)(1+i)); the peak is
    # where that ratio falls below 1
    peak = (a2 * b1 - a2 - b2 - b1) / (b2 + 1)
    start = min(max(int(peak), 0), a1 - 1)
    # ln of the term at `start`, its B(...) written as log-gammas
    first = _log_gammas(
        plus=(a2 + start, b1 + b2, 1 + start + b1, a2 + b2),
        minus=(a2 + start + b1 + b2, 1 + start, b1, a2, b2),
    ) - math.log(b1 + start)
    c = a2 + b2 + b1
    total, term = 1.0, 1.0  # relative to the peak term, which is exp(first)
    i = start
    while i + 1 < a1:
        term *= (a2 + i) * (b1 + i) / ((c + i) * (1 + i))
        i += 1
        total += term
        if term < total * 1e-17:
            break
    term, i = 1.0, start
    while i > 0:
        i -= 1
        term *= ((c + i) * (1 + i)) / ((a2 + i) * (b1 + i))
        total += term
        if term < total * 1e-17:
            break
    return min(1.0, math.exp(first + math.log(total)))


@functools.lru_cache(maxsize=4096)  # the same counts come back on every rendering
def _compare_posteriors(a1: int, b1: int, a2: int, b2: int) -> tuple[float, float]:
    """(P(Y > X), E[max(X − Y, 0)]) for X ~ Beta(a1, b1) (the first variation), Y ~
    Beta(a2, b2), from one sum: the smaller of P(X > Y), P(Y > X) is summed (so it keeps
    its digits), the other is its complement. The expected loss follows from Evan Miller's
    recurrences, P(X⁺ > Y) = P(X > Y) + D/a1 and P(X > Y⁺) = P(X > Y) − D/a2, with
    D = B(a1+a2, b1+b2) / (B(a1, b1)·B(a2, b2)) and X⁺ ~ Beta(a1 + 1, b1):
    E[max(X − Y, 0)] = E[X]·P(X⁺ > Y) − E[Y]·P(X > Y⁺) = g·(E[X] − E[Y]) + D·(1/(a1+b1) +
    1/(a2+b2)), g = P(X > Y)."""
    mean_x, mean_y = a1 / (a1 + b1), a2 / (a2 + b2)
    if mean_y > mean_x:
        g = _beta_greater(a1, b1, a2, b2)
        win = 1.0 - g
    else:
        win = _beta_greater(a2, b2, a1, b1)
        g = 1.0 - win
    d = math.exp(
        _log_gammas(
            plus=(a1 + a2, b1 + b2, a1 + b1, a2 + b2), minus=(a1 + a2 + b1 + b2, a1, b1, a2, b2)
        )
    )
    loss = g * (mean_x - mean_y) + d * (1 / (a1 + b1) + 1 / (a2 + b2))
    return win, max(0.0, loss)


def _posteriors(counts: tuple[int, int]) -> tuple[int, int]:
    conversions, n = counts
    return conversions + 1, n - conversions + 1


def chance_to_win(baseline: tuple[int, int], other: tuple[int, int]) -> float | None:
    """P(rate_other > rate_baseline) with Beta(1 + conversions, 1 + non-conversions)
    posteriors; None without visitors on either side."""
    if baseline[1] <= 0 or other[1] <= 0:
        return None
    return _compare_posteriors(*_posteriors(baseline), *_posteriors(other))[0]


def expected_loss(baseline: tuple[int, int], other: tuple[int, int]) -> float | None:
    """E[max(rate_baseline − rate_other, 0)]: the conversion rate given up, on average, by
    choosing `other` (same posteriors)."""
    if baseline[1] <= 0 or other[1] <= 0:
        return None
    return _compare_posteriors(*_posteriors(baseline), *_posteriors(other))[1]


# --- sample size ----------------------------------------------------------------------------

POWER = 0.80
POWER_ALPHA = 0.05


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def visitors_needed(
    baseline_rate: float | None, mde_rel: float, power: float = POWER, alpha: float = POWER_ALPHA
) -> int | None:
    """Visitors per variation for `power` at `alpha` two-sided to detect a relative change
    `mde_rel` of `baseline_rate`: Cohen's effect size h = 2·asin√p₂ − 2·asin√p₁ and the
    normal power of two equal groups, both tails (as statsmodels' `NormalIndPower`
    `solve_power` with `proportion_effectsize`), rounded up. None when undefined."""
    if baseline_rate is None or not 0 < baseline_rate < 1:
        return None
    target = baseline_rate * (1 + mde_rel)
    if not 0 < target < 1:
        return None
    h = abs(2 * math.asin(math.sqrt(target)) - 2 * math.asin(math.sqrt(baseline_rate)))
    crit = _normal_quantile(1 - alpha / 2)

    def power_at(n: float) -> float:
        shift = h * math.sqrt(n / 2)
        return normal_cdf(shift - crit) + normal_cdf(-shift - crit)

    low, high = 1e-9, 1.0
    while power_at(high) < power:
        high *= 2
        if high > 1e15:
            return None
    for _ in range(200):  # bisection to the float's precision
        mid = (low + high) / 2
        if power_at(mid) < power:
            low = mid
        else:
            high = mid
        if high - low <= high * 1e-15:
            break
    return math.ceil(high - 1e-9)


def _normal_quantile(p: float) -> float:
    """The standard normal's quantile (Newton's method on erfc, to the float's precision)."""
    x = 0.0
    for _ in range(100):
        step = (normal_cdf(x) - p) / (math.exp(-x * x / 2) / math.sqrt(2 * math.pi))
        x -= step
        if abs(step) < 1e-15:
            break
    return x
