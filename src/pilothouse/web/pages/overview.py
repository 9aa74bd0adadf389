"""Overview (`/`): the scorecard's criteria as tiles (value, target, status, trend);
`/api/overview` is `pilothouse score --json`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pilothouse.cli import score as score_cli
from pilothouse.web.deps import StateDep, StoreDep, WindowDep
from pilothouse.web.render import api, page
from pilothouse.web.sections import scorecard_section

router = APIRouter()
NAV: tuple[str, str] | None = ("Overview", "/")


@router.get("/api/overview")
def overview_api(store: StoreDep, state: StateDep, window: WindowDep) -> Response:
    return api(score_cli.score_data(store, state, window_days=window.days))


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, store: StoreDep, state: StateDep, window: WindowDep) -> Response:
    scorecard = score_cli.scorecard_now(store, state, window_days=window.days)
    trend = score_cli.score_trend(store, state, scorecard)
    section = scorecard_section(scorecard, trend, window.now)
    return page(request, "overview.html", window, scorecard=section)
