"""Per-test statistics: percentile definition, pass rates, ordering."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pilothouse.analysis.test_stats import failing_tests, percentile, summarize_tests
from pilothouse.model import TestObservation

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _obs(name: str, outcome: str, duration: float | None, day: int = 0) -> TestObservation:
    return TestObservation("c", name, "", outcome, duration, T0 + timedelta(days=day))  # type: ignore[arg-type]


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=2, max_size=50))
def test_percentile_matches_the_inclusive_linear_definition(values: list[float]) -> None:
    expected = statistics.quantiles(values, n=10, method="inclusive")[8]
    assert percentile(values, 90) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_percentile_edges() -> None:
    assert percentile([4.0], 90) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary_counts_rates_and_last_outcome() -> None:
    stats = summarize_tests(
        [
            _obs("a", "passed", 1.0, 0),
            _obs("a", "failed", 3.0, 1),
            _obs("a", "skipped", None, 2),
            _obs("a", "error", 2.0, 3),
            _obs("b", "skipped", None, 0),
        ]
    )
    a, b = stats
    assert (a.name, a.runs, a.passed, a.failures, a.skipped) == ("a", 4, 1, 2, 1)
    assert a.pass_rate == pytest.approx(1 / 3)
    assert a.mean_seconds == 2.0 and a.p90_seconds == pytest.approx(2.8)
    assert (a.last_outcome, a.last_seen) == ("error", T0 + timedelta(days=3))
    assert (b.pass_rate, b.mean_seconds, b.p90_seconds) == (None, None, None)
    assert [s.name for s in failing_tests(stats)] == ["a"]


def test_failing_now_comes_before_past_failures() -> None:
    stats = summarize_tests(
        [
            _obs("old", "failed", 1.0, 0),
            _obs("old", "failed", 1.0, 1),
            _obs("old", "passed", 1.0, 2),
            _obs("now", "failed", 1.0, 2),
            _obs("never", "passed", 1.0, 2),
        ]
    )
    assert [s.name for s in failing_tests(stats)] == ["now", "old"]


def test_slowest_first_then_by_name() -> None:
    stats = summarize_tests(
        [_obs("z", "passed", 1.0), _obs("y", "passed", 1.0), _obs("x", "passed", 9.0)]
    )
    assert [s.name for s in stats] == ["x", "y", "z"]
