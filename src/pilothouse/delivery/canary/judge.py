"""Classify each metric of a canary against its baseline and score the whole, as
Kayenta's NetflixACAJudge does, plus the checks Kayenta lacks.

Per metric (`classify`): NaN handling and IQR outlier removal; Kayenta's short-circuits
(no data, identical, one distinct value); the Mann-Whitney interval against a tolerance
of 0.25 of the Hodges-Lehmann estimate, gated by the effect size; the critical override.
A metric Kayenta passes then meets pilothouse's own checks: the absolute `min`/`max`,
a Poisson rate test on the totals of a `count` metric, and Kolmogorov-Smirnov and
Brown-Forsythe tests of a `gauge` (a change of shape or spread with no shift of location).

The score (`score`): per group 100 x passes / counted metrics, weighted; 0 when a critical
metric fails or when half or more of the metrics have no data; then pass / marginal / fail.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import numpy as np

from pilothouse.delivery.canary import stats
from pilothouse.delivery.canary.config import (
    KAYENTA_CONFIDENCE,
    KAYENTA_TOLERANCE,
    CanaryConfig,
    MetricConfig,
)

Classification = Literal["pass", "high", "low", "nodata"]
Verdict = Literal["pass", "marginal", "fail"]
Series = Mapping[tuple[str, str], Sequence[float]]

NODATA_THRESHOLD = 50.0  # percent of metrics without data that fails the canary
NOISE_SCALE = 1e-5  # Kayenta's Gaussian noise on two constant series, relative to the value


@dataclass(frozen=True)
class MetricResult:
    """How one metric of the canary compares with the baseline, and why."""

    name: str
    group: str
    classification: Classification
    critical: bool = False
    reason: str = ""
    test: str | None = None  # the test that decided: mann-whitney, poisson-rate, ks, max, min
    statistic: float | None = None
    interval: tuple[float, float] | None = None
    estimate: float | None = None
    effect: float | None = None
    p_value: float | None = None
    counted: bool = True  # counts in its group's score (a plain no-data result does not)
    muted: bool = False

    def to_json(self) -> dict[str, Any]:
        """The record of the `--json` output."""
        return {
            "name": self.name,
            "group": self.group,
            "classification": self.classification,
            "critical": self.critical,
            "statistic": _finite(self.statistic),
            "interval": None if self.interval is None else [_finite(v) for v in self.interval],
            "estimate": _finite(self.estimate),
            "effect": _finite(self.effect),
            "p_value": _finite(self.p_value),
            "reason": self.reason,
            "test": self.test,
        }


@dataclass(frozen=True)
class Judgement:
    """The canary's score (0-100), its classification, each metric and each group."""

    score: float
    classification: Verdict
    metrics: tuple[MetricResult, ...]
    groups: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The `--json` document."""
        return {
            "score": self.score,
            "classification": self.classification,
            "reason": self.reason,
            "metrics": [m.to_json() for m in self.metrics],
            "groups": dict(self.groups),
        }


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    return value if value is not None and math.isfinite(value) else None


def judge(config: CanaryConfig, series: Series, *, beyond_kayenta: bool = True) -> Judgement:
    """Classify every configured metric from *series* and score the canary.

    A metric absent from *series* has no data on that side. With *beyond_kayenta*
    False only Kayenta's own classification runs (the benchmark's reference judge).
    """
    results = tuple(
        classify(
            metric,
            series.get((metric.name, "baseline"), ()),
            series.get((metric.name, "canary"), ()),
            confidence=config.confidence,
            beyond_kayenta=beyond_kayenta,
        )
        for metric in config.metrics
    )
    return score(config, results)


# ---------------------------------------------------------------- one metric


def prepare(values: Sequence[float], metric: MetricConfig) -> list[float]:
    """NaNs removed (or replaced by 0), then outliers removed when configured.
    An infinity counts as NaN: it has no place on the scale the tests compare."""
    if metric.nan_strategy == "remove":
        kept = [float(v) for v in values if math.isfinite(v)]
    else:
        kept = [float(v) if math.isfinite(v) else 0.0 for v in values]
    if metric.outliers == "remove":
        kept = stats.iqr_keep(kept, metric.outlier_factor)
    return kept


def classify(
    metric: MetricConfig,
    baseline: Sequence[float],
    canary: Sequence[float],
    *,
    confidence: float = 0.95,
    beyond_kayenta: bool = True,
) -> MetricResult:
    """One metric's result: Kayenta's classification, then pilothouse's checks."""
    base, can = prepare(baseline, metric), prepare(canary, metric)
    result = kayenta_classify(metric, base, can)
    if not beyond_kayenta:
        return replace(result, muted=metric.muted)
    if result.classification == "pass" and can:
        result = _absolute(metric, can) or result
    if result.classification == "pass" and result.test == "mann-whitney":
        result = _beyond_kayenta(metric, base, can, 1.0 - confidence) or result
    return replace(result, muted=metric.muted)


