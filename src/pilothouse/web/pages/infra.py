"""Infrastructure (`/infra`): instances and Auto Scaling groups with their utilisation,
idle hours and savings; self-hosted runners; sync freshness per repository (last complete
sync, age, what the syncs left unfinished or found expired), runner labels in use with
their jobs' queue time and the runners that can take them (table and chart per day),
workflows active and disabled. `/api/infra` is `infra_data`, as `pilothouse infra --json`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pilothouse.cli.infra import CLOUDWATCH_HINT, RUNNERS_HINT, infra_data
from pilothouse.web import specs
from pilothouse.web.deps import StateDep, StoreDep, WindowDep
from pilothouse.web.render import api, page

__all__ = ["infra_data"]

router = APIRouter()
NAV: tuple[str, str] | None = ("Infrastructure", "/infra")

SYNC_HINT = "pilothouse ingest github --repo {repository}"
HINTS = {
    "instances": (CLOUDWATCH_HINT,),
    "runners": (RUNNERS_HINT,),
    "repositories": ("pilothouse ingest github --repo OWNER/NAME", "pilothouse sample"),
    "workflows": ("pilothouse ingest github --repo OWNER/NAME",),
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
        currency=str(state.config["cost.currency"]).upper(),
    )
