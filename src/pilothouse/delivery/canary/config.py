"""The canary judge's configuration: a TOML file parsed and validated into frozen records.

    [judge]
    pass = 95
    marginal = 75

    [scope]
    baseline = 'app="api", track="baseline"'
    canary = 'app="api", track="canary"'

    [[metric]]
    name = "errors"
    kind = "count"
    direction = "increase"
    query = 'sum(increase(http_errors_total{ {{ scope }} }[1m]))'

Unknown keys are refused with a did-you-mean suggestion; every error names the file
and the key at fault.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pilothouse.errors import ConfigError

Direction = Literal["increase", "decrease", "either"]
Kind = Literal["gauge", "count"]
NanStrategy = Literal["remove", "replace"]
Outliers = Literal["none", "remove"]
EffectSize = Literal["mean_ratio", "cles"]

SCOPE_PLACEHOLDER = "{{ scope }}"
# Kayenta's hard-coded constants of the NetflixACAJudge.
KAYENTA_CONFIDENCE = 0.98
KAYENTA_TOLERANCE = 0.25


@dataclass(frozen=True)
class MetricConfig:
    """One metric to compare, canary against baseline."""

    name: str
    group: str
    direction: Direction = "either"
    kind: Kind = "gauge"
    critical: bool = False
    must_have_data: bool = False
    muted: bool = False
    nan_strategy: NanStrategy = "remove"
    outliers: Outliers = "none"
    outlier_factor: float = 3.0
    effect_size: EffectSize = "mean_ratio"
    allowed_increase: float = 1.0
    allowed_decrease: float = 1.0
    critical_increase: float = 1.0
    critical_decrease: float = 1.0
    query: str | None = None
    max: float | None = None
    min: float | None = None


@dataclass(frozen=True)
class CanaryConfig:
    """The whole judge configuration: thresholds, scopes, group weights, metrics."""

    pass_score: float = 95.0
    marginal_score: float = 75.0
    confidence: float = 0.95
    metrics: tuple[MetricConfig, ...] = ()
    groups: Mapping[str, float] = field(default_factory=dict)
    baseline_scope: str | None = None
    canary_scope: str | None = None
    source: str = "<config>"

    def metric(self, name: str) -> MetricConfig | None:
        """The metric named *name*, if configured."""
        return next((m for m in self.metrics if m.name == name), None)


_TOP = ("judge", "scope", "groups", "metric")
_JUDGE = ("pass", "marginal", "confidence")
_SCOPE = ("baseline", "canary")
_CHOICES: dict[str, tuple[str, ...]] = {
    "direction": ("increase", "decrease", "either"),
    "kind": ("gauge", "count"),
    "nan_strategy": ("remove", "replace", "none"),
    "outliers": ("none", "remove"),
    "effect_size": ("mean_ratio", "cles"),
}
_BOOLS = ("critical", "must_have_data", "muted")
_NUMBERS = (
    "outlier_factor",
    "allowed_increase",
    "allowed_decrease",
    "critical_increase",
    "critical_decrease",
    "max",
    "min",
)
_METRIC_KEYS = ("name", "group", "query", *_CHOICES, *_BOOLS, *_NUMBERS)


def load_config(path: Path) -> CanaryConfig:
    """Read and validate the judge configuration in *path* (TOML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the canary config: {exc}") from None
    return parse_config(text, str(path))


def parse_config(text: str, source: str) -> CanaryConfig:
    """Parse and validate a judge configuration; *source* names it in errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return config_from_table(raw, source)


def config_from_table(raw: Mapping[str, Any], source: str) -> CanaryConfig:
    """Validate an already parsed table (``judge``, ``scope``, ``groups``, ``metric``
    keys): a judge configuration embedded in another TOML file, e.g. a rollout plan."""
    _refuse_unknown(raw, _TOP, source, "")
    judge = _table(raw, "judge", source)
    _refuse_unknown(judge, _JUDGE, source, "judge.")
    scope = _table(raw, "scope", source)
    _refuse_unknown(scope, _SCOPE, source, "scope.")
    groups = _weights(_table(raw, "groups", source), source)
    metrics = _metrics(raw.get("metric"), source)
    config = CanaryConfig(
        pass_score=_number(judge, "pass", 95.0, source, "judge."),
        marginal_score=_number(judge, "marginal", 75.0, source, "judge."),
        confidence=_number(judge, "confidence", 0.95, source, "judge."),
        metrics=metrics,
        groups=groups,
        baseline_scope=_string(scope, "baseline", source, "scope."),
        canary_scope=_string(scope, "canary", source, "scope."),
        source=source,
    )
    _check_config(config)
    return config


def _check_config(config: CanaryConfig) -> None:
    source = config.source
    if not 0 <= config.marginal_score <= config.pass_score <= 100:
        raise ConfigError(
            f"{source}: judge.marginal ({config.marginal_score:g}) and judge.pass "
            f"({config.pass_score:g}) must satisfy 0 <= marginal <= pass <= 100"
        )
    if not 0.5 <= config.confidence < 1:
        raise ConfigError(
            f"{source}: judge.confidence must be in [0.5, 1), not {config.confidence}"
        )
    if sum(config.groups.values()) > 100:
        raise ConfigError(f"{source}: groups: the weights add up to more than 100")
    for name in config.groups:
        if not any(m.group == name for m in config.metrics):
            raise ConfigError(f"{source}: groups.{name}: no metric is in this group")


def _refuse_unknown(table: Mapping[str, Any], known: tuple[str, ...], source: str, at: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f" (did you mean {at}{close[0]!r}?)" if close else ""
            raise ConfigError(f"{source}: unknown key {at}{key!r}{hint}")


def _table(raw: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {key} must be a table ([{key}])")
    return value


def _number(table: Mapping[str, Any], key: str, default: float, source: str, at: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{source}: {at}{key} must be a number, not {value!r}")
    return float(value)


def _string(table: Mapping[str, Any], key: str, source: str, at: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(f"{source}: {at}{key} must be a non-empty string")
    return value


def _weights(table: Mapping[str, Any], source: str) -> dict[str, float]:
    weights = {name: _number(table, name, 0.0, source, "groups.") for name in table}
    for name, weight in weights.items():
        if weight < 0:
            raise ConfigError(f"{source}: groups.{name} must be a weight >= 0, not {weight:g}")
    return weights


def _metrics(raw: Any, source: str) -> tuple[MetricConfig, ...]:
    if raw is None:
        raise ConfigError(f"{source}: no [[metric]] table: configure at least one metric")
    if not isinstance(raw, list) or not all(isinstance(m, dict) for m in raw):
        raise ConfigError(f"{source}: metric must be an array of tables ([[metric]])")
    metrics = tuple(_metric(m, i, source) for i, m in enumerate(raw))
    seen: set[str] = set()
    for metric in metrics:
        if metric.name in seen:
            raise ConfigError(f"{source}: metric {metric.name!r} is configured twice")
        seen.add(metric.name)
    return metrics


def _metric(table: Mapping[str, Any], index: int, source: str) -> MetricConfig:
    at = f"metric[{index}]."
    _refuse_unknown(table, _METRIC_KEYS, source, at)
    name = _string(table, "name", source, at)
    if name is None:
        raise ConfigError(f"{source}: {at}name is required")
    at = f"metric {name!r}: "
    values: dict[str, Any] = {"name": name, "group": _string(table, "group", source, at) or name}
    for key, choices in _CHOICES.items():
        if key in table:
            values[key] = _choice(table[key], key, choices, source, at)
    for key in _BOOLS:
        if key in table:
            if not isinstance(table[key], bool):
                raise ConfigError(f"{source}: {at}{key} must be true or false")
            values[key] = table[key]
    for key in _NUMBERS:
        if key in table:
            values[key] = _number(table, key, 0.0, source, at)
    values["query"] = _query(table, source, at)
    if values.get("nan_strategy") == "none":
        values["nan_strategy"] = "remove"  # Kayenta's default spelling: NaNs are dropped
    return _with_effect_defaults(values, source, at)


def _choice(value: Any, key: str, choices: tuple[str, ...], source: str, at: str) -> str:
    if value not in choices:
        raise ConfigError(f"{source}: {at}{key} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _query(table: Mapping[str, Any], source: str, at: str) -> str | None:
    query = _string(table, "query", source, at)
    if query is not None and SCOPE_PLACEHOLDER not in query:
        raise ConfigError(f"{source}: {at}query must hold {SCOPE_PLACEHOLDER}")
    return query


def _with_effect_defaults(values: dict[str, Any], source: str, at: str) -> MetricConfig:
    """Kayenta's effect-size gates default to 1.0 for mean_ratio and 0.5 for cles."""
    neutral = 0.5 if values.get("effect_size") == "cles" else 1.0
    for key in ("allowed_increase", "allowed_decrease", "critical_increase", "critical_decrease"):
        values.setdefault(key, neutral)
    if values.get("outlier_factor", 3.0) <= 0:
        raise ConfigError(f"{source}: {at}outlier_factor must be > 0")
    low, high = values.get("min"), values.get("max")
    if low is not None and high is not None and low > high:
        raise ConfigError(f"{source}: {at}min ({low:g}) is above max ({high:g})")
    return MetricConfig(**values)
