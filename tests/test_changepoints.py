"""The level-shift detector (analysis/changepoints.py) and the per-workflow analysis
around it (analysis/regressions.py): exact PELT against brute force, shifts found and
dated, outliers kept apart from shifts, intervals that cover, attribution."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilothouse.analysis import changepoints as cp
from pilothouse.analysis import regressions as reg


def _brute_force(values: list[float], penalty: float, min_size: int) -> list[int]:
    """The optimal partition by trying every set of cuts (small n only)."""
    sums = cp._Sums(values)
    best: tuple[float, list[int]] = (float("inf"), [])
    n = len(values)
    for count in range(0, n // min_size):
        for cuts in itertools.combinations(range(min_size, n - min_size + 1), count):
            bounds = [0, *cuts, n]
            if any(b - a < min_size for a, b in itertools.pairwise(bounds)):
                continue
            cost = sum(sums.cost(a, b) for a, b in itertools.pairwise(bounds)) + penalty * count
            if cost < best[0] - 1e-9:
                best = (cost, list(cuts))
    return best[1]


def _total(values: list[float], cuts: list[int], penalty: float) -> float:
    sums = cp._Sums(values)
    bounds = [0, *cuts, len(values)]
    return sum(sums.cost(a, b) for a, b in itertools.pairwise(bounds)) + penalty * len(cuts)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 20), min_size=6, max_size=14),
    st.floats(0.5, 40.0),
    st.integers(2, 3),
)
def test_pelt_finds_the_optimal_partition(raw: list[int], penalty: float, min_size: int) -> None:
    values = [float(v) for v in raw]
    found = cp.pelt(values, penalty, min_size=min_size)
    expected = _brute_force(values, penalty, min_size)
    assert _total(values, found, penalty) == pytest.approx(_total(values, expected, penalty))


def _series(rng: random.Random, levels: list[tuple[int, float]], noise: float) -> list[float]:
    return [level + rng.gauss(0, noise) for days, level in levels for _ in range(days)]


@pytest.mark.parametrize("seed", range(5))
def test_a_level_shift_is_found_on_its_day(seed: int) -> None:
    rng = random.Random(seed)
    values = _series(rng, [(30, 600.0), (30, 780.0)], 15.0)
    found = cp.detect(values)
    assert [c.index for c in found.changes] == [30]
    change = found.changes[0]
    assert change.before.low <= 600 <= change.before.high
    assert change.after.low <= 780 <= change.after.high
    assert change.relative == pytest.approx(0.3, abs=0.05)


@pytest.mark.parametrize("seed", range(5))
def test_a_spike_is_an_anomaly_not_a_change(seed: int) -> None:
    rng = random.Random(seed)
    values = _series(rng, [(40, 300.0)], 6.0)
    values[17] = 900.0
    values[18] = 310.0
    found = cp.detect(values)
    assert found.changes == []
    assert 17 in found.anomalies


def test_a_threshold_rule_would_fire_on_noise_this_does_not() -> None:
    rng = random.Random(3)
    values = _series(rng, [(90, 100.0)], 8.0)  # 8 % noise: a 1.2x rule fires now and then
    assert cp.detect(values).changes == []


def test_a_series_that_sits_still_has_no_change_and_no_outlier() -> None:
    found = cp.detect([100.0] * 30)
    assert found.changes == [] and found.outliers == []


def test_small_shifts_below_the_bar_are_merged_away() -> None:
    values = [100.0, 100.5] * 10 + [101.0, 101.5] * 10  # a 1 % step: under MIN_RELATIVE
    assert cp.detect(values).changes == []


def test_short_series_are_left_alone() -> None:
    assert cp.detect([]).changes == [] and cp.detect([1.0, 50.0, 1.0]).changes == []


def test_two_shifts_and_a_spike() -> None:
    rng = random.Random(11)
    values = _series(rng, [(25, 50.0), (20, 80.0), (25, 60.0)], 2.0)
    values[10] = 150.0
    found = cp.detect(values)
    assert [c.index for c in found.changes] == [25, 45]
    assert found.anomalies == [10]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60))
def test_median_interval_holds_the_median(values: list[float]) -> None:
    level = cp.median_interval(values)
    assert level.low <= level.median <= level.high
    assert min(values) <= level.low and level.high <= max(values)


def test_median_interval_covers_about_95_percent() -> None:
    rng = random.Random(1)
    hits = 0
    for _ in range(400):
        level = cp.median_interval([rng.gauss(0, 1) for _ in range(25)])
        hits += level.low <= 0 <= level.high
    assert 0.9 <= hits / 400 <= 0.99


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=0, max_size=80))
def test_detect_never_fails_and_keeps_segments_long(values: list[float]) -> None:
    found = cp.detect(values)
    if len(values) < 2 * cp.MIN_SEGMENT:
        assert found.changes == []
        return
    bounds = [0, *(c.index for c in found.changes), len(values)]
    assert all(b - a >= cp.MIN_SEGMENT for a, b in itertools.pairwise(bounds))


# -- per workflow ---------------------------------------------------------------------------

START = date(2026, 10, 1)


def _points(values: list[float], *, shift_at: int | None = None) -> tuple[reg.Point, ...]:
    return tuple(
        reg.Point(
            START + timedelta(days=i),
            value,
            2,
            (f"c{i:03d}a", f"c{i:03d}b"),
            frozenset({"ubuntu-24.04"} if shift_at is None or i < shift_at else {"ubuntu-arm"}),
        )
        for i, value in enumerate(values)
    )


def test_a_regression_names_the_commits_labels_and_workflow_file_of_its_window() -> None:
    rng = random.Random(5)
    values = _series(rng, [(20, 600.0), (20, 900.0)], 10.0)
    series = reg.Series(reg.METRICS["build_time"], "ci-build", _points(values, shift_at=20))
    files = [
        ("ci-build", ".github/workflows/build.yml", datetime(2026, 10, 21, 8, tzinfo=UTC)),
        ("ci-build", ".github/workflows/old.yml", datetime(2026, 9, 1, tzinfo=UTC)),
        ("tests-all", ".github/workflows/tests.yml", datetime(2026, 10, 21, tzinfo=UTC)),
    ]
    found = reg.analyse([series], files)
    (change,) = found.changes
    assert change.day == START + timedelta(days=20)
    assert change.last_before == START + timedelta(days=19)
    assert change.verdict == "regression"
    assert change.commits == ("c020a", "c020b")
    assert change.labels_added == ("ubuntu-arm",) and change.labels_removed == ("ubuntu-24.04",)
    assert change.workflow_files == (".github/workflows/build.yml (updated 2026-10-21 08:00)",)
    data = change.as_dict()
    assert data["window"] == ["2026-10-20", "2026-10-21"]
    assert data["before"]["interval"][0] <= 600 <= data["before"]["interval"][1]


def test_a_lower_pass_rate_is_a_regression_a_faster_build_an_improvement() -> None:
    rng = random.Random(2)
    drop = _series(rng, [(15, 99.0), (15, 90.0)], 0.5)
    faster = _series(rng, [(15, 900.0), (15, 600.0)], 10.0)
    found = reg.analyse(
        [
            reg.Series(reg.METRICS["pass_rate"], "tests", _points(drop)),
            reg.Series(reg.METRICS["build_time"], "build", _points(faster)),
        ]
    )
    verdicts = {c.metric.name: c.verdict for c in found.changes}
    assert verdicts == {"pass_rate": "regression", "build_time": "improvement"}


def test_weekends_are_no_anomalies_when_spend_has_a_weekly_rhythm() -> None:
    rng = random.Random(4)
    days = [START + timedelta(days=i) for i in range(56)]
    values = [(60.0 if d.weekday() >= 5 else 100.0) + rng.gauss(0, 1.5) for d in days]
    values[30] += 80
    points = tuple(reg.Point(d, v, 1) for d, v in zip(days, values, strict=True))
    found = reg.analyse([reg.Series(reg.METRICS["daily_cost"], "(all)", points)])
    assert found.changes == []
    assert [a.day for a in found.anomalies] == [days[30]]
    assert found.anomalies[0].expected == pytest.approx(
        60.0 if days[30].weekday() >= 5 else 100.0, rel=0.05
    )


def test_daily_points_pool_rates_and_take_medians_of_times() -> None:
    at = datetime(2026, 10, 1, 9, tzinfo=UTC)
    times = [reg.Observation("w", at + timedelta(hours=h), v, commit=f"c{h}", labels="a; b")
             for h, v in enumerate([10.0, 30.0, 11.0])]  # fmt: skip
    (point,) = reg.daily_points(times)
    assert point.value == 11.0 and point.commits == ("c0", "c1", "c2")
    assert point.labels == frozenset({"a", "b"})
    rates = [reg.Observation("w", at, 100.0, 90.0), reg.Observation("w", at, 0.0, 10.0)]
    assert reg.daily_points(rates, pooled=True)[0].value == pytest.approx(90.0)
