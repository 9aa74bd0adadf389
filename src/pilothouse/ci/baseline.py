"""Baselines per workflow (pure): what a workflow's runs measured over a window (run
duration, job queue time, cache restores, test pass counts), and what the scorecard's
criteria read from them.

Everything here takes records the store returns and gives records back; `cli/ci.py`
reads the store and saves the result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pilothouse.analysis.test_stats import percentile
from pilothouse.model import Baseline, CacheCounts, SuiteTally


@dataclass(frozen=True, slots=True)
class Window:
    """What a baseline was taken over: the runs of *branch* created in [since, until)."""

    branch: str
    since: datetime
    until: datetime
    taken_at: datetime


def _p(values: Sequence[float], q: float) -> float | None:
    return round(percentile(values, q), 3) if values else None


def queue_seconds(jobs: Iterable[tuple[str, float]]) -> dict[str, list[float]]:
    """Each workflow's job queue times (created to started), in seconds."""
    found: dict[str, list[float]] = defaultdict(list)
    for workflow, seconds in jobs:
        found[workflow].append(max(0.0, seconds))
    return dict(found)


def pass_counts(
    tallies: Iterable[SuiteTally], workflow_of: Mapping[tuple[str, int], str]
) -> dict[str, tuple[int, int]]:
    """(passed, executed) test results per workflow: each run attempt's suite tallies
    summed under the workflow that ran it (attempts not in *workflow_of* left out)."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for tally in tallies:
        workflow = workflow_of.get((tally.run_key, tally.attempt))
        if workflow is not None:
            found[workflow][0] += tally.passed
            found[workflow][1] += tally.executed
    return {name: (passed, executed) for name, (passed, executed) in found.items()}


def take(
    workflow: str,
    window: Window,
    *,
    durations: Sequence[float],
    queues: Sequence[float],
    cache: CacheCounts,
    passes: tuple[int, int],
) -> Baseline | None:
    """The baseline of one workflow; None when it has no completed run to time."""
    if not durations:
        return None
    return Baseline(
        workflow=workflow,
        branch=window.branch,
        since=window.since,
        until=window.until,
        taken_at=window.taken_at,
        runs=len(durations),
        duration_p50=_p(durations, 50),
        duration_p90=_p(durations, 90),
        queue_jobs=len(queues),
        queue_p50=_p(queues, 50),
        queue_p90=_p(queues, 90),
        cache_restores=cache.restores,
        cache_hits=cache.exact_hits,
        tests_executed=passes[1],
        tests_passed=passes[0],
    )


def as_dict(item: Baseline) -> dict[str, Any]:
    """A baseline as `ci baseline --json` and `score --json` show it."""
    return {
        "workflow": item.workflow,
        "branch": item.branch,
        "since": item.since,
        "until": item.until,
        "taken_at": item.taken_at,
        "runs": item.runs,
        "duration_p50_seconds": item.duration_p50,
        "duration_p90_seconds": item.duration_p90,
        "queue_jobs": item.queue_jobs,
        "queue_p50_seconds": item.queue_p50,
        "queue_p90_seconds": item.queue_p90,
        "cache_restores": item.cache_restores,
        "cache_hit_percent": _round(item.cache_hit_percent),
        "tests_executed": item.tests_executed,
        "pass_percent": _round(item.pass_percent, 3),
    }


def _round(value: float | None, places: int = 2) -> float | None:
    return None if value is None else round(value, places)


# -- what the scorecard compares with ------------------------------------------------------


def _minutes(items: Sequence[Baseline]) -> float | None:
    """The runs-weighted mean of the workflows' p50 durations, in minutes (one workflow:
    its p50)."""
    timed = [(i.duration_p50, i.runs) for i in items if i.duration_p50 is not None]
    runs = sum(n for _, n in timed)
    return round(sum(v * n for v, n in timed) / runs / 60, 2) if runs else None


def _ratio(part: int, whole: int, places: int) -> float | None:
    return round(100 * part / whole, places) if whole else None


def criterion_baselines(
    saved: Sequence[Baseline], *, build: Sequence[str], tests: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The baseline of each scorecard criterion the saved baselines cover, keyed by the
    criterion's id, in its unit, with the workflows and when they were taken."""
    by_name = {item.workflow: item for item in saved}
    found: dict[str, dict[str, Any]] = {}

    def add(criterion: str, names: Sequence[str], value: float | None) -> None:
        used = [by_name[n] for n in names if n in by_name]
        if value is not None:
            found[criterion] = {
                "value": value,
                "workflows": [i.workflow for i in used],
                "taken_at": max(i.taken_at for i in used),
            }

    pick = {name: [by_name[n] for n in names if n in by_name]
            for name, names in (("build", build), ("tests", tests))}  # fmt: skip
    both = [*build, *(t for t in tests if t not in build)]
    chosen = [by_name[n] for n in both if n in by_name]
    add("build_time", build, _minutes(pick["build"]))
    add("test_time", tests, _minutes(pick["tests"]))
    add("cache_hit_rate", both, _ratio(
        sum(i.cache_hits for i in chosen), sum(i.cache_restores for i in chosen), 2))  # fmt: skip
    add("test_pass_rate", both, _ratio(
        sum(i.tests_passed for i in chosen), sum(i.tests_executed for i in chosen), 3))  # fmt: skip
    return found


def summary_line(found: Mapping[str, Mapping[str, Any]], titles: Mapping[str, str]) -> str:
    """One line naming each criterion's baseline, for the scorecard's table."""
    units = {"build_time": " min", "test_time": " min", "cache_hit_rate": " %",
             "test_pass_rate": " %"}  # fmt: skip
    parts = [
        f"{titles.get(key, key)} {value['value']:g}{units.get(key, '')}"
        for key, value in found.items()
    ]
    taken = max(value["taken_at"] for value in found.values())
    return f"Baseline (`ci baseline`, {taken:%Y-%m-%d}): " + "; ".join(parts)
