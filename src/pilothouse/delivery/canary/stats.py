"""The statistics of the canary judge, pure functions over sequences of floats.

`mann_whitney` is Kayenta's port of R's ``wilcox.test(x, y, conf.int=TRUE)`` (the
tie-corrected normal approximation with continuity correction, its roots found by
Brent's method at tolerance 1e-4) and returns the same interval and Hodges-Lehmann
estimate. The rest go beyond Kayenta: a Poisson rate test on totals (the E-test), the
two-sample Kolmogorov-Smirnov test and Brown-Forsythe's test of spread; and Kayenta's
effect sizes and IQR outlier fences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

# Kayenta's BrentSolver: R's zeroin with a fixed absolute tolerance and iteration cap.
BRENT_TOLERANCE = 1e-4
_BRENT_ITERATIONS = 1000
_EPSILON = 2.220446049250313e-16
# commons-math Precision.equals(x, 0): equal within one ulp of zero.
_ULP_OF_ZERO = 4.9e-324


class AllTied(ValueError):
    """Every observation is tied: the rank-sum test has no variance."""


@dataclass(frozen=True)
class MannWhitney:
    """The Hodges-Lehmann interval and estimate of the location shift x - y, and the
    rank-sum statistic U of x with its two-sided p-value (both at shift 0)."""

    lower: float
    upper: float
    estimate: float
    statistic: float
    p_value: float


def _is_zero(value: float) -> bool:
    return abs(value) <= _ULP_OF_ZERO


def brent(
    low: float, high: float, f_low: float, f_high: float, func: Callable[[float], float]
) -> float:
    """A zero of *func* in [low, high], as R's zeroin finds it (Brent 1973).

    The exact sequence of steps matters: the rank function is flat between steps, so a
    different solver lands on a different point of the same flat root.
    """
    a, b, fa, fb = low, high, f_low, f_high
    c, fc = a, fa
    if _is_zero(fa):
        return a
    if _is_zero(fb):
        return b
    for _ in range(_BRENT_ITERATIONS + 1):
        previous = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tolerance = 2 * _EPSILON * abs(b) + BRENT_TOLERANCE / 2
        step = (c - b) / 2
        if abs(step) <= tolerance or _is_zero(fb):
            return b
        step = _interpolated(a, b, c, fa, fb, fc, previous, tolerance, step)
        if abs(step) < tolerance:
            step = tolerance if step > 0 else -tolerance
        a, fa = b, fb
        b += step
        fb = func(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def _interpolated(
    a: float,
    b: float,
    c: float,
    fa: float,
    fb: float,
    fc: float,
    previous: float,
    tolerance: float,
    bisection: float,
) -> float:
    """The secant or inverse quadratic step when it is safe, else the bisection step."""
    if abs(previous) < tolerance or abs(fa) <= abs(fb):
        return bisection
    cb = c - b
    if a == c:
        t1 = fb / fa
        p = cb * t1
        q = 1.0 - t1
    else:
        q = fa / fc
        t1 = fb / fc
        t2 = fb / fa
        p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
        q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
    if p > 0.0:
        q = -q
    else:
        p = -p
    if p < (0.75 * cb * q - abs(tolerance * q) / 2) and p < abs(previous * q / 2):
        return p / q
    return bisection


def average_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks of *values*, ties given their average rank, and the size of each
    group of ties (scipy's rankdata, without its per-call overhead: the solver calls
    this dozens of times per test)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts_group = np.empty(len(values), dtype=bool)
    starts_group[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_group[1:])
    starts = np.flatnonzero(starts_group)
    counts = np.diff(np.append(starts, len(values)))
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = (starts + (counts + 1) / 2.0)[np.cumsum(starts_group) - 1]
    return ranks, counts


def wilcoxon_diff(mu: float, quantile: float, x: np.ndarray, y: np.ndarray) -> float:
    """The standardized rank sum of x - mu against y, minus *quantile*: zero at the
    interval bounds (quantile ±z) and at the estimate (quantile 0)."""
    nx, ny = float(len(x)), float(len(y))
    ranks, counts = average_ranks(np.concatenate((x - mu, y)))
    # Ranks are multiples of 1/2 and tie sizes integers: these sums are exact.
    dz = float(ranks[: len(x)].sum()) - nx * (nx + 1) / 2 - nx * ny / 2
    ties = float((counts.astype(float) ** 3 - counts).sum())
    sigma = math.sqrt((nx * ny / 12) * ((nx + ny + 1) - ties / ((nx + ny) * (nx + ny - 1))))
    if sigma == 0:
        raise AllTied("cannot compute confidence interval when all observations are tied")
    correction = math.copysign(0.5, dz) if dz != 0 else 0.0
    return (dz - correction) / sigma - quantile


def mann_whitney(x: Sequence[float], y: Sequence[float], confidence: float = 0.95) -> MannWhitney:
    """Kayenta's Mann-Whitney test of x against y (x is the canary, y the baseline).

    >>> r = mann_whitney([10, 20, 30, 40], [1, 2, 3, 4], 0.98)
    >>> (r.lower, r.upper, r.estimate)
    (6.0, 39.0, 22.5)
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    mu_min = float(xs.min() - ys.max())
    mu_max = float(xs.max() - ys.min())
    z = float(sps.norm.ppf((1.0 - confidence) / 2))

    def at(quantile: float) -> Callable[[float], float]:
        return lambda mu: wilcoxon_diff(mu, quantile, xs, ys)

    def bound(quantile: float) -> float:
        f_low, f_high = at(quantile)(mu_min), at(quantile)(mu_max)
        if f_low <= 0:
            return mu_min
        if f_high >= 0:
            return mu_max
        return brent(mu_min, mu_max, f_low, f_high, at(quantile))

    lower, upper = bound(-z), bound(z)
    estimate = brent(mu_min, mu_max, at(0.0)(mu_min), at(0.0)(mu_max), at(0.0))
    statistic, p_value = _rank_sum_test(xs, ys)
    return MannWhitney(lower, upper, estimate, statistic, p_value)


