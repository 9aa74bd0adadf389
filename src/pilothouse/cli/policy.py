"""`pilothouse policy`: teams' own gates, written in Rego, over the documents the
`--json` outputs print (the scorecard, costs, tests, flaky tests) or the workflow files.

`policy check` fails (exit 1) when a `deny` or `violation` rule of any policy holds,
as conftest does; `warn` rules are shown and do not fail. `policy input` prints the
document a policy sees, to write one against.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pilothouse.cli.output import print_json
from pilothouse.cli.state import State, state_of
from pilothouse.config import MAX_WINDOW_DAYS
from pilothouse.errors import InputError, printable

app = typer.Typer(
    help="Policy as code: Rego policies (OPA) over the scorecard, costs and workflow files.",
    no_args_is_help=True,
)


class Kind(StrEnum):
    score = "score"
    cost = "cost"
    tests = "tests"
    flaky = "flaky"
    workflows = "workflows"


KindOption = Annotated[
    Kind,
    typer.Option(
        "--input",
        help="The document policies see: `score|cost|tests|flaky --json`, or the "
        "checkout's workflow files.",
    ),
]
FileOption = Annotated[
    Path | None,
    typer.Option(
        "--input-file",
        help="A JSON document instead (e.g. saved `--json` output); '-' for stdin.",
        dir_okay=False,
        allow_dash=True,
    ),
]
DaysOption = Annotated[
    int | None,
    typer.Option(
        "--window",
        min=1,
        max=MAX_WINDOW_DAYS,
        help="Days of history (default: the command's own).",
    ),
]


def input_document(state: State, kind: Kind, *, days: int | None, root: Path) -> Any:
    """The input of *kind*: exactly what `pilothouse KIND --json` prints."""
    if kind is Kind.workflows:
        from pilothouse.policy.inputs import workflows_input

        if not root.is_dir():
            raise InputError(f"{printable(str(root))}: not a directory (--path is the checkout)")
        return workflows_input(root)
    with state.open_store() as store:
        if kind is Kind.score:
            from pilothouse.cli.score import score_data

            return score_data(store, state, window_days=days, root=root)
        if kind is Kind.cost:
            from pilothouse.cli.cost import cost_data, cost_window

            return cost_data(store, state, cost_window(state.now().date(), days or 30))
        from pilothouse.cli.window import resolve_window

        if kind is Kind.tests:
            from pilothouse.cli.reports import DEFAULT_WINDOW_DAYS, tests_data

            window = resolve_window(
                state.now(), days=days, since=None, default_days=DEFAULT_WINDOW_DAYS
            )
            return tests_data(store, state, window)
        from pilothouse.cli.flaky import flaky_data

        default = int(state.config["flaky.window_days"])
        window = resolve_window(state.now(), days=days, since=None, default_days=default)
        return flaky_data(store, state, window)


MAX_INPUT_BYTES = 64 * 1024 * 1024  # far above any `--json` output; /dev/zero is refused


def _read_at_most(path: Path, limit: int) -> bytes:
    """At most *limit* + 1 bytes of *path* ('-': stdin): an endless file never hangs."""
    import sys

    if str(path) == "-":
        return sys.stdin.buffer.read(limit + 1)
    with path.open("rb") as handle:
        return handle.read(limit + 1)


def _read_file(path: Path) -> Any:
    import json

    name = "<stdin>" if str(path) == "-" else str(path)
    try:
        data = _read_at_most(path, MAX_INPUT_BYTES)
    except OSError as exc:
        raise InputError(f"{printable(name)}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(
            f"{printable(name)}: over {MAX_INPUT_BYTES >> 20} MiB: not an input document"
        )
    try:
        return json.loads(data)
    except RecursionError:
        raise InputError(f"{printable(name)}: JSON nested too deeply") from None
    except ValueError as exc:
        raise InputError(f"{printable(name)}: not JSON: {exc}") from None


def _policies(paths: list[Path]) -> list[Any]:
    from pilothouse.policy.rego import MAX_POLICY_BYTES, policy_of

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.rego") if not p.name.endswith("_test.rego"))
            if not found:
                raise InputError(f"{printable(str(path))}: no .rego files in this directory")
            files += found
        else:
            files.append(path)
    policies = []
    for file in files:
        try:
            data = _read_at_most(file, MAX_POLICY_BYTES)
        except OSError as exc:
            raise InputError(f"{printable(str(file))}: cannot read: {exc.strerror}") from None
        policies.append(policy_of(str(file), data))
    return policies


def _document(
    state: State, kind: Kind, input_file: Path | None, days: int | None, root: Path | None
) -> Any:
    if input_file is not None:
        return _read_file(input_file)
    return input_document(state, kind, days=days, root=root or state.cwd)


@app.command("check")
def check(
    ctx: typer.Context,
    policy: Annotated[
        list[Path], typer.Argument(help="Rego files, or directories of them (*.rego).")
    ],
    kind: KindOption = Kind.score,
    input_file: FileOption = None,
    days: DaysOption = None,
    root: Annotated[
        Path | None, typer.Option("--path", help="Checkout whose .github/workflows are read.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Evaluate Rego policies over an input document; exit 1 when a deny rule holds.

    Each policy's package is asked for `deny` and `violation` (failures) and `warn`
    (warnings): sets of strings, or of objects with a `msg`, as conftest reads them.
    """
    from pilothouse.policy.rego import evaluate

    state = state_of(ctx)
    policies = _policies(policy)
    document = _document(state, kind, input_file, days, root)
    found = evaluate(policies, document)
    failures = [f for f in found if f.level == "fail"]
    warnings = [f for f in found if f.level == "warn"]
    source = "input file" if input_file is not None else kind.value
    if as_json:
        print_json(
            {
                "input": source,
                "policies": [p.name for p in policies],
                "findings": [f.as_dict() for f in found],
                "fail": len(failures),
                "warn": len(warnings),
            }
        )
    else:
        for finding in [*failures, *warnings]:
            label = "FAIL" if finding.level == "fail" else "WARN"
            typer.echo(
                f"{label} {printable(finding.policy)} ({finding.package}): "
                f"{printable(finding.message)}"
            )
        packages = len({p.package for p in policies})
        typer.echo(
            f"{len(failures)} failures, {len(warnings)} warnings from {len(policies)} "
            f"policies ({packages} packages) over the {source} document"
        )
    if failures:
        raise typer.Exit(1)


@app.command("input")
def show_input(
    ctx: typer.Context,
    kind: KindOption = Kind.score,
    days: DaysOption = None,
    root: Annotated[
        Path | None, typer.Option("--path", help="Checkout whose .github/workflows are read.")
    ] = None,
) -> None:
    """Print the input document policies of this kind see (JSON)."""
    state = state_of(ctx)
    print_json(_document(state, kind, None, days, root))
