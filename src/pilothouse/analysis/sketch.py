"""A mergeable duration histogram (DDSketch-style log bins) and its quantiles.

A positive duration *d* falls in bin ``ceil(log(d) / log(GAMMA))``, which holds the
durations in ``(GAMMA**(i-1), GAMMA**i]``; the bin's value ``2 * GAMMA**i / (GAMMA + 1)``
is within ``ALPHA`` relative error of every duration in it. Zero durations have their
own bin (value 0, exact). A bin also keeps the least and greatest duration it got, and
its value is clamped to them: exact when they are equal (a test that always takes the
same time), and still within ALPHA of every duration between them. Bins of two
histograms merge by adding counts (least of the lows, greatest of the highs), so
per-day histograms stored at ingest add up to any window's.

A quantile is read the way ``test_stats.percentile`` computes it exactly (linear
interpolation between the two order statistics around rank ``(n - 1) * q / 100``),
with each order statistic replaced by its bin's value: both are within ALPHA of the
true ones and have the same sign, so their weighted mean is within ALPHA of the
exact quantile.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LOG_GAMMA = math.log(GAMMA)
# Below any bin of a positive double (log(5e-324) / LOG_GAMMA is about -37,000).
ZERO_BIN = -100_000


def bin_of(duration: float) -> int:
    """The bin of a duration (seconds, >= 0; parse_duration refuses negative ones).

    >>> bin_of(0.0), bin_of(1.0), bin_of(1.5)
    (-100000, 0, 21)
    """
    if duration <= 0.0:
        return ZERO_BIN
    return math.ceil(math.log(duration) / LOG_GAMMA)


def bin_value(index: int) -> float:
    """The value that stands for every duration of bin *index*.

    >>> round(bin_value(bin_of(1.5)) / 1.5, 2)
    1.0
    """
    if index == ZERO_BIN:
        return 0.0
    return 2.0 * GAMMA**index / (GAMMA + 1.0)


class BinSpan(NamedTuple):
    """One bin of a sorted histogram: the 0-based ranks first..last it holds, and the
    least and greatest duration put in it (bounds: never inside the bin's values)."""

    first: int
    last: int
    bin: int
    low: float
    high: float

    def value(self) -> float:
        """The bin's value, clamped to the durations it got."""
        return min(max(bin_value(self.bin), self.low), self.high)


class Bin(NamedTuple):
    """A histogram bin as stored: its index, count (n), least and greatest duration."""

    bin: int
    n: int
    low: float
    high: float

    @classmethod
    def of(cls, duration: float) -> Bin:
        return cls(bin_of(duration), 1, duration, duration)


def ranks(q: float, total: int) -> tuple[int, int, float]:
    """The order statistics (low, high) a q-th percentile of *total* values interpolates
    between, and the weight of high: the definition of test_stats.percentile.

    >>> ranks(90, 5)
    (3, 4, 0.6000000000000001)
    """
    rank = (total - 1) * q / 100.0
    low = math.floor(rank)
    return low, min(low + 1, total - 1), rank - low


def spans(bins: Iterable[Bin]) -> list[BinSpan]:
    """The ranks each bin holds once sorted by bin (bins of one index merged)."""
    merged: dict[int, Bin] = {}
    for item in bins:
        seen = merged.get(item.bin)
        if seen is not None:
            item = Bin(item.bin, seen.n + item.n, min(seen.low, item.low),
                       max(seen.high, item.high))  # fmt: skip
        merged[item.bin] = item
    found: list[BinSpan] = []
    first = 0
    for index in sorted(merged):
        item = merged[index]
        if item.n > 0:
            found.append(BinSpan(first, first + item.n - 1, index, item.low, item.high))
            first += item.n
    return found


def _value_at(found: Iterable[BinSpan], rank: int) -> float:
    for span in found:
        if span.first <= rank <= span.last:
            return span.value()
    raise ValueError(f"no bin holds rank {rank}")


def quantile(found: list[BinSpan], total: int, q: float) -> float:
    """The q-th percentile (0..100) of the *total* durations binned in *found*.

    *found* needs only the bins holding the two ranks around the percentile (the
    store sends just those).

    >>> quantile(spans([Bin.of(1.0), Bin.of(2.0)]), 2, 50)
    1.5
    """
    if total <= 0:
        raise ValueError("quantile of no values")
    low, high, weight = ranks(q, total)
    low_value, high_value = _value_at(found, low), _value_at(found, high)
    return round(low_value + (high_value - low_value) * weight, 12)
