"""Level shifts and single-point anomalies in a pipeline's time series.

A series (a workflow's daily build time, queue time, pass rate, cache hit rate or
spend) is read in three steps, each a pure function:

1. the noise: a robust scale from the first differences (their median absolute
   deviation), which a level shift or a lone spike barely moves;
2. anomalies: a point far (``ANOMALY_SIGMAS``) from the median of its neighbours on
   *both* sides, in the same direction, is a single outlier, not a change: a point at
   the start of a level shift agrees with the side it belongs to. Anomalies are set
   to their neighbours' median before the next step;
3. level shifts: PELT (Killick, Fearnhead & Eckley 2012: exact optimal partitioning
   with pruning) on the squared error around each segment's mean, with a BIC-like
   penalty of ``PENALTY_FACTOR * sigma^2 * log n`` chosen from the data's own noise;
   then every change whose before/after medians differ by less than the noise allows
   (``MIN_SHIFT_SIGMAS``) or than ``MIN_RELATIVE`` of the level is merged away, the
   weakest first.

Each change is reported with the medians before and after and a distribution-free
interval for each (order statistics of the binomial, as for any median).

>>> found = detect([10.0] * 12 + [14.0] * 12)
>>> [c.index for c in found.changes], found.anomalies
([12], [])
>>> detect([10.0, 10.2, 9.9, 10.1, 30.0, 10.0, 9.8, 10.1, 10.0, 10.2]).anomalies
[4]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

# A point this many noise units from both of its neighbourhoods is an outlier.
ANOMALY_SIGMAS = 5.0
# Neighbours on each side that an anomaly is judged against.
ANOMALY_REACH = 3
# Penalty per change, in units of sigma^2 * log(n): 2 is BIC's (a mean and a place).
PENALTY_FACTOR = 3.0
# The fewest points a level holds: fewer is a burst, not a level.
MIN_SEGMENT = 3
# A change must move the median by this many noise units, and by this share of the level.
MIN_SHIFT_SIGMAS = 2.0
MIN_RELATIVE = 0.05
# Noise never counts as smaller than this share of the series' typical size, so a
# series that sat still (a pass rate of 100 % for weeks) does not turn every wobble
# into a change.
NOISE_FLOOR = 0.005
# Normal quantile of the medians' intervals (95 %).
Z95 = 1.959964


@dataclass(frozen=True, slots=True)
class Level:
    """The median of a segment's points and a 95 % interval for it."""

    median: float
    low: float
    high: float
    points: int


@dataclass(frozen=True, slots=True)
class Shift:
    """A level shift: the first index of the new level, and the levels either side."""

    index: int
    before: Level
    after: Level

    @property
    def change(self) -> float:
        return self.after.median - self.before.median

    @property
    def relative(self) -> float | None:
        base = self.before.median
        return None if base == 0 else self.change / abs(base)


@dataclass(frozen=True, slots=True)
class Outlier:
    """A single point far from both of its neighbourhoods."""

    index: int
    value: float
    expected: float
    sigmas: float


@dataclass(frozen=True, slots=True)
class Detection:
    """What `detect` found in one series, with the noise and penalty it used."""

    changes: list[Shift]
    outliers: list[Outlier]
    sigma: float
    penalty: float

    @property
    def anomalies(self) -> list[int]:
        return [o.index for o in self.outliers]


def noise_scale(values: Sequence[float]) -> float:
    """The noise's standard deviation, robustly: MAD of first differences / sqrt 2,
    floored at NOISE_FLOOR of the series' median magnitude.

    >>> noise_scale([10.0] * 8), round(noise_scale([10.0, 11.0, 10.0, 12.0, 10.0, 11.0]), 2)
    (0.05, 1.05)
    """
    sizes = [abs(v) for v in values]
    size = max(median(sizes), sum(sizes) / len(sizes)) if sizes else 0.0
    floor = max(NOISE_FLOOR * size, 1e-9)
    if len(values) < 3:
        return floor
    diffs = [b - a for a, b in zip(values, values[1:], strict=False)]
    center = median(diffs)
    mad = median(abs(d - center) for d in diffs)
    return max(1.4826 * mad / math.sqrt(2.0), floor)


def find_outliers(
    values: Sequence[float], sigma: float, *, sigmas: float = ANOMALY_SIGMAS
) -> list[Outlier]:
    """Points beyond *sigmas* noise units from the median of their neighbours on each
    side (ANOMALY_REACH of them), in the same direction on both sides. An end point
    is judged by the one side it has, and only when that side holds MIN_SEGMENT points:
    a newest point that leaves its past is an outlier until more points follow."""
    found = []
    for index, value in enumerate(values):
        left = values[max(0, index - ANOMALY_REACH) : index]
        right = values[index + 1 : index + 1 + ANOMALY_REACH]
        sides = [side for side in (left, right) if len(side) >= min(MIN_SEGMENT, len(values) - 1)]
        if not sides or len(values) < 2 * MIN_SEGMENT:
            continue
        gaps = [value - median(side) for side in sides]
        same_way = all(g > 0 for g in gaps) or all(g < 0 for g in gaps)
        smallest = min(abs(g) for g in gaps)
        if same_way and smallest > sigmas * sigma:
            expected = median([*left, *right])
            found.append(Outlier(index, value, expected, round(smallest / sigma, 1)))
    return found


