"""`pilothouse crates`: the crates cargo rebuilds run after run, and why."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.text import Text

from pilothouse.analysis.crates import crate_dict, rank_crates
from pilothouse.cli.output import Col, fitted_table, percent, print_json, seconds, stdout_console
from pilothouse.cli.state import state_of
from pilothouse.cli.window import SinceOption, WindowOption, empty_window_note, resolve_window
from pilothouse.model import CrateRebuilds

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
        runs, rows, profiles = store.crate_rebuilds(since=window.since, workflow=workflow)
        note = None
        if not runs:
            hint = ": `pilothouse ingest cargo FILE` adds them"
            note = empty_window_note("cargo builds", window, store.cargo_range(), hint)
    ranked = rank_crates(rows, profiles)
    if as_json:
        print_json({"runs": runs, "window": window.label, "workflow": workflow,
                    "crates": [crate_dict(c) for c in ranked]})  # fmt: skip
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