def kayenta_classify(
    metric: MetricConfig,
    base: Sequence[float],
    can: Sequence[float],
    *,
    tolerance: float = KAYENTA_TOLERANCE,
    confidence: float = KAYENTA_CONFIDENCE,
) -> MetricResult:
    """The MannWhitneyClassifier of Kayenta's NetflixACAJudge on prepared values (the
    judge uses Kayenta's tolerance 0.25 and confidence 0.98; its unit tests vary them)."""
    base, can = list(base), list(can)
    start = MetricResult(metric.name, metric.group, "pass")
    if not base or not can:
        return _no_data(metric, base, can, start)
    if sorted(base) == sorted(can):
        return replace(start, reason="the canary and baseline data are identical")
    if len(set(base) | set(can)) == 1:
        return replace(start, reason="one value in both canary and baseline")
    return _critical(metric, _compare(metric, base, can, tolerance, confidence))


def _no_data(
    metric: MetricConfig, base: list[float], can: list[float], start: MetricResult
) -> MetricResult:
    if metric.nan_strategy == "replace":  # Kayenta: no data with NaNs replaced is a pass
        return replace(start, reason="no data (NaNs replaced by 0): nothing to compare")
    side = "canary and baseline" if not base and not can else "canary" if not can else "baseline"
    reason = f"no data for the {side}"
    if metric.must_have_data and not metric.critical:
        return replace(start, classification="nodata", reason=f"{reason} (must have data)")
    return replace(
        start, classification="nodata", reason=reason, critical=metric.critical, counted=False
    )


def _compare(
    metric: MetricConfig, base: list[float], can: list[float], tolerance: float, confidence: float
) -> MetricResult:
    """Mann-Whitney of canary against baseline, outside ±tolerance |estimate| to count."""
    if len(set(base)) == 1 and len(set(can)) == 1:
        base, can = _with_noise(base, metric.name + "/b"), _with_noise(can, metric.name + "/c")
    mw = stats.mann_whitney(can, base, confidence)
    effect = _effect(metric, base, can)
    bound = tolerance * abs(mw.estimate)
    result = MetricResult(
        metric.name,
        metric.group,
        "pass",
        test="mann-whitney",
        statistic=mw.statistic,
        interval=(mw.lower, mw.upper),
        estimate=mw.estimate,
        effect=effect,
        p_value=mw.p_value,
    )
    shown = f"shift {mw.estimate:+.3g}, {confidence:.0%} interval {mw.lower:.3g} to {mw.upper:.3g}"
    gated = math.isnan(effect)
    if (
        metric.direction != "decrease"
        and mw.lower > bound
        and (gated or effect >= metric.allowed_increase)
    ):
        return replace(result, classification="high", reason=f"higher: {shown}")
    if (
        metric.direction != "increase"
        and mw.upper < -bound
        and (gated or effect <= metric.allowed_decrease)
    ):
        return replace(result, classification="low", reason=f"lower: {shown}")
    return replace(result, reason=f"no significant change: {shown}")


