"""The statistics against scipy, on fixed data sets (raw per-visitor values), to 1e-9."""

import numpy as np
import pytest
from scipy import stats

from reports.statistics import (
    Moments,
    chi_square_sf,
    compare_means,
    mean_ci95,
    sample_ratio_mismatch,
)

pytestmark = pytest.mark.db_independent  # pure rules: the SQLite run checks them

RNG = np.random.default_rng(20261127)
DATASETS = {
    "conversions": (
        RNG.binomial(1, 0.10, 5000).astype(float),
        RNG.binomial(1, 0.12, 5200).astype(float),
    ),
    "revenue": (
        RNG.binomial(1, 0.05, 3000) * RNG.gamma(2.0, 30.0, 3000),
        RNG.binomial(1, 0.06, 2900) * RNG.gamma(2.0, 28.0, 2900),
    ),
    "small": (np.array([0.0, 1.0, 0.0, 2.5]), np.array([1.0, 1.0, 0.0])),
}
Z = stats.norm.ppf(0.975)


def _moments(x):
    return Moments(n=len(x), total=float(x.sum()), total_sq=float((x * x).sum()))


@pytest.mark.parametrize("name", DATASETS)
def test_mean_ci95__matches_scipy(name):
    x = DATASETS[name][0]
    lo, hi = mean_ci95(_moments(x))
    expected = stats.norm.interval(0.95, loc=x.mean(), scale=stats.sem(x))
    assert lo == pytest.approx(expected[0], rel=1e-9, abs=1e-12)
    assert hi == pytest.approx(expected[1], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", DATASETS)
def test_compare_means__matches_welch_z_from_scipy(name):
    a, b = DATASETS[name]
    result = compare_means(_moments(a), _moments(b))
    diff = b.mean() - a.mean()
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert result.lift_abs == pytest.approx(diff, rel=1e-9, abs=1e-12)
    assert result.lift_rel == pytest.approx(diff / a.mean(), rel=1e-9)
    assert result.lift_ci95[0] == pytest.approx(diff - Z * se, rel=1e-9, abs=1e-12)
    assert result.lift_ci95[1] == pytest.approx(diff + Z * se, rel=1e-9, abs=1e-12)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(diff / se)), rel=1e-9)
    assert result.confidence == pytest.approx(1 - result.p_value)


@pytest.mark.parametrize(
    ("observed", "weights"),
    [
        ([5050, 4950], [1, 1]),
        ([5300, 4700], [1, 1]),
        ([2100, 1000, 950], [2, 1, 1]),
        ([10, 31], [1, 3]),
    ],
)
def test_sample_ratio_mismatch__matches_scipy_chisquare(observed, weights):
    total = sum(observed)
    expected = [total * w / sum(weights) for w in weights]
    reference = stats.chisquare(observed, expected).pvalue
    result = sample_ratio_mismatch(observed, weights)
    assert result.p_value == pytest.approx(reference, rel=1e-9, abs=1e-300)
    assert result.flagged == (reference < 0.001)


@pytest.mark.parametrize("dof", [1, 2, 3, 7])
@pytest.mark.parametrize("x", [0.01, 0.5, 1.0, 3.84, 10.0, 40.0, 120.0])
def test_chi_square_sf__matches_scipy(x, dof):
    assert chi_square_sf(x, dof) == pytest.approx(stats.chi2.sf(x, dof), rel=1e-9, abs=1e-300)


def test_srm__obvious_mismatch_is_flagged():
    assert sample_ratio_mismatch([6000, 4000], [1, 1]).flagged


@pytest.mark.parametrize(
    ("baseline", "other"),
    [
        (Moments(0, 0, 0), Moments(10, 1, 1)),  # no visitors in the baseline
        (Moments(10, 0, 0), Moments(10, 0, 0)),  # no conversions at all
        (Moments(1, 1, 1), Moments(1, 0, 0)),  # one visitor each: no variance
        (Moments(10, 0, 0), Moments(10, 3, 3)),  # baseline mean 0: no relative lift
    ],
)
def test_compare_means__degenerate_cases_give_none_not_nan(baseline, other):
    result = compare_means(baseline, other)
    for value in (result.lift_abs, result.lift_rel, result.p_value, result.confidence):
        assert value is None or np.isfinite(value)
    assert result.lift_ci95 is None or all(np.isfinite(result.lift_ci95))


def test_degenerate_inputs__srm_and_ci_are_none():
    assert sample_ratio_mismatch([0, 0], [1, 1]).p_value is None
    assert sample_ratio_mismatch([10], [1]).p_value is None
    assert mean_ci95(Moments(0, 0, 0)) is None
    assert mean_ci95(Moments(1, 5, 25)) is None
