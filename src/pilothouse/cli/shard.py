"""`pilothouse shard`: split the test suite into balanced CI shards."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from pilothouse.analysis.sharding import (
    Plan,
    ShardingError,
    parse_shard_spec,
    plan_for_target,
    plan_shards,
)
from pilothouse.cli.output import nextest_filterset, print_json, seconds, stdout_console
from pilothouse.cli.state import State, state_of
from pilothouse.errors import InputError, PilothouseError
from pilothouse.sources.durations import (
    durations_from_history,
    read_duration_files,
    read_test_list,
)


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    github_matrix = "github-matrix"
    lines = "lines"
    pytest = "pytest"
    nextest = "nextest"


class By(enum.StrEnum):
    test = "test"
    class_ = "class"
    file = "file"


def _parse_shard(value: str) -> tuple[int, int]:
    try:
        return parse_shard_spec(value)
    except ShardingError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shard") from None


def _known(state: State, files: list[Path] | None) -> dict[str, float]:
    if files:
        return read_duration_files(files)
    with state.open_store() as store:
        return durations_from_history(store.test_observations())


def _tests(tests_file: str | None, known: dict[str, float], state: State) -> list[str]:
    if tests_file is None:
        if not known:
            raise InputError("no durations: ingest JUnit reports first or pass --durations FILE")
        return sorted(known)
    if tests_file == "-":
        return read_test_list(sys.stdin.read(), origin="stdin")
    path = Path(tests_file) if Path(tests_file).is_absolute() else state.cwd / tests_file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{tests_file}: cannot read: {exc.strerror or exc}") from None
    return read_test_list(text, origin=tests_file)


def _plan_dict(plan: Plan) -> dict[str, Any]:
    return {
        "shards": [
            {
                "index": shard.index,
                "tests": list(shard.tests),
                "predicted_seconds": round(plan.setup_seconds + shard.seconds, 3),
            }
            for shard in plan.shards
        ],
        "makespan_seconds": round(plan.makespan, 3),
        "lower_bound_seconds": round(plan.lower_bound, 3),
        "setup_seconds": plan.setup_seconds,
        "wall_seconds": round(plan.wall_seconds, 3),
        "unknown_tests": len(plan.unknown),
    }


def _render(plan: Plan, fmt: Format, selected: int | None) -> None:
    shards = [s for s in plan.shards if selected is None or s.index == selected]
    if fmt is Format.json:
        print_json(_plan_dict(plan))
    elif fmt is Format.github_matrix:
        include = [
            {
                "shard": s.index,
                "shards": len(plan.shards),
                "predicted_minutes": round((plan.setup_seconds + s.seconds) / 60, 1),
            }
            for s in plan.shards
        ]
        sys.stdout.write(json.dumps({"include": include}, separators=(",", ":")) + "\n")
    elif fmt is Format.nextest:
        for shard in shards:
            sys.stdout.write(nextest_filterset(shard.tests) + "\n")
    elif fmt in (Format.lines, Format.pytest):
        # One id per line: `pytest @shard.txt` reads it as arguments, spaces and all.
        for shard in shards:
            prefix = "" if selected is not None else f"{shard.index}\t"
            sys.stdout.writelines(f"{prefix}{test}\n" for test in shard.tests)
    else:
        _table(plan, shards)


def _table(plan: Plan, shards: list[Any]) -> None:
    table = Table(
        title=(
            f"{len(plan.shards)} shards: slowest {seconds(plan.makespan)} "
            f"(lower bound {seconds(plan.lower_bound)}, "
            f"{plan.makespan / plan.lower_bound if plan.lower_bound else 1:.3f}x); "
            f"{len(plan.unknown)} tests estimated"
        ),
        title_justify="left",
    )
    for header in ("shard", "tests", "predicted", "first test"):
        table.add_column(header)
    for shard in shards:
        table.add_row(
            str(shard.index),
            str(len(shard.tests)),
            seconds(plan.setup_seconds + shard.seconds),
            Text(shard.tests[0] if shard.tests else "-"),
        )
    stdout_console().print(table)


def shard(
    ctx: typer.Context,
    shards: Annotated[int | None, typer.Option("--shards", min=1, help="Number of shards.")] = None,
    target_minutes: Annotated[
        float | None,
        typer.Option(min=0.1, help="Fewest shards whose wall time (setup + slowest) meets this."),
    ] = None,
    max_shards: Annotated[int, typer.Option(min=1, help="Upper limit with --target-minutes.")] = 64,
    durations: Annotated[
        list[Path] | None,
        typer.Option(
            help="pytest-split .test_durations or JUnit XML (repeatable); default: store."
        ),
    ] = None,
    tests_file: Annotated[
        str | None,
        typer.Option(
            "--tests", help="Test ids, one per line (`pytest --collect-only -q`); - = stdin."
        ),
    ] = None,
    by: Annotated[
        By, typer.Option(help="Keep classes or files together where balance allows.")
    ] = By.test,
    setup_seconds: Annotated[
        float, typer.Option(min=0, help="Fixed cost of every shard (checkout, build, install).")
    ] = 0.0,
    shard_option: Annotated[
        str | None, typer.Option("--shard", help="Print only shard I of N (I/N).")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Split tests into shards balanced by their timing history (LPT + local search)."""
    if (shards is None) == (target_minutes is None):
        raise typer.BadParameter("give exactly one of --shards N or --target-minutes M")
    selected = _parse_shard(shard_option) if shard_option else None
    if selected and shards is not None and selected[1] != shards:
        raise typer.BadParameter(
            f"--shard {shard_option} does not match --shards {shards}", param_hint="--shard"
        )
    state = state_of(ctx)
    known = _known(state, durations)
    tests = _tests(tests_file, known, state)
    try:
        if target_minutes is not None:
            plan = plan_for_target(
                known, tests, target_minutes * 60, max_shards=max_shards, by=by.value,
                setup_seconds=setup_seconds,
            )  # fmt: skip
        else:
            assert shards is not None
            if shards > len(set(tests)):
                raise ShardingError(
                    f"--shards {shards} but only {len(set(tests))} tests: "
                    f"use at most {len(set(tests))} shards"
                )
            plan = plan_shards(known, tests, shards, by=by.value, setup_seconds=setup_seconds)
    except ShardingError as exc:
        raise PilothouseError(str(exc)) from None
    if selected and selected[1] != len(plan.shards):
        raise PilothouseError(
            f"--shard {shard_option}: the plan has {len(plan.shards)} shards, not {selected[1]}"
        )
    _render(plan, Format.json if as_json else fmt, selected[0] if selected else None)
