"""Pipelines (`/pipelines`): per workflow, run duration p50/p90 over time, queue time,
success and re-run rates, the slowest jobs and steps, the latest runs; and a run's page
(`/runs/{run_id}`) with its jobs as a timeline. `/api/pipelines` is `pipelines_data`;
`/api/runs/{run_id}` is `runs --json` for that one run (`run_data`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from pilothouse.analysis import pipelines as flow
from pilothouse.cli.reports import run_data, runs_data
from pilothouse.cli.state import State
from pilothouse.cli.window import resolve_window
from pilothouse.store import Store
from pilothouse.web import specs
from pilothouse.web.deps import StateDep, StoreDep, WindowDep
from pilothouse.web.render import api, page

router = APIRouter()
NAV: tuple[str, str] | None = ("Pipelines", "/pipelines")

RECENT_RUNS = 20
SYNC_HINT = ("pilothouse ingest github --repo OWNER/NAME",)
RUNS_HINT = (*SYNC_HINT, "pilothouse ingest junit PATH", "pilothouse sample")


def _slow_dict(names: tuple[str, ...], item: flow.Slowest) -> dict[str, Any]:
    return dict(zip(names, item.key, strict=True)) | {
        "count": item.count,
        "p50_seconds": item.p50,
        "p90_seconds": item.p90,
        "max_seconds": item.max,
    }


def pipelines_data(store: Store, state: State, *, window_days: int) -> dict[str, Any]:
    """The Pipelines page over the last *window_days*: per workflow stats and daily
    duration percentiles, the slowest jobs and steps, and the latest runs exactly as
    `runs --window N --limit 20 --json` lists them."""
    now = state.now()
    since = now - timedelta(days=window_days)
    attempts = store.attempt_times(since)
    jobs = store.job_times(since)
    steps = store.step_times(since)
    days = flow.days_between(since.date(), now.date())
    slow_jobs = flow.slowest(
        (((flow.workflow_of(j.workflow), j.name), j.seconds) for j in jobs), flow.SLOWEST
    )
    slow_steps = flow.slowest(
        (((flow.workflow_of(s.workflow), s.job, s.name), s.seconds) for s in steps), flow.SLOWEST
    )
    window = resolve_window(now, days=window_days, since=None, default_days=None)
    return {
        "window_days": window_days,
        "since": since,
        "until": now,
        "workflows": [item.as_dict() for item in flow.workflow_stats(attempts, jobs)],
        "daily": {
            "days": [day.isoformat() for day in days],
            "workflows": flow.daily_durations(attempts, days),
        },
        "slowest_jobs": [_slow_dict(("workflow", "job"), item) for item in slow_jobs],
        "slowest_steps": [_slow_dict(("workflow", "job", "step"), item) for item in slow_steps],
        "stored": {"runs": store.run_count(), "steps": store.step_count()},
        "runs": runs_data(store, state, window, limit=RECENT_RUNS)["runs"],
    }


def duration_charts(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One chart per workflow: its daily p50 and p90 run duration, in minutes."""
    x = specs.day_axis(data["daily"]["days"])
    return [
        (
            name,
            specs.spec(
                "line",
                x,
                [
                    specs.series("p50", [specs.minutes(v) for v in values["p50"]], "min"),
                    specs.series("p90", [specs.minutes(v) for v in values["p90"]], "min"),
                ],
            ),
        )
        for name, values in data["daily"]["workflows"].items()
    ]


@router.get("/api/pipelines")
def pipelines_api(store: StoreDep, state: StateDep, window: WindowDep) -> Response:
    return api(pipelines_data(store, state, window_days=window.days))


@router.get("/pipelines", response_class=HTMLResponse)
def pipelines(request: Request, store: StoreDep, state: StateDep, window: WindowDep) -> Response:
    data = pipelines_data(store, state, window_days=window.days)
    return page(
        request,
        "pipelines.html",
        window,
        data=data,
        charts=duration_charts(data),
        runs_hint=RUNS_HINT,
        sync_hint=SYNC_HINT,
    )


def _run_or_404(store: Store, state: State, run_id: str) -> dict[str, Any]:
    data = run_data(store, state, run_id)
    if not data["runs"]:
        raise HTTPException(404, f"no run {run_id[:80]!r} in the store")
    return data


@router.get("/api/runs/{run_id}")
def run_api(run_id: str, store: StoreDep, state: StateDep) -> Response:
    return api(_run_or_404(store, state, run_id))


def attempt_timelines(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Per attempt of *run* (a `runs --json` entry), its jobs with their timeline bars."""
    found = []
    for attempt in run["attempts"]:
        jobs = [job for job in run["jobs"] if job["attempt"] == attempt["attempt"]]
        bars = flow.timeline([(j["created_at"], j["started_at"], j["finished_at"]) for j in jobs])
        found.append({**attempt, "jobs": list(zip(jobs, bars, strict=True))})
    return found


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, store: StoreDep, state: StateDep) -> Response:
    data = _run_or_404(store, state, run_id)
    runs = [{**run, "timelines": attempt_timelines(run)} for run in data["runs"]]
    return page(request, "run.html", None, run_id=run_id, runs=runs)