def _with_noise(values: list[float], key: str) -> list[float]:
    """Kayenta breaks the ties of a constant series with Gaussian noise; seeded here
    by the metric's name so that a judgement can be repeated."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    noise = rng.normal(0.0, abs(values[0]) * NOISE_SCALE, len(values))
    return [v + float(n) for v, n in zip(values, noise, strict=True)]


def _effect(metric: MetricConfig, base: list[float], can: list[float]) -> float:
    if metric.effect_size == "cles":
        return stats.cles(base, can)
    return stats.mean_ratio(base, can)


def _critical(metric: MetricConfig, result: MetricResult) -> MetricResult:
    """A critical metric high or low beyond its critical effect size fails the canary."""
    if not metric.critical or result.classification not in ("high", "low"):
        return result
    effect = result.effect if result.effect is not None else math.nan
    beyond = (
        math.isnan(effect)
        or (result.classification == "high" and effect >= metric.critical_increase)
        or (result.classification == "low" and effect <= metric.critical_decrease)
    )
    if not beyond:
        return result
    return replace(result, critical=True)


# ------------------------------------------------------- beyond Kayenta


def _absolute(metric: MetricConfig, can: list[float]) -> MetricResult | None:
    """Flagger's thresholdRange on the canary's mean."""
    mean = float(np.mean(can))
    start = MetricResult(
        metric.name, metric.group, "pass", critical=metric.critical, statistic=mean
    )
    if metric.max is not None and mean > metric.max:
        reason = f"canary mean {mean:.4g} above max {metric.max:g}"
        return replace(start, classification="high", test="max", reason=reason)
    if metric.min is not None and mean < metric.min:
        reason = f"canary mean {mean:.4g} below min {metric.min:g}"
        return replace(start, classification="low", test="min", reason=reason)
    return None


_ALTERNATIVE = {"increase": "greater", "decrease": "less", "either": "two-sided"}


def _beyond_kayenta(
    metric: MetricConfig, base: list[float], can: list[float], alpha: float
) -> MetricResult | None:
    """The rate test of a count, the distribution test of a gauge: a result when the
    canary differs significantly (p < alpha) in a direction the metric cares about."""
    if metric.kind == "count":
        return _rate(metric, base, can, alpha)
    return _distribution(metric, base, can, alpha)


def _rate(
    metric: MetricConfig, base: list[float], can: list[float], alpha: float
) -> MetricResult | None:
    test = stats.poisson_rate_test(can, base, _ALTERNATIVE[metric.direction])
    if test.p_value >= alpha or test.ratio == 1.0:
        return None
    side: Classification = "high" if test.ratio > 1 else "low"
    effect = _effect(metric, base, can)
    if not math.isnan(effect) and (
        (side == "high" and effect < metric.allowed_increase)
        or (side == "low" and effect > metric.allowed_decrease)
    ):
        return None
    totals = f"{sum(can):g} events in {len(can)} steps against {sum(base):g} in {len(base)}"
    result = MetricResult(
        metric.name,
        metric.group,
        side,
        test="poisson-rate",
        statistic=test.statistic,
        effect=effect,
        p_value=test.p_value,
        reason=f"rate {side}er: {totals} (Poisson E-test p={test.p_value:.2g})",
    )
    return _critical(metric, result)


def _distribution(
    metric: MetricConfig, base: list[float], can: list[float], alpha: float
) -> MetricResult | None:
    """Kolmogorov-Smirnov (any change of shape) and Brown-Forsythe (a change of spread),
    each at alpha / 2 so that together they flag a healthy metric at most alpha of the time."""
    tests = (
        ("ks", "Kolmogorov-Smirnov D", stats.ks_test(can, base)),
        ("spread", "Brown-Forsythe W", stats.spread_test(can, base)),
    )
    found = [
        (name, label, test)
        for name, label, test in tests
        if test.p_value < alpha / 2 and _allowed(metric, test.heavier)
    ]
    if not found:
        return None
    name, label, test = min(found, key=lambda t: t[2].p_value)
    side: Classification = "high" if test.heavier == "high" else "low"
    what = "tail or shape" if name == "ks" else "spread"
    result = MetricResult(
        metric.name,
        metric.group,
        side,
        test=name,
        statistic=test.statistic,
        p_value=test.p_value,
        reason=f"{what} {side}er ({label}={test.statistic:.2g}, p={test.p_value:.2g})",
    )
    # No effect-size gate: a change of spread leaves the mean ratio at 1.
    return replace(_critical(metric, result), effect=_effect(metric, base, can))


def _allowed(metric: MetricConfig, side: str) -> bool:
    """Whether the metric's direction cares about a change on *side*."""
    if side == "high":
        return metric.direction != "decrease"
    return metric.direction != "increase"


# ---------------------------------------------------------------- the score


def score(config: CanaryConfig, results: tuple[MetricResult, ...]) -> Judgement:
    """Kayenta's WeightedSumScorer and ThresholdScoreClassifier over *results*."""
    active = [r for r in results if not r.muted]
    groups = _group_scores(active)
    failed = next((r for r in active if r.critical and r.classification != "pass"), None)
    nodata = sum(1 for r in active if r.classification == "nodata" and not r.counted)
    reason: str | None = None
    if failed is not None:
        total, reason = 0.0, f"critical metric {failed.name} is {failed.classification}"
    elif active and nodata * 100 / len(active) >= NODATA_THRESHOLD:
        total, reason = 0.0, f"{NODATA_THRESHOLD:g}% or more of the metrics have no data"
    else:
        no_data = {g for g in groups if not any(r.counted for r in active if r.group == g)}
        total = _weighted_sum(groups, config.groups, no_data)
    return Judgement(total, _verdict(config, total), results, groups, reason)


def _group_scores(results: list[MetricResult]) -> dict[str, float]:
    """100 x passes / counted metrics per group; 0 for a group with none counted
    (reported as Kayenta reports it; the summary counts such a group as 100)."""
    scores: dict[str, float] = {}
    for group in dict.fromkeys(r.group for r in results):
        counted = [r for r in results if r.group == group and r.counted]
        passed = sum(1 for r in counted if r.classification == "pass")
        scores[group] = 100.0 * passed / len(counted) if counted else 0.0
    return scores


def _weighted_sum(
    groups: Mapping[str, float], weights: Mapping[str, float], no_data: set[str]
) -> float:
    """Σ score x weight / 100; groups without a weight share what the weights leave."""
    unweighted = [g for g in groups if g not in weights]
    share = (100.0 - sum(weights.values())) / len(unweighted) if unweighted else 0.0
    total = 0.0
    for group, group_score in groups.items():
        effective = 100.0 if group in no_data else group_score
        total += effective * (weights.get(group, share) / 100)
    # Kayenta's Precision.round: half up on the shortest decimal representation.
    return float(Decimal(repr(total)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _verdict(config: CanaryConfig, total: float) -> Verdict:
    if total >= config.pass_score:
        return "pass"
    if total >= config.marginal_score:
        return "marginal"
    return "fail"
