"""A rollout plan (TOML): waves of targets, traffic steps, hooks and the analysis.

Parsing is pure: `parse_plan(text, source=...)` returns a frozen `Plan` or raises
ConfigError naming the file, the table and what is wrong. Unknown keys are refused
with a did-you-mean suggestion, as in pilothouse.toml.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilothouse.errors import ConfigError

HOOKS = ("deploy", "set_weight", "health", "promote", "rollback")
REQUIRED_HOOKS = ("deploy", "set_weight", "promote", "rollback")
PLACEHOLDERS = ("target", "weight", "version")
SCOPES = ("wave", "all")
DEFAULT_TIMEOUT = 300.0
MAX_TARGETS = 1000  # each step is a row and a hook call per target: more is several plans
MAX_PLAN_BYTES = 1 << 20  # a plan is a page of TOML; refuse anything huge before parsing
# {word} in a hook's argv: a placeholder, refused unless known (a typo would pass through)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_KNOWN = re.compile(r"\{(target|weight|version)\}")


@dataclass(frozen=True)
class Hook:
    """One hook: an argv list run without a shell, and its timeout in seconds."""

    argv: tuple[str, ...]
    timeout: float

    def command(self, *, target: str, version: str, weight: int | None = None) -> list[str]:
        """The argv with {target}, {version} and {weight} filled in.

        >>> Hook(("deploy", "{target}", "--version={version}"), 1).command(
        ...     target="eu", version="1.2")
        ['deploy', 'eu', '--version=1.2']
        """
        values = {
            "target": target,
            "version": version,
            "weight": "" if weight is None else str(weight),
        }
        return [_KNOWN.sub(lambda m: values[m.group(1)], arg) for arg in self.argv]


@dataclass(frozen=True)
class Analysis:
    """The canary judge of a wave: its config, Prometheus and the query window."""

    judge: Path
    prometheus: str
    step: float
    lookback: float
    baseline: str | None
    canary: str | None
    pass_score: float | None = None  # override the judge config's [judge] pass
    marginal_score: float | None = None  # and marginal

    def scopes(self, target: str) -> dict[str, str] | None:
        """The baseline and canary selectors for *target* ({target} filled in)."""
        picked = {k: v for k, v in (("baseline", self.baseline), ("canary", self.canary)) if v}
        return {k: v.replace("{target}", target) for k, v in picked.items()} or None


@dataclass(frozen=True)
class Wave:
    name: str
    targets: tuple[str, ...]
    max_parallel: int  # 0: a manual gate before the wave, then every target at once
    steps: tuple[int, ...]
    soak: float
    hooks: Mapping[str, Hook]
    analysis: Analysis | None

    @property
    def gated(self) -> bool:
        return self.max_parallel == 0

    def batches(self) -> list[tuple[str, ...]]:
        """The targets in groups that go through the steps together."""
        size = self.max_parallel or len(self.targets)
        return [self.targets[i : i + size] for i in range(0, len(self.targets), size)]


@dataclass(frozen=True)
class Plan:
    name: str
    rollback_scope: str  # wave | all
    waves: tuple[Wave, ...]
    directory: Path  # hooks run here; relative judge paths are read from here
    source: str  # the plan file, as errors name it

    def wave_of(self, target: str) -> int:
        return next(i for i, wave in enumerate(self.waves) if target in wave.targets)


def load_plan(path: Path) -> tuple[Plan, str]:
    """The plan in *path* and its text (kept by the store so `resume` reads the same)."""
    try:
        with path.open("rb") as handle:  # bounded: /dev/zero has no size and no end
            raw = handle.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the rollout plan: {exc.strerror}") from None
    if len(raw) > MAX_PLAN_BYTES:
        raise ConfigError(f"{path}: over 1 MiB is not a rollout plan (at most 1 MiB)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text: not a rollout plan") from None
    return parse_plan(text, source=str(path), directory=path.resolve().parent), text


def parse_plan(text: str, *, source: str, directory: Path) -> Plan:
    """Parse and validate a plan's TOML *text* (named *source* in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    where = _Where(source)
    _known(data, ("rollout", "hooks", "analysis", "wave"), where)
    head = _table(data, "rollout", where, required=True)
    _known(head, ("name", "rollback_scope", "hook_timeout"), where.at("[rollout]"))
    name = _text(head, "name", where.at("[rollout]"), required=True)
    scope = _text(head, "rollback_scope", where.at("[rollout]")) or "wave"
    if scope not in SCOPES:
        raise where.at("[rollout]").error(f"rollback_scope must be wave or all, not {scope!r}")
    timeout = _seconds(head, "hook_timeout", where.at("[rollout]"), DEFAULT_TIMEOUT, zero=False)
    hooks = _hooks(_table(data, "hooks", where), where.at("[hooks]"), timeout)
    analysis = _analysis(_table(data, "analysis", where), where.at("[analysis]"), directory)
    raw_waves = data.get("wave")
    if not isinstance(raw_waves, list) or not raw_waves:
        raise where.error("needs at least one [[wave]] table")
    waves = tuple(
        _wave(raw, where.at(f"[[wave]] {i + 1}"), hooks, analysis, timeout, directory)
        for i, raw in enumerate(raw_waves)
    )
    _unique_targets(waves, where)
    assert name is not None
    return Plan(name, scope, waves, directory, source)


