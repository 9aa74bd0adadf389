"""Infrastructure (`/infra`): sync freshness per repository (last complete sync, age,
what the syncs left unfinished or found expired), runner labels in use with their jobs'
queue time (table and chart per day), workflows active and disabled. `/api/infra` is
`infra_data`."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pilothouse.analysis import pipelines as flow
from pilothouse.cli.state import State
from pilothouse.store import Store
from pilothouse.store.scorecard import Span
from pilothouse.web import specs
from pilothouse.web.deps import StateDep, StoreDep, WindowDep
from pilothouse.web.render import api, page

router = APIRouter()
NAV: tuple[str, str] | None = ("Infrastructure", "/infra")

SYNC_HINT = "pilothouse ingest github --repo {repository}"
HINTS = {
    "repositories": ("pilothouse ingest github --repo OWNER/NAME", "pilothouse sample"),
    "workflows": ("pilothouse ingest github --repo OWNER/NAME",),
}


def _repository(item: Any, now: Any) -> dict[str, Any]:
    status, age = flow.sync_freshness(item.synced_at, now)
    return {
        "provider": item.provider,
        "repository": item.repository,
        "last_sync": item.synced_at,
        "age_seconds": age,
        "status": status,
        "synced_through": item.cursor,
        "runs": item.runs,
        "last_run_at": item.last_run_at,
        "unfinished_runs": item.unfinished_runs,
        "expired_logs": item.expired_logs,
    }


def infra_data(store: Store, state: State, *, window_days: int) -> dict[str, Any]:
    """The Infrastructure page over the last *window_days*: each repository's sync
    freshness, runner label sets with their jobs' queue time (and its daily p90), and
    the registered workflows with their state and runs."""
    now = state.now()
    since = now - timedelta(days=window_days)
    jobs = store.job_times(since)
    days = flow.days_between(since.date(), now.date())
    activity = store.workflow_activity(Span(since))
    return {
        "window_days": window_days,
        "since": since,
        "until": now,
        "repositories": [_repository(item, now) for item in store.repository_syncs()],
        "labels": [item.as_dict() for item in flow.label_queues(jobs)],
        "queue_daily": {
            "days": [day.isoformat() for day in days],
            "labels": flow.daily_label_queues(jobs, days),
        },
        "workflows": [
            {"name": w.name, "path": w.path, "state": w.state, "runs": w.runs} for w in activity
        ],
        "workflow_states": dict(sorted(Counter(w.state for w in activity).items())),
    }


def queue_chart(data: dict[str, Any]) -> dict[str, Any]:
    """The daily p90 queue time of each runner label set, in seconds."""
    daily = data["queue_daily"]
    return specs.spec(
        "line",
        specs.day_axis(daily["days"]),
        [specs.series(labels, values, "s") for labels, values in daily["labels"].items()],
    )


@router.get("/api/infra")
def infra_api(store: StoreDep, state: StateDep, window: WindowDep) -> Response:
    return api(infra_data(store, state, window_days=window.days))


@router.get("/infra", response_class=HTMLResponse)
def infra(request: Request, store: StoreDep, state: StateDep, window: WindowDep) -> Response:
    data = infra_data(store, state, window_days=window.days)
    return page(
        request,
        "infra.html",
        window,
        data=data,
        queue_chart=queue_chart(data),
        hints=HINTS,
        sync_hint=SYNC_HINT,
    )
