"""The scorecard: the roadmap's success criteria, each measured from CI data, judged
against its target, with the previous window's value beside it.

Pure: every function takes the numbers the commands that own them compute (run
wall times, artifact totals, the flaky analysis' gate tally, the cost ledger's daily
spend, workflow activity, cache restore counts) and returns a `Criterion`. A
criterion without samples is `no-data`, never `met`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pilothouse.analysis.costs import ZERO, daily_totals
from pilothouse.analysis.test_stats import percentile
from pilothouse.model import CacheCounts, CostLine, WorkflowActivity

Status = Literal["met", "missed", "no-data"]
Comparison = Literal["<", ">", ">=", "=="]
MB = 1_000_000  # artifact sizes are in MB of 10^6 bytes, as GitHub shows them
WORKFLOW_DIR = ".github/workflows/"


@dataclass(frozen=True, slots=True)
class Criterion:
    """One line of the scorecard."""

    id: str
    title: str
    value: float | None
    unit: str
    target: float
    comparison: Comparison
    status: Status
    samples: int
    previous: float | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "value": self.value,
            "unit": self.unit,
            "target": self.target,
            "comparison": self.comparison,
            "status": self.status,
            "samples": self.samples,
            "previous": self.previous,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Scorecard:
    window_days: int
    criteria: tuple[Criterion, ...]

    def count(self, status: Status) -> int:
        return sum(1 for c in self.criteria if c.status == status)

    def failing(self, *, strict: bool) -> list[Criterion]:
        """What fails a CI gate: missed criteria, and with *strict* those without data."""
        bad: tuple[Status, ...] = ("missed", "no-data") if strict else ("missed",)
        return [c for c in self.criteria if c.status in bad]

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_days": self.window_days,
            "criteria": [c.as_dict() for c in self.criteria],
            "met": self.count("met"),
            "missed": self.count("missed"),
            "no_data": self.count("no-data"),
        }


def judge(value: float | None, target: float, comparison: Comparison, samples: int) -> Status:
    """met or missed; no-data without a value or without samples.

    >>> judge(18.0, 30, "<", 20), judge(31.0, 30, "<", 20), judge(None, 30, "<", 0)
    ('met', 'missed', 'no-data')
    """
    if value is None or samples <= 0:
        return "no-data"
    held = {
        "<": value < target,
        ">": value > target,
        ">=": value >= target,
        "==": value == target,
    }[comparison]
    return "met" if held else "missed"


def _round(value: float | None, places: int = 2) -> float | None:
    return None if value is None else round(value, places)


def _p50(values: Sequence[float]) -> float | None:
    return percentile(values, 50) if values else None


# -- run wall times -------------------------------------------------------------------


def run_time(
    criterion: str,
    title: str,
    current: Sequence[float],
    previous: Sequence[float],
    *,
    target_minutes: float,
    scope: str,
    stretch_minutes: float | None = None,
) -> Criterion:
    """p50 wall time in minutes of completed runs (seconds in), p90 shown; *scope* says
    which workflows and branch, for the detail."""
    p50 = _minutes(_p50(current))
    if p50 is None:
        detail = f"no completed run of {scope} in the window"
    else:
        p90 = percentile(current, 90) / 60
        detail = f"p50 {p50:.1f} min, p90 {p90:.1f} min over {len(current)} runs of {scope}"
        if stretch_minutes is not None:
            verdict = "met" if p50 < stretch_minutes else "not met"
            detail += f"; stretch < {stretch_minutes:g} min {verdict}"
    return Criterion(
        criterion,
        title,
        _round(p50),
        "min",
        target_minutes,
        "<",
        judge(p50, target_minutes, "<", len(current)),
        len(current),
        _round(_minutes(_p50(previous))),
        detail,
    )


def _minutes(value: float | None) -> float | None:
    return None if value is None else value / 60


# -- cache ------------------------------------------------------------------------------


def _percent(counts: CacheCounts | None) -> float | None:
    rate = None if counts is None else counts.hit_rate
    return None if rate is None else 100 * rate


def cache_hit_rate(
    current: CacheCounts | None,
    previous: CacheCounts | None,
    *,
    target_percent: float,
    missing: str,
) -> Criterion:
    """Exact-key hits / restores, in percent; partial (restore-key) hits shown apart.
    *missing* is the detail when there is nothing to count."""
    value = _percent(current)
    samples = 0 if current is None else current.restores
    if current is None or not samples:
        detail = missing
    else:
        detail = (
            f"{current.exact_hits} exact-key hits of {samples} restores; "
            f"{current.partial_hits} partial (restore-key) hits, {current.misses} misses"
        )
    return Criterion(
        "cache_hit_rate",
        "Cache hit rate",
        _round(value),
        "%",
        target_percent,
        ">",
        judge(value, target_percent, ">", samples),
        samples,
        _round(_percent(previous)),
        detail,
    )


# -- artifacts --------------------------------------------------------------------------


def artifact_size(
    current: Sequence[int], previous: Sequence[int], *, target_mb: float, scope: str
) -> Criterion:
    """p50 total artifact size of a build run in MB (bytes per run in, oldest first);
    the newest run's total shown beside it."""
    p50 = _megabytes(_p50([float(v) for v in current]))
    if p50 is None:
        detail = f"no run of {scope} with artifacts in the window"
    else:
        detail = (
            f"p50 {p50:.1f} MB, newest {current[-1] / MB:.1f} MB over {len(current)} runs "
            f"of {scope}"
        )
    return Criterion(
        "artifact_size",
        "Artifact size (p50)",
        _round(p50),
        "MB",
        target_mb,
        "<",
        judge(p50, target_mb, "<", len(current)),
        len(current),
        _round(_megabytes(_p50([float(v) for v in previous]))),
        detail,
    )


