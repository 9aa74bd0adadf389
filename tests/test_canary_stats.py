"""The canary judge's statistics against Kayenta's own unit-test vectors
(kayenta-mannwhitney MannWhitneySuite, copied to tests/data/canary with attribution)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from pilothouse.delivery.canary import stats

DATA = Path(__file__).parent / "data" / "canary"
VECTORS = json.loads((DATA / "kayenta_mannwhitney.json").read_text())["vectors"]
E = 1e-6  # the tolerance of Kayenta's MannWhitneySuite


def test_the_simple_vector_gives_kayentas_interval_and_estimate() -> None:
    for confidence in (0.95, 0.98):
        result = stats.mann_whitney([10, 20, 30, 40], [1, 2, 3, 4], confidence)
        assert (result.lower, result.upper, result.estimate) == (6.0, 39.0, 22.5)


def test_the_wilcoxon_diff_function_matches_kayenta() -> None:
    v = VECTORS["Wilcoxon Diff Function"]
    x, y = np.array(v["x"]), np.array(v["y"])
    assert stats.wilcoxon_diff(0, 0, x, y) == pytest.approx(-1.229416, abs=E)
    assert stats.wilcoxon_diff(5, 0, x, y) == pytest.approx(-35.80606, abs=E)


def test_the_z_quantile_matches_kayenta() -> None:
    assert sps.norm.ppf(0.02 / 2) == pytest.approx(-2.326348, abs=E)


def test_the_problem_case_matches_kayenta() -> None:
    v = VECTORS["Mann-Whitney Confidence Interval & Estimate: Problem Case"]
    result = stats.mann_whitney(v["experiment"], v["control"], 0.98)
    assert result.lower == pytest.approx(-1.4808028936386108e-5, abs=E)
    assert result.upper == pytest.approx(1.808255910873413e-5, abs=E)
    assert result.estimate == pytest.approx(1.808255910873413e-5, abs=E)


def test_it_ties_out_with_r() -> None:
    v = VECTORS["Mann-Whitney Confidence Interval & Estimate: Tie out with R Version"]
    result = stats.mann_whitney(v["experiment"], v["control"], 0.95)
    assert result.lower == pytest.approx(-0.500002521696696, abs=E)
    assert result.upper == pytest.approx(-3.486287505871302e-5, abs=E)
    assert result.estimate == pytest.approx(-0.4999393907180323, abs=1e-4)


def test_it_ties_out_with_r_on_the_large_vector() -> None:
    v = VECTORS["Mann-Whitney Confidence Interval & Estimate: Tie out with R Version (Large)"]
    result = stats.mann_whitney(v["experiment"], v["control"], 0.98)
    assert result.lower == pytest.approx(-0.4999173250549087, abs=E)
    assert result.upper == pytest.approx(-6.912685789769486e-6, abs=E)
    assert result.estimate == pytest.approx(-3.45044082729315e-5, abs=1e-4)


def test_the_intermediate_values_match_r() -> None:
    v = VECTORS["Mann-Whitney Intermediate Values / Variables"]
    x, y = np.array(v["x"]), np.array(v["y"])
    mu_min, mu_max = x.min() - y.max(), x.max() - y.min()
    assert (mu_min, mu_max) == pytest.approx((-3.124999999999986, 5.555555555555557), abs=E)
    z = -sps.norm.ppf(0.05 / 2)
    assert z == pytest.approx(1.9599639845400536, abs=E)

    def f(q: float):  # type: ignore[no-untyped-def]
        return lambda mu: stats.wilcoxon_diff(mu, q, x, y)

    assert f(z)(mu_min) == pytest.approx(17.090968923762254, abs=E)
    assert f(z)(mu_max) == pytest.approx(-20.997687930433106, abs=E)
    assert f(-z)(mu_min) == pytest.approx(21.01089689284236, abs=E)
    assert f(-z)(mu_max) == pytest.approx(-17.077759961353, abs=E)
    lower = stats.brent(mu_min, mu_max, f(z)(mu_min), f(z)(mu_max), f(z))
    upper = stats.brent(mu_min, mu_max, f(-z)(mu_min), f(-z)(mu_max), f(-z))
    estimate = stats.brent(mu_min, mu_max, f(0)(mu_min), f(0)(mu_max), f(0))
    assert lower == pytest.approx(3.521755377702165e-5, abs=E)
    assert upper == pytest.approx(2.02456461662334e-5, abs=E)
    assert estimate == pytest.approx(2.6279243045155653e-5, abs=E)


def test_all_tied_observations_have_no_interval() -> None:
    with pytest.raises(stats.AllTied):
        stats.wilcoxon_diff(0.0, 0.0, np.array([1.0, 1.0]), np.array([1.0, 1.0]))


def test_brent_finds_a_plain_root() -> None:
    root = stats.brent(0.0, 3.0, -2.0, 7.0, lambda v: v * v - 2)
    assert root == pytest.approx(math.sqrt(2), abs=stats.BRENT_TOLERANCE)


def test_the_rank_sum_p_value_is_rs() -> None:
    # wilcox.test(c(10,20,30,40), c(1,2,3,4), exact=FALSE, correct=TRUE): W = 16, p = 0.03038
    result = stats.mann_whitney([10, 20, 30, 40], [1, 2, 3, 4])
    assert result.statistic == 16.0
    assert result.p_value == pytest.approx(0.03038282, abs=1e-7)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-50, 50), min_size=2, max_size=25),
    st.lists(st.integers(-50, 50), min_size=2, max_size=25),
)
def test_the_estimate_lies_in_the_interval_range(x: list[int], y: list[int]) -> None:
    if len(set(x) | set(y)) == 1:
        return
    r = stats.mann_whitney([float(v) for v in x], [float(v) for v in y], 0.98)
    low, high = min(x) - max(y), max(x) - min(y)
    assert low <= r.lower <= high and low <= r.upper <= high
    assert low - 1e-9 <= r.estimate <= high + 1e-9
    # The estimate is near the median of the pairwise differences (Hodges-Lehmann).
    diffs = sorted(a - b for a in x for b in y)
    assert diffs[0] <= r.estimate <= diffs[-1]


def test_mean_ratio_and_cles_as_kayenta() -> None:
    assert stats.mean_ratio([1, 2, 3], [2, 4, 6]) == 2.0
    assert math.isnan(stats.mean_ratio([0, 0], [1, 2]))
    assert math.isnan(stats.mean_ratio([1, 2], [0, 0]))
    assert stats.cles([1, 2, 3], [4, 5, 6]) == 1.0
    assert stats.cles([4, 5, 6], [1, 2, 3]) == 0.0
    assert stats.cles([1, 2], [1, 2]) == 0.5


def test_iqr_fences_keep_the_bulk_and_drop_far_outliers() -> None:
    values = [10.0] * 20 + [11.0] * 20 + [1000.0]
    kept = stats.iqr_keep(values, 3.0)
    assert 1000.0 not in kept and len(kept) == 40
    assert stats.iqr_keep([], 3.0) == []
    # p1/p99 widen the fences: a narrow body does not turn its own tail into outliers
    spread = [float(v) for v in range(100)]
    assert stats.iqr_keep(spread, 3.0) == spread


def test_the_e_test_on_a_sparse_count() -> None:
    # T = (4/6 - 0/6) / sqrt(4/36) = 2; under the pooled rate 1/3 per sample both sides
    # expect 2 events, and P(T >= 2) sums the Poisson(2) x Poisson(2) pairs: 0.0206.
    test = stats.poisson_rate_test([0, 1, 2, 1, 0, 0], [0, 0, 0, 0, 0, 0], "greater")
    assert test.statistic == pytest.approx(2.0)
    assert test.ratio == math.inf
    assert 0.015 < test.p_value < 0.025
    assert stats.poisson_rate_test([0, 0], [0, 0]).p_value == 1.0


def test_the_e_test_keeps_its_level_on_equal_rates() -> None:
    rng = np.random.default_rng(7)
    rejections = sum(
        stats.poisson_rate_test(rng.poisson(3, 20), rng.poisson(3, 20)).p_value < 0.05
        for _ in range(400)
    )
    assert rejections / 400 <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 400)


def test_ks_sees_a_change_of_spread() -> None:
    rng = np.random.default_rng(3)
    wider = stats.ks_test(rng.normal(100, 25, 60), rng.normal(100, 5, 60))
    assert wider.p_value < 0.01 and wider.heavier == "high"
    narrower = stats.ks_test(rng.normal(100, 5, 60), rng.normal(100, 25, 60))
    assert narrower.heavier == "low"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40))
def test_average_ranks_are_scipys(values: list[float]) -> None:
    data = np.array(values)
    ranks, counts = stats.average_ranks(data)
    assert ranks.tolist() == sps.rankdata(data, method="average").tolist()
    assert sorted(counts.tolist()) == sorted(np.unique(data, return_counts=True)[1].tolist())


def test_brown_forsythe_sees_a_wider_canary() -> None:
    rng = np.random.default_rng(4)
    wider = stats.spread_test(rng.normal(100, 30, 30), rng.normal(100, 10, 30))
    assert wider.p_value < 0.001 and wider.heavier == "high"
    # By hand: deviations from the medians [4, 0, 4] and [1, 0, 1]; between-group sum of
    # squares 6 (1 df), within 102/9 (4 df): W = 6 / (102/36) = 36/17, p = P(F(1,4) > W).
    fixed = stats.spread_test([1.0, 5.0, 9.0], [4.0, 5.0, 6.0])
    assert fixed.statistic == pytest.approx(36 / 17)
    assert fixed.p_value == pytest.approx(float(sps.f.sf(36 / 17, 1, 4)))
    assert stats.spread_test([1.0, 1.0], [2.0, 2.0]).p_value == 1.0
    assert stats.spread_test([1.0], [2.0, 3.0]).p_value == 1.0


def test_the_e_test_on_large_counts_is_normal_and_cheap() -> None:
    busy = stats.poisson_rate_test([50_000.0] * 30, [50_000.0] * 30)
    assert busy.p_value == pytest.approx(1.0) and busy.ratio == 1.0
    worse = stats.poisson_rate_test([50_500.0] * 30, [50_000.0] * 30, "greater")
    assert worse.p_value < 1e-6 and worse.ratio == pytest.approx(1.01)
    # Below the switch the sum is exact, and already close to the normal approximation.
    exact = stats.poisson_rate_test([40.0] * 10, [36.0] * 10, "greater")
    z = (400 / 10 - 360 / 10) / math.sqrt(400 / 100 + 360 / 100)
    assert exact.p_value == pytest.approx(float(sps.norm.sf(z)), abs=0.01)
