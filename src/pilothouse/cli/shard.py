"""`pilothouse shard`: split the test suite into balanced CI shards."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from pilothouse.analysis.sharding import (
    Plan,
    ShardingError,
    count_split_note,
    parse_shard_spec,
    plan_for_target,
    plan_shards,
    snapshot,
)
from pilothouse.cli.output import (
    Col,
    fitted_table,
    nextest_filterset,
    print_json,
    seconds,
    stdout_console,
)
from pilothouse.cli.state import State, state_of
from pilothouse.errors import InputError, PilothouseError
from pilothouse.sources.durations import load_history, read_test_list
from pilothouse.sources.nodeids import align


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    github_matrix = "github-matrix"
    lines = "lines"
    pytest = "pytest"
    nextest = "nextest"
    test_durations = "test-durations"


# What one CI job runs: meaningless without --shard I/N.
ONE_SHARD = (Format.pytest, Format.nextest)
LIST_HINT = "pytest --collect-only -q | pilothouse shard --tests - ..."


class By(enum.StrEnum):
    test = "test"
    class_ = "class"
    file = "file"


def _parse_shard(value: str) -> tuple[int, int]:
    try:
        return parse_shard_spec(value)
    except ShardingError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shard") from None


def _warn(message: str) -> None:
    sys.stderr.write(f"pilothouse: warning: {message}\n")


def _listed(tests_file: str | None, state: State) -> list[str] | None:
    if tests_file is None:
        return None
    if tests_file == "-":
        return read_test_list(sys.stdin.read(), origin="stdin")
    path = Path(tests_file) if Path(tests_file).is_absolute() else state.cwd / tests_file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{tests_file}: cannot read: {exc.strerror or exc}") from None
    return read_test_list(text, origin=tests_file)


def _tests(listed: list[str] | None, known: dict[str, float]) -> list[str]:
    """The tests to plan: the list when given (every one of them), else the history's."""
    if listed is not None:
        return listed
    if not known:
        raise InputError(f"no tests to split: no timing history yet; pass the tests: {LIST_HINT}")
    _warn(
        f"no --tests: planning the {len(known)} tests the timing history knows; tests it has "
        f"not seen are left out. Pass the full list: {LIST_HINT}"
    )
    return sorted(known)


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
        "timed": plan.timed,
    }


def _render(plan: Plan, fmt: Format, selected: int | None, env: Mapping[str, str]) -> None:
    shards = [s for s in plan.shards if selected is None or s.index == selected]
    if fmt is Format.json:
        print_json(_plan_dict(plan))
    elif fmt is Format.github_matrix:
        sys.stdout.write(json.dumps(github_matrix(plan), separators=(",", ":")) + "\n")
    elif fmt is Format.nextest:
        sys.stdout.write(nextest_filterset(shards[0].tests) + "\n")
    elif fmt is Format.pytest:
        # One node id per line: `pytest @shard.txt` takes each line as one argument.
        sys.stdout.writelines(f"{test}\n" for test in shards[0].tests)
    elif fmt is Format.lines:
        for shard in shards:
            prefix = "" if selected is not None else f"{shard.index}\t"
            sys.stdout.writelines(f"{prefix}{test}\n" for test in shard.tests)
    else:
        _table(plan, shards, env)


def github_matrix(plan: Plan) -> dict[str, Any]:
    """A `strategy.matrix` for `fromJSON`: one job per shard, with its index and count."""
    return {
        "include": [
            {
                "shard": s.index,
                "shards": len(plan.shards),
                "predicted_minutes": round((plan.setup_seconds + s.seconds) / 60, 1),
            }
            for s in plan.shards
        ]
    }


SHARD_COLUMNS = (
    Col("shard", "right"),
    Col("tests", "right"),
    Col("predicted", "right"),
    Col("first test", fold=True, min_width=30),
)


def _table(plan: Plan, shards: list[Any], env: Mapping[str, str]) -> None:
    title = (
        f"{len(plan.shards)} shards: slowest {seconds(plan.makespan)} "
        f"(lower bound {seconds(plan.lower_bound)}, "
        f"{plan.makespan / plan.lower_bound if plan.lower_bound else 1:.3f}x); "
        f"{len(plan.unknown)} tests estimated"
        + ("" if plan.timed else "; split by count (no timing history)")
    )
    rows = [
        (
            str(shard.index),
            str(len(shard.tests)),
            seconds(plan.setup_seconds + shard.seconds),
            shard.tests[0] if shard.tests else "-",
        )
        for shard in shards
    ]
    console = stdout_console(env)
    console.print(fitted_table(title, SHARD_COLUMNS, rows, console.width))


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
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            help="table; json (the plan); github-matrix (for fromJSON); lines (SHARD<TAB>ID); "
            "pytest, nextest (one shard, need --shard); test-durations (pytest-split).",
        ),
    ] = Format.table,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Split tests into shards balanced by their timing history (LPT + local search)."""
    fmt = Format.json if as_json else fmt
    selected = _check_options(shards, target_minutes, fmt, shard_option)
    state = state_of(ctx)
    listed = _listed(tests_file, state)
    known = align(
        load_history([state.cwd / path for path in durations or []], state.store_url),
        listed or (),
        lambda file: (state.cwd / file).is_file(),
    )
    tests = _tests(listed, known)
    if fmt is Format.test_durations:
        timings = snapshot(known, tests)
        if not timings:
            _warn(count_split_note(len(set(tests))))
        sys.stdout.write(json.dumps(timings, indent=1, sort_keys=True) + "\n")
        return
    plan = _plan(known, tests, shards, target_minutes, max_shards, by, setup_seconds)
    if not plan.timed:
        _warn(count_split_note(len(set(tests))))
    if selected and selected[1] != len(plan.shards):
        raise PilothouseError(
            f"--shard {shard_option}: the plan has {len(plan.shards)} shards, not {selected[1]}"
        )
    _render(plan, fmt, selected[0] if selected else None, state.env)


def _check_options(
    shards: int | None, target_minutes: float | None, fmt: Format, shard_option: str | None
) -> tuple[int, int] | None:
    if shards is not None and target_minutes is not None:
        raise typer.BadParameter("give exactly one of --shards N or --target-minutes M")
    if shards is None and target_minutes is None and fmt is not Format.test_durations:
        raise typer.BadParameter("give exactly one of --shards N or --target-minutes M")
    if fmt in ONE_SHARD and not shard_option:
        raise typer.BadParameter(
            f"--format {fmt} prints what one CI job runs: add --shard I/N", param_hint="--format"
        )
    selected = _parse_shard(shard_option) if shard_option else None
    if selected and shards is not None and selected[1] != shards:
        raise typer.BadParameter(
            f"--shard {shard_option} does not match --shards {shards}", param_hint="--shard"
        )
    return selected


def _plan(
    known: dict[str, float],
    tests: list[str],
    shards: int | None,
    target_minutes: float | None,
    max_shards: int,
    by: By,
    setup_seconds: float,
) -> Plan:
    try:
        if target_minutes is not None:
            return plan_for_target(
                known, tests, target_minutes * 60, max_shards=max_shards, by=by.value,
                setup_seconds=setup_seconds,
            )  # fmt: skip
        assert shards is not None
        if shards > len(set(tests)):
            raise ShardingError(
                f"--shards {shards} but only {len(set(tests))} tests: "
                f"use at most {len(set(tests))} shards"
            )
        return plan_shards(known, tests, shards, by=by.value, setup_seconds=setup_seconds)
    except ShardingError as exc:
        raise PilothouseError(str(exc)) from None
