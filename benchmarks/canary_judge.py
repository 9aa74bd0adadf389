"""False passes and false alarms of `pilothouse canary judge` against a plain
Mann-Whitney judge (Kayenta's NetflixACAJudge: the same code with pilothouse's checks off).

Each scenario draws a baseline and a canary (30 steps each, seeded) many times and judges
one metric. Healthy scenarios draw both from one distribution: a "fail" is a false alarm.
Broken scenarios draw the canary from a worse distribution: a "pass" is a false pass.

    .venv/bin/python benchmarks/canary_judge.py [--trials 300] [--steps 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pilothouse.delivery.canary import CanaryConfig, MetricConfig, judge

Draw = Callable[[np.random.Generator, int], list[float]]

CONFIDENCE = 0.95
LATENCY = MetricConfig("latency", "latency", direction="increase")
ERRORS = MetricConfig("errors", "errors", kind="count", direction="increase")


@dataclass(frozen=True)
class Scenario:
    name: str
    metric: MetricConfig
    baseline: Draw
    canary: Draw
    healthy: bool


def _lognormal(scale: float = 1.0, sigma: float = 0.3) -> Draw:
    return lambda rng, n: list(scale * rng.lognormal(np.log(200), sigma, n))


def _normal(mean: float, sd: float) -> Draw:
    return lambda rng, n: list(rng.normal(mean, sd, n))


def _poisson(rate: float) -> Draw:
    return lambda rng, n: [float(v) for v in rng.poisson(rate, n)]


def _slow_share(share: float, factor: float) -> Draw:
    """Most steps as usual, *share* of them *factor* times slower (a bad host, a cold path)."""

    def draw(rng: np.random.Generator, n: int) -> list[float]:
        base = rng.lognormal(np.log(200), 0.1, n)
        return list(np.where(rng.random(n) < share, base * factor, base))

    return draw


SCENARIOS = [
    Scenario("healthy latency (lognormal)", LATENCY, _lognormal(), _lognormal(), True),
    Scenario("healthy latency (normal)", LATENCY, _normal(200, 20), _normal(200, 20), True),
    Scenario("healthy errors (Poisson 2/step)", ERRORS, _poisson(2), _poisson(2), True),
    Scenario("healthy sparse errors (0.1/step)", ERRORS, _poisson(0.1), _poisson(0.1), True),
    Scenario("latency +15 %", LATENCY, _lognormal(), _lognormal(1.15), False),
    Scenario("latency spread x3 (kayenta#780)", LATENCY, _normal(200, 10), _normal(200, 30), False),
    Scenario(
        "30 % of steps 2x slower (spinnaker#6278)",
        LATENCY, _slow_share(0, 1), _slow_share(0.3, 2), False,
    ),
    Scenario("errors 0 -> 0.2/step (kayenta#426)", ERRORS, _poisson(0.0), _poisson(0.2), False),
    Scenario("errors 0.1 -> 0.5/step", ERRORS, _poisson(0.1), _poisson(0.5), False),
    Scenario("errors 2 -> 3/step", ERRORS, _poisson(2), _poisson(3), False),
]  # fmt: skip


def run(scenario: Scenario, trials: int, steps: int, seed: int) -> tuple[float, float, float]:
    """(pilothouse's wrong rate, Kayenta's wrong rate, seconds per pilothouse judgement)."""
    rng = np.random.default_rng(seed)
    config = CanaryConfig(confidence=CONFIDENCE, metrics=(scenario.metric,))
    wrong = {True: 0, False: 0}
    spent = 0.0
    for _ in range(trials):
        series = {
            (scenario.metric.name, "baseline"): scenario.baseline(rng, steps),
            (scenario.metric.name, "canary"): scenario.canary(rng, steps),
        }
        for beyond in (True, False):
            began = time.perf_counter()
            verdict = judge(config, series, beyond_kayenta=beyond).classification
            if beyond:
                spent += time.perf_counter() - began
            wrong[beyond] += (verdict == "fail") if scenario.healthy else (verdict == "pass")
    return wrong[True] / trials, wrong[False] / trials, spent / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{args.trials} trials per scenario, {args.steps} steps per side, seed {args.seed}")
    print(f"{'scenario':44} {'measures':11} {'pilothouse':>10} {'kayenta':>8} {'ms/judge':>9}")
    totals: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for i, scenario in enumerate(SCENARIOS):
        ours, theirs, seconds = run(scenario, args.trials, args.steps, args.seed + i)
        totals[scenario.healthy].append((ours, theirs))
        kind = "false alarm" if scenario.healthy else "false pass"
        print(f"{scenario.name:44} {kind:11} {ours:10.1%} {theirs:8.1%} {seconds * 1000:9.1f}")
    alarms = [o for o, _ in totals[True]], [t for _, t in totals[True]]
    passes = [o for o, _ in totals[False]], [t for _, t in totals[False]]
    print(
        f"mean false alarms: pilothouse {np.mean(alarms[0]):.1%}, Kayenta {np.mean(alarms[1]):.1%}"
        f" (worst {max(alarms[0]):.1%}; the checks beyond Kayenta run at {1 - CONFIDENCE:.0%})"
    )
    ratio = float(np.mean(passes[0]) / np.mean(passes[1]))
    print(
        f"mean false passes: pilothouse {np.mean(passes[0]):.1%}, Kayenta {np.mean(passes[1]):.1%}"
        f" ({ratio:.2f}x Kayenta's)"
    )


if __name__ == "__main__":
    main()