@dataclass(frozen=True)
class _Where:
    source: str
    part: str = ""

    def at(self, part: str) -> _Where:
        return _Where(self.source, part)

    def error(self, what: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.part + ': ' if self.part else ''}{what}")


def _known(table: Mapping[str, Any], keys: Sequence[str], where: _Where) -> None:
    for key in table:
        if key not in keys:
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise where.error(f"unknown key {key!r}{hint}")


def _table(
    data: Mapping[str, Any], key: str, where: _Where, *, required: bool = False
) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        if required:
            raise where.error(f"needs a [{key}] table")
        return {}
    if not isinstance(value, dict):
        raise where.error(f"{key} must be a table")
    return value


def _text(
    table: Mapping[str, Any], key: str, where: _Where, *, required: bool = False
) -> str | None:
    value = table.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise where.error(f"{key} must be a non-empty string")
    return value


def _seconds(
    table: Mapping[str, Any], key: str, where: _Where, default: float, *, zero: bool = True
) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise where.error(f"{key} must be a number of seconds, not {value!r}")
    if value < 0 or (value == 0 and not zero) or value > 7 * 86400:
        low = "0 or more" if zero else "more than 0"
        raise where.error(f"{key} must be {low} seconds and at most a week, not {value!r}")
    return float(value)


def _hooks(table: Mapping[str, Any], where: _Where, timeout: float) -> dict[str, Hook]:
    _known(table, HOOKS, where)
    return {name: _hook(value, where, name, timeout) for name, value in table.items()}


def _hook(value: Any, where: _Where, name: str, timeout: float) -> Hook:
    if isinstance(value, dict):
        _known(value, ("argv", "timeout"), where.at(f"{where.part} {name}"))
        timeout = _seconds(value, "timeout", where.at(f"{where.part} {name}"), timeout, zero=False)
        value = value.get("argv")
    if not isinstance(value, list) or not value or not all(isinstance(a, str) for a in value):
        raise where.error(
            f'{name} must be an argv list of strings, e.g. ["./deploy", "{{target}}"]'
        )
    for arg in value:
        for placeholder in _PLACEHOLDER.findall(arg):
            if placeholder not in PLACEHOLDERS:
                raise where.error(
                    f"{name}: unknown placeholder {{{placeholder}}} in {arg!r} "
                    "(known: {target}, {weight}, {version})"
                )
    if not value[0].strip():
        raise where.error(f"{name}: the program (first item) is empty")
    return Hook(tuple(value), timeout)


_ANALYSIS_KEYS = (
    "judge", "prometheus", "step", "lookback", "baseline", "canary", "pass", "marginal"
)  # fmt: skip