def _megabytes(value: float | None) -> float | None:
    return None if value is None else value / MB


# -- test pass rate ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PassRate:
    """The flaky analysis' gate tally, with what it left out."""

    passed: int
    executed: int
    quarantined: int = 0
    outages: int = 0

    @property
    def percent(self) -> float | None:
        return 100 * self.passed / self.executed if self.executed else None


def test_pass_rate(
    current: PassRate, previous: PassRate | None, *, target_percent: float
) -> Criterion:
    """passed / (passed + failed + errors) in percent, quarantined tests and outage
    attempts left out."""
    value = current.percent
    if value is None:
        detail = "no test results in the window: `pilothouse ingest junit PATH` adds them"
    else:
        detail = (
            f"{current.passed} of {current.executed} results passed "
            f"({current.executed - current.passed} failed or errors); left out: "
            f"{_plural(current.quarantined, 'quarantined test')}, "
            f"{_plural(current.outages, 'outage attempt')}"
        )
    return Criterion(
        "test_pass_rate",
        "Test pass rate",
        _round(value, 3),
        "%",
        target_percent,
        ">=",
        judge(value, target_percent, ">=", current.executed),
        current.executed,
        _round(None if previous is None else previous.percent, 3),
        detail,
    )


test_pass_rate.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# -- daily cost -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spend:
    """Spend in one currency over the days of a window that have data."""

    total: Decimal
    days: int
    first_day: str
    last_day: str

    @property
    def mean(self) -> Decimal | None:
        return self.total / self.days if self.days else None


def spend_over(lines: Iterable[CostLine], days: Sequence[date]) -> Spend:
    """Spend of *lines* (one currency) over *days*, from the first day with a line on:
    a ledger that starts inside the window is not diluted by days before it, while a
    day without spend after that counts as zero."""
    lines = list(lines)
    billed = {line.day for line in lines}
    first = next((day for day in days if day in billed), None)
    if first is None:
        return Spend(ZERO, 0, days[0].isoformat(), days[-1].isoformat())
    counted = [day for day in days if day >= first]
    totals = daily_totals(lines, counted)
    return Spend(
        sum(totals.values(), ZERO), len(counted), counted[0].isoformat(), counted[-1].isoformat()
    )


def daily_cost(
    current: Spend,
    previous: Spend,
    *,
    target: float,
    alert_limit: float,
    today: Decimal | None,
    currency: str,
) -> Criterion:
    """Mean daily spend in the main currency; today's spend and the alert limit shown."""
    mean = None if current.mean is None else float(current.mean)
    if mean is None:
        detail = f"no {currency} spend in the window: `pilothouse ingest cost PATH` adds it"
    else:
        detail = (
            f"mean {mean:.2f} {currency} a day over {_plural(current.days, 'day')} "
            f"({current.first_day} to {current.last_day})"
        )
    if today is not None:
        over = " (over the limit)" if today > Decimal(str(alert_limit)) else ""
        detail += f"; today {today:.2f}{over}, alert above {alert_limit:.2f}"
    return Criterion(
        "daily_cost",
        "Daily cost (mean)",
        _round(mean),
        currency,
        target,
        "<",
        judge(mean, target, "<", current.days),
        current.days,
        _round(None if previous.mean is None else float(previous.mean)),
        detail,
    )


# -- workflows --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Verdict:
    considered: int
    ok: int
    problems: tuple[str, ...]


def _workflow_verdict(
    registered: Sequence[WorkflowActivity], local_files: Sequence[str] | None
) -> _Verdict:
    """The repository's own workflow files (GitHub's dynamic workflows and deleted
    ones are not files of it): each must be registered, active, and have run."""
    own = [w for w in registered if w.path.startswith(WORKFLOW_DIR) and w.state != "deleted"]
    known = {w.path for w in own}
    missing = sorted(set(local_files or ()) - known)
    problems = [f"{path} not registered" for path in missing]
    ok = 0
    for workflow in own:
        if workflow.state != "active":
            problems.append(f"{workflow.name} {workflow.state}")
        elif not workflow.runs:
            problems.append(f"{workflow.name}: no run")
        else:
            ok += 1
    return _Verdict(len(own) + len(missing), ok, tuple(problems))


def workflows_active(
    current: Sequence[WorkflowActivity],
    previous: Sequence[WorkflowActivity],
    *,
    local_files: Sequence[str] | None,
) -> Criterion:
    """Workflows registered, active and run in the window, of all the repository's
    workflow files (*local_files*: paths under .github/workflows/, None when unknown)."""
    now = _workflow_verdict(current, local_files)
    before = _workflow_verdict(previous, local_files)
    if not now.considered:
        detail = "no workflows known: `pilothouse ingest github` registers them"
    elif now.problems:
        detail = "; ".join(now.problems)
    else:
        checked = "" if local_files is None else ", every local file registered"
        detail = f"all {now.considered} workflows active and ran in the window{checked}"
    value = float(now.ok) if now.considered else None
    return Criterion(
        "workflows_active",
        "Workflows active",
        value,
        "workflows",
        float(now.considered),
        "==",
        judge(value, float(now.considered), "==", now.considered),
        now.considered,
        float(before.ok) if before.considered else None,
        detail,
    )
