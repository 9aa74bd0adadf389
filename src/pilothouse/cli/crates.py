"""`pilothouse crates`: the crates cargo rebuilds run after run, and why."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.text import Text

from pilothouse.analysis.crates import crate_dict, rank_crates
from pilothouse.cli.output import Col, fitted_table, percent, print_json, seconds, stdout_console
from pilothouse.cli.state import State, state_of
from pilothouse.cli.window import (
    SinceOption,
    Window,
    WindowOption,
    empty_window_note,
    resolve_window,
)
from pilothouse.model import CrateRebuilds
from pilothouse.store import Store

# As `tests`: the last 30 days unless told otherwise.
DEFAULT_WINDOW_DAYS = 30

COLUMNS = (
    Col("crate", fold=True, min_width=18),
    Col("version", drop=3),
    Col("rebuilt", "right"),
    Col("of runs", "right", drop=2),
    Col("rate", "right", drop=4),
    Col("time", "right", drop=1),
    Col("likely cause", fold=True, min_width=14),
)


def _rows(crates: list[CrateRebuilds]) -> list[tuple[str, ...]]:
    return [
        (c.name, c.version, str(c.runs_rebuilt), str(c.runs_seen), percent(c.rebuild_rate),
         seconds(c.seconds), ", ".join(cause for cause, _ in c.causes))
        for c in crates
    ]  # fmt: skip


def _ranked(store: Store, window: Window, workflow: str | None) -> tuple[int, list[CrateRebuilds]]:
    """Runs with cargo builds in *window*, and the crates ranked by rebuilds."""
    runs, rows, profiles = store.crate_rebuilds(since=window.since, workflow=workflow)
    return runs, rank_crates(rows, profiles)


def _crates_dict(
    runs: int, window: Window, workflow: str | None, ranked: list[CrateRebuilds]
) -> dict[str, Any]:
    return {"runs": runs, "window": window.label, "workflow": workflow,
            "crates": [crate_dict(c) for c in ranked]}  # fmt: skip


def crates_data(
    store: Store, state: State, window: Window, workflow: str | None = None
) -> dict[str, Any]:
    """`crates --json`: crates rebuilt in the runs (of *workflow*, or all) of *window*,
    most rebuilt first, with the likely cause."""
    runs, ranked = _ranked(store, window, workflow)
    return _crates_dict(runs, window, workflow, ranked)


def crates(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    window_days: WindowOption = None,
    since: SinceOption = None,
    workflow: Annotated[str | None, typer.Option(help="Only runs of this workflow.")] = None,
) -> None:
    """Crates rebuilt in most runs (members apart from dependencies), with the likely
    cause: a build script, feature unification, a path dependency, a profile setting."""
    state = state_of(ctx)
    window = resolve_window(
        state.now(), days=window_days, since=since, default_days=DEFAULT_WINDOW_DAYS
    )
    with state.open_store() as store:
        runs, ranked = _ranked(store, window, workflow)
        note = None
        if not runs:
            hint = ": `pilothouse ingest cargo FILE` adds them"
            note = empty_window_note("cargo builds", window, store.cargo_range(), hint)
    if as_json:
        print_json(_crates_dict(runs, window, workflow, ranked))
        if note:
            sys.stderr.write(f"pilothouse: {note}\n")
        return
    console = stdout_console(state.env)
    if note:
        console.print(Text(note))
        return
    limit = int(state.config["report.limit"])
    for member, title in ((True, "Workspace members"), (False, "Dependencies")):
        group = [c for c in ranked if c.member == member]
        heading = f"{title} rebuilt {window.label}: {len(group)} crates, {runs} runs with builds"
        console.print(fitted_table(heading, COLUMNS, _rows(group[:limit]), console.width))
