"""Build (`/build`): cache hit rate per workflow, job and key family (`cache`), the
crates cargo rebuilds run after run (`crates`), artifact sizes against the target
(`artifacts`). `/api/build` is `build_data`: each command's `--json` under its name, from
the same functions, and what the store holds of each kind."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pilothouse.cli.artifacts import artifacts_data
from pilothouse.cli.cache import cache_data
from pilothouse.cli.crates import crates_data
from pilothouse.cli.state import State
from pilothouse.cli.window import resolve_window
from pilothouse.store import Store
from pilothouse.web.deps import StateDep, StoreDep, WindowDep
from pilothouse.web.render import api, page

router = APIRouter()
NAV: tuple[str, str] | None = ("Build", "/build")

# What adds each kind of data, named on the page where the store holds none.
HINTS = {
    "cache": (
        "pilothouse ingest github --repo OWNER/NAME --logs",
        "pilothouse ingest logs PATH",
    ),
    "crates": ("pilothouse ingest cargo FILE",),
    "artifacts": ("pilothouse ingest github --repo OWNER/NAME",),
}


def build_data(store: Store, state: State, *, window_days: int) -> dict[str, Any]:
    """The Build page over the last *window_days*: `cache --window N --json`, `crates
    --window N --json`, `artifacts --window N --json`, and whether the store holds any
    cache event, cargo build and artifact at all ("stored")."""
    window = resolve_window(state.now(), days=window_days, since=None, default_days=None)
    return {
        "window_days": window_days,
        "cache": cache_data(store, state, window),
        "crates": crates_data(store, state, window),
        "artifacts": artifacts_data(store, state, window_days=window_days),
        "stored": {
            "cache": store.cache_range() is not None,
            "crates": store.cargo_range() is not None,
            "artifacts": store.counts()["artifacts"] > 0,
        },
    }


def meter(value: float | None, target: float, scale: float) -> dict[str, Any]:
    """A horizontal bar: *value* and *target* as percents of *scale*."""
    shown = 0.0 if value is None or scale <= 0 else min(100.0, 100.0 * value / scale)
    return {
        "fill": round(shown, 2),
        "target": round(min(100.0, 100.0 * target / scale), 2) if scale > 0 else 0.0,
        "over": value is not None and value > target,
    }


def artifact_meters(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each workflow's p50 artifact size against the target, on one scale."""
    target = float(report["target_mb"])
    sizes = [float(w["p50_mb"] or 0.0) for w in report["workflows"]]
    scale = max([target * 1.25, *sizes])
    return [meter(w["p50_mb"], target, scale) for w in report["workflows"]]


def hit_meters(report: dict[str, Any], target_percent: float) -> list[dict[str, Any]]:
    return [
        meter(None if row["hit_rate"] is None else row["hit_rate"] * 100, target_percent, 100.0)
        for row in report["caches"]
    ]


@router.get("/api/build")
def build_api(store: StoreDep, state: StateDep, window: WindowDep) -> Response:
    return api(build_data(store, state, window_days=window.days))


@router.get("/build", response_class=HTMLResponse)
def build(request: Request, store: StoreDep, state: StateDep, window: WindowDep) -> Response:
    data = build_data(store, state, window_days=window.days)
    target = float(state.config["targets.cache_hit_percent"])
    return page(
        request,
        "build.html",
        window,
        data=data,
        cache_rows=list(
            zip(data["cache"]["caches"], hit_meters(data["cache"], target), strict=True)
        ),
        cache_target=target,
        artifact_rows=list(
            zip(data["artifacts"]["workflows"], artifact_meters(data["artifacts"]), strict=True)
        ),
        hints=HINTS,
    )