def _rank_sum_test(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """U of x and its two-sided p-value, as R's wilcox.test reports them (normal
    approximation, tie and continuity corrected)."""
    ranks, _ = average_ranks(np.concatenate((x, y)))
    nx = len(x)
    u = float(ranks[:nx].sum()) - nx * (nx + 1) / 2
    try:
        z = wilcoxon_diff(0.0, 0.0, x, y)
    except AllTied:
        return u, 1.0
    return u, float(2 * sps.norm.sf(abs(z)))


def mean_ratio(baseline: Sequence[float], canary: Sequence[float]) -> float:
    """mean(canary) / mean(baseline); NaN when either mean is 0 (Kayenta's deviation)."""
    base, can = float(np.mean(baseline)), float(np.mean(canary))
    if base == 0.0 or can == 0.0:
        return math.nan
    return can / base


def cles(baseline: Sequence[float], canary: Sequence[float]) -> float:
    """Vargha-Delaney A: the chance that a canary value exceeds a baseline value,
    ties counting half."""
    m, n = len(canary), len(baseline)
    ranks, _ = average_ranks(np.concatenate((np.asarray(canary), np.asarray(baseline))))
    r1 = float(ranks[:m].sum())
    return (2 * r1 - m * (m + 1)) / (2 * n * m)


def iqr_keep(values: Sequence[float], factor: float = 3.0) -> list[float]:
    """*values* without the outliers of Kayenta's reduced-sensitivity IQR detector:
    fences at min(p1, Q1 - factor IQR) and max(p99, Q3 + factor IQR), R-7 percentiles."""
    if not values:
        return []
    data = np.asarray(values, dtype=float)
    q1, q3, p1, p99 = (float(v) for v in np.percentile(data, [25, 75, 1, 99]))
    low = min(p1, q1 - factor * (q3 - q1))
    high = max(p99, q3 + factor * (q3 - q1))
    return [v for v in values if low <= v <= high]


@dataclass(frozen=True)
class RateTest:
    """The canary's event rate against the baseline's, on totals."""

    statistic: float
    p_value: float
    ratio: float  # rate(canary) / rate(baseline); inf when the baseline had none


def poisson_rate_test(
    canary: Sequence[float], baseline: Sequence[float], alternative: str = "two-sided"
) -> RateTest:
    """Krishnamoorthy and Thomson's E-test (2004) that two Poisson rates are equal.

    The totals of each side are the counts; the number of samples is the exposure
    (both sides are scraped at the same step). *alternative* is "greater" (the canary's
    rate is higher), "less" or "two-sided". Non-integer totals (rates scraped as
    increase()) are rounded to whole events.
    """
    k1, k2 = round(float(np.sum(canary))), round(float(np.sum(baseline)))
    n1, n2 = float(len(canary)), float(len(baseline))
    observed = _e_statistic(np.array([k1]), np.array([k2]), n1, n2)[0]
    ratio = (k1 / n1) / (k2 / n2) if k2 else (math.inf if k1 else 1.0)
    if k1 + k2 == 0:
        return RateTest(0.0, 1.0, ratio)
    rate = (k1 + k2) / (n1 + n2)
    if _grid_side(n1 * rate) * _grid_side(n2 * rate) > MAX_GRID:
        return RateTest(float(observed), _normal_p(float(observed), alternative), ratio)
    grid1, grid2, weight = _poisson_grid(n1 * rate, n2 * rate)
    t = _e_statistic(grid1, grid2, n1, n2)
    p_greater = float(weight[t >= observed - 1e-12].sum())
    p_less = float(weight[t <= observed + 1e-12].sum())
    if alternative == "greater":
        p = p_greater
    elif alternative == "less":
        p = p_less
    else:
        p = float(weight[np.abs(t) >= abs(observed) - 1e-12].sum())
    return RateTest(float(observed), min(1.0, p), ratio)


# Past this many pairs of counts the exact sum is costly and T is normal to many digits.
MAX_GRID = 1_000_000


def _grid_side(mean: float) -> int:
    return int(sps.poisson.ppf(1 - 1e-12, mean)) + 2


def _normal_p(statistic: float, alternative: str) -> float:
    """The E-test's p-value for large counts, where T is standard normal."""
    if alternative == "greater":
        return float(sps.norm.sf(statistic))
    if alternative == "less":
        return float(sps.norm.cdf(statistic))
    return float(2 * sps.norm.sf(abs(statistic)))


def _poisson_grid(mean1: float, mean2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of counts with non-negligible joint probability, and that probability."""

    def support(mean: float) -> np.ndarray:
        high = int(sps.poisson.ppf(1 - 1e-12, mean)) + 1
        return np.arange(0, max(high, 1) + 1)

    k1, k2 = np.meshgrid(support(mean1), support(mean2), indexing="ij")
    weight = np.asarray(sps.poisson.pmf(k1, mean1) * sps.poisson.pmf(k2, mean2), dtype=float)
    return k1.ravel(), k2.ravel(), weight.ravel()


def _e_statistic(k1: np.ndarray, k2: np.ndarray, n1: float, n2: float) -> np.ndarray:
    """(k1/n1 - k2/n2) / sqrt(k1/n1² + k2/n2²); 0 where both counts are 0."""
    diff = k1 / n1 - k2 / n2
    var = k1 / n1**2 + k2 / n2**2
    out = np.zeros_like(diff, dtype=float)
    np.divide(diff, np.sqrt(var), out=out, where=var > 0)
    return out


@dataclass(frozen=True)
class DistributionTest:
    """The two-sample Kolmogorov-Smirnov test of canary against baseline."""

    statistic: float
    p_value: float
    heavier: str  # "high" when the canary's upper tail or spread is larger, else "low"


def ks_test(canary: Sequence[float], baseline: Sequence[float]) -> DistributionTest:
    """Whether canary and baseline come from one distribution (any difference: location,
    spread or shape), and on which side the canary is heavier."""
    result = sps.ks_2samp(np.asarray(canary, dtype=float), np.asarray(baseline, dtype=float))
    return DistributionTest(
        float(result.statistic), float(result.pvalue), _heavier_side(canary, baseline)
    )


def _heavier_side(canary: Sequence[float], baseline: Sequence[float]) -> str:
    """ "high" when the canary reaches higher (its p95, else its mean, else its spread)."""
    c95, b95 = (float(np.percentile(v, 95)) for v in (canary, baseline))
    if c95 != b95:
        return "high" if c95 > b95 else "low"
    cm, bm = float(np.mean(canary)), float(np.mean(baseline))
    if cm != bm:
        return "high" if cm > bm else "low"
    return "high" if float(np.std(canary)) >= float(np.std(baseline)) else "low"


def spread_test(canary: Sequence[float], baseline: Sequence[float]) -> DistributionTest:
    """Brown-Forsythe's test (Levene's, centred on the median) that canary and baseline
    spread alike; "high" when the canary spreads more. p is 1 when neither side varies."""
    can, base = np.asarray(canary, dtype=float), np.asarray(baseline, dtype=float)
    wider = "high" if _mad(can) >= _mad(base) else "low"
    if len(can) < 2 or len(base) < 2:
        return DistributionTest(0.0, 1.0, wider)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = sps.levene(can, base, center="median")
    statistic, p_value = float(result.statistic), float(result.pvalue)
    if not math.isfinite(p_value):
        return DistributionTest(0.0, 1.0, wider)
    return DistributionTest(statistic, p_value, wider)


def _mad(values: np.ndarray) -> float:
    """The mean absolute deviation from the median: what Brown-Forsythe compares."""
    return float(np.mean(np.abs(values - np.median(values))))
