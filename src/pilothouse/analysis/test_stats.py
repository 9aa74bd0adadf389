"""Per-test statistics over stored results: runs, pass rate, durations, last outcome."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from pilothouse.analysis import sketch
from pilothouse.model import Outcome, TestObservation


def percentile(values: Sequence[float], q: float) -> float:
    """The *q*-th percentile (0..100) of *values*, linearly interpolated.

    The same definition as numpy's default ("linear"), so results can be checked
    against it.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 90)
    3.7
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 12)


@dataclass(frozen=True, slots=True)
class TestStats:
    """What the history says about one test (classname, name, file)."""

    __test__ = False

    classname: str
    name: str
    file: str
    runs: int
    passed: int
    failures: int
    skipped: int
    pass_rate: float | None
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None
    last_outcome: Outcome
    last_seen: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "classname": self.classname,
            "name": self.name,
            "file": self.file,
            "runs": self.runs,
            "passed": self.passed,
            "failures": self.failures,
            "skipped": self.skipped,
            "pass_rate": self.pass_rate,
            "mean_seconds": self.mean_seconds,
            "median_seconds": self.median_seconds,
            "p90_seconds": self.p90_seconds,
            "last_outcome": self.last_outcome,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
        }


@dataclass(slots=True)
class _Acc:
    passed: int = 0
    failures: int = 0
    skipped: int = 0
    durations: list[float] = field(default_factory=list)
    last_outcome: Outcome = "passed"
    last_seen: datetime | None = None


def summarize_tests(observations: Iterable[TestObservation]) -> list[TestStats]:
    """One TestStats per test, slowest (by median, then p90 duration) first.

    The median, not the mean, ranks and represents a test: one 30 s timeout among
    fast runs lifts the mean above the p90 and would put a quick test on top.

    *observations* must come oldest first: the last one seen of a test gives its
    last outcome. Failures count failed and errored results; the pass rate is
    passed / (runs - skipped), None for a test that never ran.
    """
    acc: dict[tuple[str, str, str], _Acc] = {}
    for obs in observations:
        item = acc.setdefault((obs.classname, obs.name, obs.file), _Acc())
        if obs.outcome == "passed":
            item.passed += 1
        elif obs.outcome == "skipped":
            item.skipped += 1
        else:
            item.failures += 1
        if obs.duration is not None and obs.outcome != "skipped":
            item.durations.append(obs.duration)
        item.last_outcome, item.last_seen = obs.outcome, obs.created_at
    return _slowest_first([_finish(key, item) for key, item in acc.items()])


def _slowest_first(stats: list[TestStats]) -> list[TestStats]:
    stats.sort(
        key=lambda s: (
            -(s.median_seconds or 0.0),
            -(s.p90_seconds or 0.0),
            s.classname,
            s.name,
            s.file,
        )
    )
    return stats


class WindowTotals(NamedTuple):
    """One test's results over a window, summed by the store (see store.rollups)."""

    test_id: int
    classname: str
    name: str
    file: str
    passed: int
    failures: int
    skipped: int
    timed: int  # results with a duration that were not skipped
    duration_sum: float
    last_outcome: Outcome
    last_seen: datetime | None


def summarize_totals(
    totals: Iterable[WindowTotals], bins: Mapping[int, list[sketch.BinSpan]]
) -> list[TestStats]:
    """summarize_tests from per-test sums and duration histograms (by test id), for
    stores too large to stream: counts, pass rate, mean and last outcome are exact;
    median and p90 within sketch.ALPHA relative error of the exact ones."""
    return _slowest_first([_from_totals(item, bins.get(item.test_id, [])) for item in totals])


def _from_totals(item: WindowTotals, spans: list[sketch.BinSpan]) -> TestStats:
    executed = item.passed + item.failures
    timed = item.timed
    return TestStats(
        classname=item.classname,
        name=item.name,
        file=item.file,
        runs=executed + item.skipped,
        passed=item.passed,
        failures=item.failures,
        skipped=item.skipped,
        pass_rate=item.passed / executed if executed else None,
        mean_seconds=item.duration_sum / timed if timed else None,
        median_seconds=sketch.quantile(spans, timed, 50) if timed else None,
        p90_seconds=sketch.quantile(spans, timed, 90) if timed else None,
        last_outcome=item.last_outcome,
        last_seen=item.last_seen,
    )


def _finish(key: tuple[str, str, str], item: _Acc) -> TestStats:
    runs = item.passed + item.failures + item.skipped
    executed = item.passed + item.failures
    durations = item.durations
    return TestStats(
        classname=key[0],
        name=key[1],
        file=key[2],
        runs=runs,
        passed=item.passed,
        failures=item.failures,
        skipped=item.skipped,
        pass_rate=item.passed / executed if executed else None,
        mean_seconds=sum(durations) / len(durations) if durations else None,
        median_seconds=percentile(durations, 50) if durations else None,
        p90_seconds=percentile(durations, 90) if durations else None,
        last_outcome=item.last_outcome,
        last_seen=item.last_seen,
    )


def failing_tests(stats: Iterable[TestStats]) -> list[TestStats]:
    """Tests that failed at least once: failing now first, then most failures."""
    failing = [s for s in stats if s.failures]
    return sorted(
        failing,
        key=lambda s: (s.last_outcome not in ("failed", "error"), -s.failures, s.classname, s.name),
    )
