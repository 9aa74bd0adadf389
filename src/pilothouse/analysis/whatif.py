"""What-if savings: re-price the ledger's lines under scenarios, one by one and together.

Each scenario maps a line to what it would have cost; the projection is the mean
daily cost over the window. Every assumption is returned with the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from pilothouse.model import CostLine

ZERO = Decimal(0)
# Prices a line's tokens at another model's prices (None when that model is unknown).
Pricer = Callable[[str, CostLine], Decimal | None]


class Repricer(Protocol):
    """What a line would have cost. The line may stand for *lines* alike ones, its
    amount their sum (the store sums lines sharing what scenarios look at)."""

    def __call__(self, line: CostLine, lines: int = 1, /) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    apply: Repricer
    # Scenarios of one kind compete for the same spend (two right-sizes of one
    # instance): combined, a line takes the best of them, never both.
    kind: str = ""


def _has_tag(line: CostLine, tag: tuple[str, str] | None) -> bool:
    return tag is None or tag in line.tags


def model_shift(
    source_model: str,
    target_model: str,
    share: float,
    pricer: Pricer,
    *,
    tag: tuple[str, str] | None = None,
) -> Scenario:
    """Move *share* of the tokens of *source_model* (for one task tag) to *target_model*."""
    fraction = Decimal(str(share))

    def apply(line: CostLine, lines: int = 1, /) -> Decimal:
        if line.model != source_model or not _has_tag(line, tag):
            return line.amount
        if line.currency.upper() != "USD":  # model prices are in USD: no conversion here
            return line.amount
        moved = pricer(target_model, line)  # the tokens of one of the *lines*
        if moved is None:
            return line.amount
        return line.amount * (1 - fraction) + moved * lines * fraction

    scope = f" for {tag[0]}={tag[1]}" if tag else ""
    return Scenario(
        f"model-shift {source_model}->{target_model}",
        f"{share:.0%} of {source_model} tokens{scope} priced as {target_model}",
        apply,
        "model-shift",
    )


def batch(share: float, discount: float) -> Scenario:
    """Send *share* of LLM requests through batch inference at (1 - discount) of the price."""
    saving = Decimal(str(share)) * Decimal(str(discount))

    def apply(line: CostLine, lines: int = 1, /) -> Decimal:
        return line.amount * (1 - saving) if line.model else line.amount

    return Scenario(
        "batch",
        f"{share:.0%} of LLM requests batched at {1 - discount:.0%} of the on-demand price",
        apply,
        "batch",
    )


def weekdays_only(patterns: Sequence[str]) -> Scenario:
    """Resources matching *patterns* run Monday to Friday only: their weekend cost goes."""

    def apply(line: CostLine, lines: int = 1, /) -> Decimal:
        matches = any(p in (line.resource or "") or p == line.service for p in patterns)
        return ZERO if matches and line.day.weekday() >= 5 else line.amount

    return Scenario(
        "weekdays-only",
        f"no weekend cost for resources matching {', '.join(patterns)}",
        apply,
        "weekdays-only",
    )


def rightsize(pattern: str, old: str, new: str, prices: Mapping[str, float]) -> Scenario:
    """Resources matching *pattern* move from instance type *old* to *new*."""
    if old not in prices or new not in prices:
        missing = [t for t in (old, new) if t not in prices]
        raise ValueError(f"no hourly price for {', '.join(missing)} in cost.instance_prices")
    ratio = Decimal(str(prices[new])) / Decimal(str(prices[old]))

    def apply(line: CostLine, lines: int = 1, /) -> Decimal:
        return line.amount * ratio if pattern in (line.resource or "") else line.amount

    return Scenario(
        f"rightsize {pattern}",
        f"{pattern}: {old} (${prices[old]}/h) -> {new} (${prices[new]}/h), cost x {ratio:.3f}",
        apply,
        "rightsize",
    )


@dataclass(frozen=True, slots=True)
class Projection:
    name: str
    description: str
    daily: Decimal
    saving_per_day: Decimal
    lines_changed: int


def project(
    lines: Sequence[CostLine],
    days: Sequence[date],
    scenarios: Sequence[Scenario],
    *,
    counts: Sequence[int] | None = None,
) -> tuple[Decimal, list[Projection]]:
    """The baseline daily cost and each scenario's projection, then all combined.

    *counts*, when given, says how many alike lines each of *lines* sums (one each
    otherwise): a scenario changes them together, and they count as changed lines.
    """
    weights = [1] * len(lines) if counts is None else counts
    count = Decimal(max(len(days), 1))
    baseline = sum((line.amount for line in lines), ZERO) / count
    projections = []
    for scenario in scenarios:
        projections.append(_projection(scenario.name, scenario.description, lines, weights,
                                       count, baseline, [scenario]))  # fmt: skip
    if len(scenarios) > 1:
        projections.append(
            _projection(
                "combined",
                "all scenarios above; where several of one kind change the same line "
                "(two right-sizes of one instance) only the best counts, never both",
                lines,
                weights,
                count,
                baseline,
                scenarios,
            )  # fmt: skip
        )
    return baseline, projections


def _projection(
    name: str,
    description: str,
    lines: Sequence[CostLine],
    weights: Sequence[int],
    count: Decimal,
    baseline: Decimal,
    scenarios: Sequence[Scenario],
) -> Projection:
    total = ZERO
    changed = 0
    kinds: dict[str, list[Scenario]] = {}
    for scenario in scenarios:
        kinds.setdefault(scenario.kind or scenario.name, []).append(scenario)
    for line, weight in zip(lines, weights, strict=True):
        amount = line.amount
        for rivals in kinds.values():
            current = _with_amount(line, amount)
            amount = min(scenario.apply(current, weight) for scenario in rivals)
        changed += weight if amount != line.amount else 0
        total += amount
    daily = total / count
    return Projection(name, description, daily, baseline - daily, changed)


def _with_amount(line: CostLine, amount: Decimal) -> CostLine:
    return line if amount == line.amount else line._replace(amount=amount)


# -- right-sizing from utilisation ----------------------------------------------------------

# AWS sizes within a family, each step roughly doubling vCPUs and price from "large" up.
SIZES = ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge",
         "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge", "48xlarge")  # fmt: skip
_CAPACITY = {"nano": 0.125, "micro": 0.25, "small": 0.5, "medium": 1.0, "large": 2.0,
             "xlarge": 4.0, "2xlarge": 8.0, "4xlarge": 16.0, "8xlarge": 32.0,
             "12xlarge": 48.0, "16xlarge": 64.0, "24xlarge": 96.0, "32xlarge": 128.0,
             "48xlarge": 192.0}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Utilisation:
    resource: str
    instance_type: str
    peak_cpu: float  # p95 (or max) CPU utilisation, 0..100


@dataclass(frozen=True, slots=True)
class Recommendation:
    resource: str
    current: str
    proposed: str
    projected_cpu: float
    price_ratio: Decimal
    priced_by: str  # "price map" or "capacity"


def _split_type(instance_type: str) -> tuple[str, str] | None:
    family, _, size = instance_type.rpartition(".")
    return (family, size) if family and size in _CAPACITY else None


def recommend_size(
    usage: Utilisation, prices: Mapping[str, float], *, target_cpu: float = 60.0
) -> Recommendation | None:
    """The smallest size of the same family that keeps peak CPU under *target_cpu*.

    Prices come from the price map when both types are in it, else from capacity
    (AWS prices scale with size within a family); None when no smaller size fits.
    """
    parts = _split_type(usage.instance_type)
    if parts is None:
        return None
    family, size = parts
    load = usage.peak_cpu * _CAPACITY[size]  # in "medium" units of CPU-percent
    for candidate in SIZES[: SIZES.index(size)]:
        projected = load / _CAPACITY[candidate]
        if projected <= target_cpu:
            proposed = f"{family}.{candidate}"
            if usage.instance_type in prices and proposed in prices:
                ratio = Decimal(str(prices[proposed])) / Decimal(str(prices[usage.instance_type]))
                how = "price map"
            else:
                ratio = Decimal(str(_CAPACITY[candidate])) / Decimal(str(_CAPACITY[size]))
                how = "capacity"
            return Recommendation(usage.resource, usage.instance_type, proposed,
                                  round(projected, 1), ratio, how)  # fmt: skip
    return None


def rightsize_from_utilisation(
    usages: Sequence[Utilisation], prices: Mapping[str, float], *, target_cpu: float = 60.0
) -> tuple[Scenario, list[Recommendation]]:
    """One scenario re-pricing every resource that a smaller size would serve."""
    found = [r for u in usages if (r := recommend_size(u, prices, target_cpu=target_cpu))]
    ratios = {r.resource: r.price_ratio for r in found}

    def apply(line: CostLine, lines: int = 1, /) -> Decimal:
        ratio = ratios.get(line.resource or "")
        return line.amount * ratio if ratio is not None else line.amount

    described = "; ".join(
        f"{r.resource} {r.current}->{r.proposed} (peak CPU {r.projected_cpu:g}%, "
        f"cost x {r.price_ratio:.2f} by {r.priced_by})"
        for r in found
    )
    return (
        Scenario(
            "rightsize from utilisation",
            described or f"no resource would stay under {target_cpu:g}% CPU on a smaller size",
            apply,
            "rightsize",
        ),  # fmt: skip
        found,
    )
