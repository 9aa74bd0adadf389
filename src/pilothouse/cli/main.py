"""The root command, its global options, and the one place errors become exit codes.

Exit codes: 0 success; 1 user error (bad input or configuration, unreachable
store); 2 usage error (unknown command or flag); 3 internal error (a bug: rerun
with --debug for the traceback); 130 interrupted.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from pilothouse import __version__
from pilothouse.cli import (
    artifacts_inspect,
    cost,
    db,
    flaky,
    ingest,
    reports,
    sample,
    settings,
    shard,
)
from pilothouse.cli.state import State, World
from pilothouse.config import load_config
from pilothouse.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, PilothouseError, printable

app = typer.Typer(
    name="pilothouse",
    help="The control room for a software delivery pipeline: CI runs, tests, timings, costs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(ingest.app, name="ingest")
app.add_typer(flaky.app, name="flaky")
app.add_typer(cost.app, name="cost")
app.add_typer(db.app, name="db")
# `artifacts` gets its listing from the store elsewhere; `inspect` reads local files only.
artifacts = typer.Typer(
    help="Artifacts: what a build uploads, and what would make it smaller.",
    no_args_is_help=True,
)
artifacts.command("inspect")(artifacts_inspect.inspect)
app.add_typer(artifacts, name="artifacts")
app.command("tests")(reports.tests)
app.command("runs")(reports.runs)
app.command("report")(reports.report)
app.command("sample")(sample.sample)
app.command("shard")(shard.shard)
app.command("config")(settings.show)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pilothouse {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Store URL (env PILOTHOUSE_DB; default sqlite:///.pilothouse/pilothouse.db).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Settings file (default ./pilothouse.toml if present)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Global options come before the command: pilothouse --db URL tests."""
    _DEBUG[0] = debug
    world = ctx.obj if isinstance(ctx.obj, World) else World()
    resolved = load_config(path=config, env=world.env, flags={"db": db}, cwd=world.cwd)
    ctx.obj = State(config=resolved, world=world, debug=debug)


# Set by the root callback, read by run() when an error reaches it.
_DEBUG = [False]


def run(argv: Sequence[str] | None = None, *, world: World | None = None) -> int:
    """Run the CLI on *argv* and return its exit code; errors are printed here.

    *world* lets tests hand in the environment, working directory and clock.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    _DEBUG[0] = "--debug" in args
    try:
        result = app(args=args, prog_name="pilothouse", standalone_mode=False, obj=world)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("pilothouse: interrupted\n")
        return EXIT_INTERRUPTED
    except PilothouseError as exc:
        if _DEBUG[0]:
            traceback.print_exc()
        for line in exc.lines():
            sys.stderr.write(f"pilothouse: error: {_one_line(line)}\n")
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors (exit 2) and the like
        _hint_global_option(exc, args)
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            sys.stderr.write(f"pilothouse: error: {exc.format_message()}\n")
        return exc.exit_code
    except Exception as exc:  # a bug: say so, and how to report it
        if _DEBUG[0]:
            traceback.print_exc()
        sys.stderr.write(
            f"pilothouse: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
            "(a bug; rerun with --debug for the traceback and report it)\n"
        )
        return EXIT_INTERNAL
    return result if isinstance(result, int) else 0


# Options of the root command; given after a subcommand they are unknown there.
GLOBAL_OPTIONS = ("--db", "--config", "--debug", "--version")


def _hint_global_option(exc: typer.TyperException, args: Sequence[str]) -> None:
    """Say where a global option goes when it was given after the command."""
    name = getattr(exc, "option_name", None)
    if name in GLOBAL_OPTIONS and exc.message.startswith("No such option"):
        command = next((a for a in args if not a.startswith("-")), "COMMAND")
        exc.message += (
            f" ({name} is a global option: it goes before the command, "
            f"pilothouse {name}{' VALUE' if name in ('--db', '--config') else ''} {command} ...)"
        )


def _one_line(text: str) -> str:
    return printable(text)


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
