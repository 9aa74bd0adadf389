"""Benchmark: shard quality of pilothouse against pytest-split, on real durations.

Data: every committed version of HyphaApp/hypha's `.test_durations` (pytest-split's
own format), from the project's shared data (``../shared/data/durations/hypha``,
or pass ``--data DIR``).

(a) Full knowledge: plan and measure with the same version's durations, N = 2..32:
    makespan / lower bound, where lower bound = max(total / N, longest test).
(b) Drift: plan on version t, run with version t+1's tests and durations (new tests
    unknown to the plan, old ones slower or faster): the measured slowest shard /
    version t+1's lower bound. This is what CI actually experiences.
(c) Time per call for 50,000 tests into 64 shards.

pytest-split's least_duration is its greedy longest-first (LPT) with the mean of
known durations for unknown tests. Ratios are printed; nothing is asserted.

    .venv/bin/python benchmarks/shard_quality.py [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from pytest_split.algorithms import Algorithms

from pilothouse.analysis.sharding import lower_bound, plan_shards

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "durations" / "hypha"
SHARDS = (2, 3, 4, 6, 8, 12, 16, 24, 32)


class _Item(NamedTuple):
    """What pytest-split reads of a pytest item."""

    nodeid: str


def pytest_split_plan(durations: dict[str, float], tests: list[str], n: int) -> list[list[str]]:
    groups = Algorithms.least_duration.value(n, [_Item(t) for t in tests], durations)
    return [[item.nodeid for item in group.selected] for group in groups]


def pilothouse_plan(durations: dict[str, float], tests: list[str], n: int) -> list[list[str]]:
    return [list(shard.tests) for shard in plan_shards(durations, tests, n).shards]


def measured(plan: list[list[str]], actual: dict[str, float], n: int) -> float:
    """Slowest shard with the *actual* durations, over the actual lower bound."""
    makespan = max(sum(actual[t] for t in shard if t in actual) for shard in plan)
    return makespan / lower_bound(list(actual.values()), n)


def load_versions(folder: Path) -> list[tuple[str, dict[str, float]]]:
    return [(p.stem, json.loads(p.read_text())) for p in sorted(folder.glob("*.json"))]


def pigeonhole_bound(durations: dict[str, float], n: int) -> float:
    """A tighter bound: of the N+1 longest tests two must share a shard."""
    longest = sorted(durations.values(), reverse=True)
    paired = longest[n - 1] + longest[n] if len(longest) > n else 0.0
    return max(lower_bound(longest, n), paired)


def full_knowledge(versions: list[tuple[str, dict[str, float]]]) -> None:
    print("(a) full knowledge: makespan / lower bound, mean and worst over versions;")
    print("    last column: pilothouse's worst against the pigeonhole bound (two of the N+1")
    print("    longest tests must share a shard), i.e. against what is achievable")
    print(f"{'N':>4} {'pilothouse':>20} {'pytest-split':>20} {'vs pigeonhole':>14}")
    for n in SHARDS:
        ours, theirs, tight = [], [], []
        for _name, durations in versions:
            tests = sorted(durations)
            plan = pilothouse_plan(durations, tests, n)
            ours.append(measured(plan, durations, n))
            theirs.append(measured(pytest_split_plan(durations, tests, n), durations, n))
            makespan = max(sum(durations[t] for t in shard) for shard in plan)
            tight.append(makespan / pigeonhole_bound(durations, n))
        print(
            f"{n:>4} {statistics.mean(ours):>11.4f} / {max(ours):.4f}"
            f" {statistics.mean(theirs):>11.4f} / {max(theirs):.4f} {max(tight):>14.4f}"
        )


def history_median(versions: list[dict[str, float]]) -> dict[str, float]:
    """Each test's median over the versions that have it: what a store of history gives."""
    samples: dict[str, list[float]] = {}
    for durations in versions:
        for test, seconds in durations.items():
            samples.setdefault(test, []).append(seconds)
    return {test: statistics.median(values) for test, values in samples.items()}


def drift(versions: list[tuple[str, dict[str, float]]], window: int) -> None:
    print()
    print("(b) drift: plan on version t, run with t+1; measured slowest / t+1 lower bound")
    print(f"    pilothouse (history): median of the last {window} versions up to t")
    print(f"{'N':>4} {'pilothouse (t)':>20} {'pilothouse (history)':>22} {'pytest-split (t)':>20}")
    for n in SHARDS:
        ours, history, theirs = [], [], []
        for t in range(len(versions) - 1):
            before, after = versions[t][1], versions[t + 1][1]
            known = history_median([d for _name, d in versions[max(0, t + 1 - window) : t + 1]])
            tests = sorted(after)
            ours.append(measured(pilothouse_plan(before, tests, n), after, n))
            history.append(measured(pilothouse_plan(known, tests, n), after, n))
            theirs.append(measured(pytest_split_plan(before, tests, n), after, n))
        print(
            f"{n:>4} {statistics.mean(ours):>11.4f} / {max(ours):.4f}"
            f" {statistics.mean(history):>13.4f} / {max(history):.4f}"
            f" {statistics.mean(theirs):>11.4f} / {max(theirs):.4f}"
        )


def speed() -> None:
    rng = random.Random(7)
    durations = {
        f"tests/test_{i // 40}.py::TestC{i % 5}::test_{i}": rng.lognormvariate(-1, 1.6)
        for i in range(50_000)
    }
    tests = sorted(durations)
    start = time.perf_counter()
    plan = plan_shards(durations, tests, 64)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    pytest_split_plan(durations, tests, 64)
    theirs = time.perf_counter() - start
    print()
    print("(c) 50,000 tests into 64 shards")
    ratio = plan.makespan / plan.lower_bound
    print(f"  pilothouse   {ours:.2f} s  makespan / lower bound {ratio:.5f}")
    print(f"  pytest-split {theirs:.2f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    versions = load_versions(args.data)
    if len(versions) < 2:
        parser.error(f"{args.data}: need at least two .test_durations versions")
    print(f"{len(versions)} versions of hypha's .test_durations from {args.data}")
    print()
    full_knowledge(versions)
    drift(versions, window=3)
    speed()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
