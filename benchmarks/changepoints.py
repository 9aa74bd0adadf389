"""Benchmark: level-shift detection against a plain threshold rule, on generated series.

Each series is a pipeline metric as `pilothouse changes` reads it (a point per day):
a level (build minutes, queue seconds, a pass rate, daily spend), noise that is
Gaussian or heavy-tailed (Student's t, 3 degrees of freedom) at 2-8 % of the level,
0-3 level shifts of 10-60 % either way (at least 8 days apart and from the ends), and
0-3 single-day spikes of 40-200 % (a runner that hung, a one-off bill), never on a
shift's first day. What is known: where each shift starts.

Both detectors see each series and name the days where a new level starts:
- pilothouse: `analysis.changepoints.detect` (outliers apart, PELT, merged when small);
- threshold: a day above 1.2 x (or below 1 / 1.2 x) the median of the 7 days before
  is flagged, and the first day of each run of flagged days is a change (what an alert
  rule "build time > 120 % of its weekly median" does).

A named day within TOLERANCE days of a true shift's start (each matched once) is a hit.
Printed per detector: precision, recall, F1, the mean dating error of the hits (days),
and the ratios pilothouse / threshold (precision and recall: higher is better; dating
error: lower is better); then how many spikes pilothouse named as one-day anomalies.
Nothing is asserted.

    .venv/bin/python benchmarks/changepoints.py [--series 400] [--days 90] [--seed 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pilothouse.analysis.changepoints import detect

TOLERANCE = 3
THRESHOLD = 1.2
TRAILING = 7


@dataclass(frozen=True)
class Case:
    values: list[float]
    shifts: list[int]
    spikes: list[int]


def _noise(rng: random.Random, scale: float, heavy: bool) -> float:
    if not heavy:
        return rng.gauss(0.0, scale)
    # Student's t with 3 degrees of freedom, scaled to the same standard deviation / sqrt 3
    chi = sum(rng.gauss(0.0, 1.0) ** 2 for _ in range(3))
    return scale * rng.gauss(0.0, 1.0) / (chi / 3) ** 0.5 / 3**0.5


def _places(rng: random.Random, days: int, count: int, gap: int) -> list[int]:
    for _ in range(100):
        chosen = sorted(rng.sample(range(gap, days - gap), count))
        if all(b - a >= gap for a, b in zip(chosen, chosen[1:], strict=False)):
            return chosen
    return []


def generate(rng: random.Random, days: int) -> Case:
    level = rng.choice([rng.uniform(5, 40), rng.uniform(30, 600), rng.uniform(80, 99.5)])
    relative_noise = rng.uniform(0.02, 0.08)
    heavy = rng.random() < 0.4
    shifts = _places(rng, days, rng.randint(0, 3), 8)
    spikes = [
        s for s in rng.sample(range(days), rng.randint(0, 3)) if all(abs(s - t) > 1 for t in shifts)
    ]
    values: list[float] = []
    current = level
    for day in range(days):
        if day in shifts:
            current *= 1 + rng.choice([-1, 1]) * rng.uniform(0.10, 0.60)
        value = current + _noise(rng, relative_noise * current, heavy)
        if day in spikes:
            value += current * rng.uniform(0.4, 2.0)
        values.append(max(value, 0.0))
    return Case(values, shifts, sorted(spikes))


def pilothouse(values: Sequence[float]) -> list[int]:
    return [change.index for change in detect(values).changes]


def threshold_rule(values: Sequence[float]) -> list[int]:
    flagged = []
    for day in range(TRAILING, len(values)):
        base = statistics.median(values[day - TRAILING : day])
        flagged.append(values[day] > THRESHOLD * base or values[day] < base / THRESHOLD)
    starts = []
    for offset, flag in enumerate(flagged):
        if flag and (offset == 0 or not flagged[offset - 1]):
            starts.append(offset + TRAILING)
    return starts


@dataclass
class Score:
    hits: int = 0
    named: int = 0
    true: int = 0
    error: float = 0.0

    def add(self, named: Sequence[int], true: Sequence[int]) -> None:
        left = list(true)
        self.named += len(named)
        self.true += len(true)
        for day in named:
            near = [t for t in left if abs(t - day) <= TOLERANCE]
            if near:
                best = min(near, key=lambda t: abs(t - day))
                left.remove(best)
                self.hits += 1
                self.error += abs(best - day)

    @property
    def precision(self) -> float:
        return self.hits / self.named if self.named else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.true if self.true else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def dating(self) -> float:
        return self.error / self.hits if self.hits else float("nan")


def run(cases: Sequence[Case], detector: Callable[[Sequence[float]], list[int]]) -> Score:
    score = Score()
    for case in cases:
        score.add(detector(case.values), case.shifts)
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cases = [generate(rng, args.days) for _ in range(args.series)]
    shifts = sum(len(c.shifts) for c in cases)
    spikes = sum(len(c.spikes) for c in cases)
    print(f"{args.series} series of {args.days} days: {shifts} level shifts, {spikes} spikes")
    ours, theirs = run(cases, pilothouse), run(cases, threshold_rule)
    print(f"{'detector':<12}{'precision':>11}{'recall':>9}{'F1':>7}{'dating error (days)':>22}")
    for name, score in (("pilothouse", ours), ("threshold", theirs)):
        print(
            f"{name:<12}{score.precision:>11.3f}{score.recall:>9.3f}{score.f1:>7.3f}"
            f"{score.dating:>22.2f}"
        )
    spikes_found = Score()
    for case in cases:
        spikes_found.add(detect(case.values).anomalies, case.spikes)
    print(
        f"one-day anomalies (pilothouse only): {spikes_found.hits} of {spikes_found.true} spikes "
        f"named (recall {spikes_found.recall:.3f}), precision {spikes_found.precision:.3f}"
    )
    print(
        f"ratios pilothouse / threshold: precision {ours.precision / theirs.precision:.2f}x, "
        f"recall {ours.recall / theirs.recall:.2f}x, F1 {ours.f1 / theirs.f1:.2f}x, "
        f"dating error {ours.dating / theirs.dating:.2f}x (lower is better)"
    )


if __name__ == "__main__":
    main()