def _cleaned(values: Sequence[float], outliers: Sequence[Outlier]) -> list[float]:
    cleaned = list(values)
    for outlier in outliers:
        cleaned[outlier.index] = outlier.expected
    return cleaned


class _Sums:
    """Prefix sums: the squared error of any segment around its mean in O(1)."""

    def __init__(self, values: Sequence[float]) -> None:
        self.s1 = [0.0]
        self.s2 = [0.0]
        for value in values:
            self.s1.append(self.s1[-1] + value)
            self.s2.append(self.s2[-1] + value * value)

    def cost(self, start: int, end: int) -> float:
        count = end - start
        total = self.s1[end] - self.s1[start]
        return self.s2[end] - self.s2[start] - total * total / count


def pelt(values: Sequence[float], penalty: float, *, min_size: int = MIN_SEGMENT) -> list[int]:
    """The first index of every new segment of the optimal partition (sum of segment
    costs plus *penalty* per change), by PELT; no segment shorter than *min_size*.

    >>> pelt([0.0] * 5 + [5.0] * 5, penalty=1.0)
    [5]
    """
    count = len(values)
    if count < 2 * min_size:
        return []
    sums = _Sums(values)
    best = [-penalty] + [math.inf] * count  # the first segment pays no penalty
    previous = [0] * (count + 1)
    candidates = [0]
    dominated: dict[int, int] = {}  # start -> the step from which it can never win
    for end in range(min_size, count + 1):
        ready = [start for start in candidates if end - start >= min_size]
        best[end], previous[end] = min(
            (best[start] + sums.cost(start, end) + penalty, start) for start in ready
        )
        # Pruning: a start beaten by *end* now is beaten by it for good, but only once
        # *end* may start a segment itself (min_size steps later).
        for start in ready:
            if start not in dominated and best[start] + sums.cost(start, end) > best[end]:
                dominated[start] = end + min_size
        candidates = [s for s in candidates if dominated.get(s, count + 1) > end]
        candidates.append(end)
    return _trace(previous, count)


def _trace(previous: Sequence[int], count: int) -> list[int]:
    cuts = []
    end = count
    while end > 0:
        end = previous[end]
        if end > 0:
            cuts.append(end)
    return sorted(cuts)


def median_interval(values: Sequence[float], *, z: float = Z95) -> Level:
    """The median and a distribution-free interval: the order statistics whose ranks
    bound the binomial(n, 1/2) count below the median (normal approximation).

    >>> median_interval([float(v) for v in range(1, 26)])
    Level(median=13.0, low=8.0, high=18.0, points=25)
    """
    ordered = sorted(values)
    count = len(ordered)
    half_width = z * math.sqrt(count) / 2
    low_rank = max(int(math.floor(count / 2 - half_width)), 0)
    high_rank = count - 1 - low_rank
    return Level(median(ordered), ordered[low_rank], ordered[high_rank], count)


def _shifts(values: Sequence[float], cuts: Sequence[int]) -> list[Shift]:
    if not cuts:
        return []
    bounds = [0, *cuts, len(values)]
    levels = [median_interval(values[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    return [
        Shift(cut, before, after)
        for cut, before, after in zip(cuts, levels, levels[1:], strict=False)
    ]


def _weak(shift: Shift, sigma: float) -> float | None:
    """How far below the bar *shift* falls (None: it clears it), in noise units."""
    size = abs(shift.change)
    bar = max(MIN_SHIFT_SIGMAS * sigma, MIN_RELATIVE * abs(shift.before.median))
    return None if size >= bar else size / sigma


def _significant(values: Sequence[float], cuts: list[int], sigma: float) -> list[int]:
    """*cuts* without the changes too small to be real, the weakest merged away first
    (merging changes its neighbours' levels, so the rest are judged again)."""
    while cuts:
        weak = [(w, s.index) for s in _shifts(values, cuts) if (w := _weak(s, sigma)) is not None]
        if not weak:
            break
        cuts = [cut for cut in cuts if cut != min(weak)[1]]
    return cuts


def detect(
    values: Sequence[float],
    *,
    penalty_factor: float = PENALTY_FACTOR,
    min_size: int = MIN_SEGMENT,
) -> Detection:
    """Level shifts and single-point outliers of *values* (evenly spaced, oldest first)."""
    sigma = noise_scale(values)
    outliers = find_outliers(values, sigma)
    cleaned = _cleaned(values, outliers)
    penalty = penalty_factor * sigma * sigma * math.log(max(len(values), 2))
    cuts = _significant(cleaned, pelt(cleaned, penalty, min_size=min_size), sigma)
    return Detection(_shifts(cleaned, cuts), outliers, sigma, penalty)
