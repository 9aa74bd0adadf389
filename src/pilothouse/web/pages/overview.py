"""Overview (`/`): the scorecard's criteria as tiles (value, target, status, trend);
`/api/overview` is `pilothouse score --json`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pilothouse.analysis import scorecard as card
from pilothouse.cli import score as score_cli
from pilothouse.web.deps import StateDep, StoreDep, WindowDep
from pilothouse.web.render import api, page

router = APIRouter()
NAV: tuple[str, str] | None = ("Overview", "/")


@router.get("/api/overview")
def overview_api(store: StoreDep, state: StateDep, window: WindowDep) -> Response:
    return api(score_cli.score_data(store, state, window_days=window.days))


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, store: StoreDep, state: StateDep, window: WindowDep) -> Response:
    scorecard = score_cli.scorecard_now(store, state, window_days=window.days)
    trend = score_cli.score_trend(store, state, scorecard)
    tiles = [tile(item, trend) for item in scorecard.criteria]
    return page(
        request,
        "overview.html",
        window,
        score=scorecard.as_dict(),
        tiles=tiles,
        now=f"{window.now:%Y-%m-%d %H:%M} UTC",
        trend_windows=len(trend),
    )


def tile(item: card.Criterion, trend: score_cli.Trend) -> dict[str, Any]:
    """What one tile shows: the scorecard's own wording, and the trend as a sparkline."""
    return {
        "id": item.id,
        "title": item.title,
        "status": item.status,
        "status_label": score_cli.STATUS_LABEL[item.status],
        "value": score_cli.value_text(item),
        "target": score_cli.target_text(item),
        "previous": score_cli.amount_text(item.previous, item.unit),
        "samples": item.samples,
        "detail": item.detail,
        "trend": sparkline(item, trend),
    }


def sparkline(item: card.Criterion, trend: score_cli.Trend) -> dict[str, Any]:
    """The chart spec of one criterion's trend, its target as a line."""
    return {
        "kind": "sparkline",
        "x": [int(start.timestamp()) for start, _ in trend],
        "series": [
            {
                "label": item.title,
                "values": [values.get(item.id) for _, values in trend],
                "unit": item.unit,
            }
        ],
        "lines": [{"label": "target", "value": item.target}],
    }