def _analysis(
    table: Mapping[str, Any], where: _Where, directory: Path, base: Analysis | None = None
) -> Analysis | None:
    if not table:
        return base
    _known(table, _ANALYSIS_KEYS, where)
    judge_text = _text(table, "judge", where)
    judge = directory / judge_text if judge_text else (base.judge if base else None)
    url = _text(table, "prometheus", where) or (base.prometheus if base else None)
    if judge is None or url is None:
        raise where.error("needs judge (the canary judge config) and prometheus (its URL)")
    if not url.startswith(("http://", "https://")):
        raise where.error(f"prometheus must be an http(s) URL, not {url!r}")
    step = _seconds(table, "step", where, base.step if base else 60.0, zero=False)
    lookback = _seconds(table, "lookback", where, base.lookback if base else 0.0)
    baseline = _text(table, "baseline", where) or (base.baseline if base else None)
    canary = _text(table, "canary", where) or (base.canary if base else None)
    passing = _score(table, "pass", where, base.pass_score if base else None)
    marginal = _score(table, "marginal", where, base.marginal_score if base else None)
    if passing is not None and marginal is not None and marginal > passing:
        raise where.error(f"marginal ({marginal:g}) must not be above pass ({passing:g})")
    return Analysis(judge, url, step, lookback, baseline, canary, passing, marginal)


def _score(
    table: Mapping[str, Any], key: str, where: _Where, default: float | None
) -> float | None:
    value = table.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise where.error(f"{key} must be a score from 0 to 100, not {value!r}")
    return float(value)


_WAVE_KEYS = ("name", "targets", "max_parallel", "steps", "soak", "analysis", "hooks")


def _wave(
    raw: Any,
    where: _Where,
    hooks: Mapping[str, Hook],
    analysis: Analysis | None,
    timeout: float,
    directory: Path,
) -> Wave:
    if not isinstance(raw, dict):
        raise where.error("must be a table")
    _known(raw, _WAVE_KEYS, where)
    name = _text(raw, "name", where, required=True)
    assert name is not None
    where = where.at(f"{where.part} ({name})")
    targets = raw.get("targets")
    if not isinstance(targets, list) or not targets or not all(_is_name(t) for t in targets):
        raise where.error("targets must be a list of target names (letters, digits, . _ - : /)")
    steps = _steps(raw.get("steps", [100]), where)
    parallel = raw.get("max_parallel", len(targets))
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 0:
        raise where.error(
            f"max_parallel must be a whole number, 0 for a manual gate, not {parallel!r}"
        )
    soak = _seconds(raw, "soak", where, 0.0)
    merged = {
        **hooks,
        **_hooks(_table(raw, "hooks", where), where.at(f"{where.part} hooks"), timeout),
    }
    missing = [h for h in REQUIRED_HOOKS if h not in merged]
    if missing:
        raise where.error(f"no {', '.join(missing)} hook ([hooks] or the wave's [wave.hooks])")
    judged = _wave_analysis(raw.get("analysis", True), where, directory, analysis)
    if judged is not None and judged.lookback == 0 and soak == 0:
        raise where.error("the analysis needs a window: soak or [analysis] lookback (seconds)")
    return Wave(name, tuple(targets), parallel, steps, soak, merged, judged)


def _wave_analysis(
    value: Any, where: _Where, directory: Path, analysis: Analysis | None
) -> Analysis | None:
    if value is False:
        return None
    if value is True:
        return analysis
    if isinstance(value, dict):
        return _analysis(value, where.at(f"{where.part} analysis"), directory, analysis)
    raise where.error("analysis must be true, false or a table overriding [analysis]")


def _steps(value: Any, where: _Where) -> tuple[int, ...]:
    ok = (
        isinstance(value, list)
        and value
        and all(isinstance(w, int) and not isinstance(w, bool) and 0 < w <= 100 for w in value)
    )
    if not ok or any(b <= a for a, b in zip(value, value[1:], strict=False)):
        raise where.error(
            f"steps must be rising traffic weights in 1..100, e.g. [5, 25, 50, 100], not {value!r}"
        )
    return tuple(value)


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def _unique_targets(waves: Sequence[Wave], where: _Where) -> None:
    total = sum(len(wave.targets) for wave in waves)
    if total > MAX_TARGETS:
        raise where.error(f"{total} targets: at most {MAX_TARGETS} in one plan (split it)")
    seen: dict[str, str] = {}
    for wave in waves:
        for target in wave.targets:
            if target in seen:
                raise where.error(
                    f"target {target!r} is in waves {seen[target]!r} and {wave.name!r}"
                )
            seen[target] = wave.name
