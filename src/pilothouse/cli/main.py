"""The root command, its global options, and the one place errors become exit codes.

Exit codes: 0 success; 1 user error (bad input or configuration, unreachable
store); 2 usage error (unknown command or flag); 3 internal error (a bug: rerun
with --debug for the traceback); 6 a routine found something that needs a human
(`routine`); 130 interrupted.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from pilothouse import __version__
from pilothouse.cli.lazy import LazyCommand, lazy_root
from pilothouse.cli.state import State, World
from pilothouse.config import load_config
from pilothouse.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, PilothouseError, printable

# Every command, in --help order; each module is imported only when its command is
# used (see cli/lazy.py). The summaries are the first paragraph of each help.
COMMANDS = {
    "tests": LazyCommand(
        "pilothouse.cli.reports:tests",
        "Per test: runs, pass rate, failures, median and p90 duration, last outcome; "
        "slowest first, over the last 30 days (--window, --since).",
    ),
    "runs": LazyCommand(
        "pilothouse.cli.reports:runs",
        "Pipeline runs, newest first, with their jobs (all of them, or --window / --since).",
    ),
    "report": LazyCommand(
        "pilothouse.cli.reports:report",
        "What the store holds, and over the last 30 days (--window, --since): the latest "
        "runs, the slowest and the failing tests.",
    ),
    "sample": LazyCommand(
        "pilothouse.cli.sample:sample",
        "Load a sample history (a Rust workspace's CI: ~3,500 tests, 60 days) into the store.",
    ),
    "shard": LazyCommand(
        "pilothouse.cli.shard:shard",
        "Split tests into shards balanced by their timing history (LPT + local search).",
    ),
    "score": LazyCommand(
        "pilothouse.cli.score:score",
        "The success criteria (build and test time, cache hit rate, artifact size, pass rate, "
        "daily cost, active workflows) against their targets, with the previous window.",
    ),
    "crates": LazyCommand(
        "pilothouse.cli.crates:crates",
        "Crates rebuilt in most runs (members apart from dependencies), with the likely cause: "
        "a build script, feature unification, a path dependency, a profile setting.",
    ),
    "artifacts": LazyCommand(
        "pilothouse.cli.artifacts:app",
        "Artifact sizes per workflow: newest and p50 per run against the target, growth.",
    ),
    "cache": LazyCommand(
        "pilothouse.cli.cache:cache",
        "Cache restores per workflow, job and key family (exact hits, restore-key hits, misses, "
        "hit rate, trend, minutes saved and lost) from ingested job logs, over the last 14 days "
        "(--window, --since) on all branches (--branch); then advice from the workflow files.",
    ),
    "serve": LazyCommand(
        "pilothouse.cli.serve:serve",
        "The dashboard (scorecard, tests, ...) in a web browser, with a JSON API under /api.",
    ),
    "config": LazyCommand(
        "pilothouse.cli.settings:show",
        "Show every setting: value, source (default, file, $ENV, flag) and help.",
    ),
    "ingest": LazyCommand("pilothouse.cli.ingest:app", "Bring outside data into the store."),
    "metrics": LazyCommand(
        "pilothouse.cli.metrics:metrics",
        "The store's metrics in the Prometheus text format, as `/metrics` serves them.",
    ),
    "grafana-dashboard": LazyCommand(
        "pilothouse.cli.grafana:grafana_dashboard",
        "A Grafana dashboard (JSON) over pilothouse's Prometheus metrics, one row per "
        "dashboard page.",
    ),
    "flaky": LazyCommand(
        "pilothouse.cli.flaky:app",
        "Flaky tests from CI history: detect, score, explain, quarantine.",
    ),
    "cost": LazyCommand(
        "pilothouse.cli.cost:app",
        "Where the money goes: daily spend, budgets, forecast, anomalies, what-if.",
    ),
    "db": LazyCommand("pilothouse.cli.db:app", "The store's schema: status and upgrade."),
    "release": LazyCommand(
        "pilothouse.cli.release:app",
        "Release notes, the next version and the changelog from Conventional Commits; "
        "GitHub Releases.",
    ),
    "export": LazyCommand(
        "pilothouse.cli.export:app",
        "Send what the store holds to other tools: runs, jobs and steps as OpenTelemetry "
        "traces (OTLP/HTTP).",
    ),
    "policy": LazyCommand(
        "pilothouse.cli.policy:app",
        "Policy as code: Rego policies (OPA) over the scorecard, costs and workflow files.",
    ),
    "changes": LazyCommand(
        "pilothouse.cli.changes:changes",
        "Level shifts (regressions and improvements) and one-day anomalies of each "
        "workflow's build, test and queue time, pass rate, cache hit rate and daily spend, "
        "over the last 90 days (--window, --since); each shift with its medians before and "
        "after and the commits, runner labels and workflow files that changed in its window.",
    ),
    "routine": LazyCommand(
        "pilothouse.cli.routine:routine",
        "A routine report: daily (cost against the alert limit, sync freshness, failing "
        "and newly flaky tests, infrastructure), weekly (performance and changes, failing "
        "tests, cost), monthly (cost review with what-ifs, performance, changelog) or "
        "quarterly (runner capacity, budget forecast). Exit 6 when something needs a human.",
    ),
    "provenance": LazyCommand(
        "pilothouse.cli.provenance:app",
        "SLSA build provenance for release artifacts: in-toto Statement v1, SLSA Provenance "
        "v1, DSSE signatures; verifies GitHub's Sigstore bundles offline too.",
    ),
    "ci": LazyCommand(
        "pilothouse.cli.ci:app",
        "Run a workflow on demand and follow it; save per-workflow baselines.",
    ),
    "doctor": LazyCommand(
        "pilothouse.cli.doctor:doctor",
        "Is CI set up and running: token scopes, repository, Actions, and every workflow "
        "file (valid, pinned, registered, active, latest run), each with its fix.",
    ),
    "rollout": LazyCommand(
        "pilothouse.cli.rollout:app",
        "Staged rollouts: waves of targets, traffic steps, the canary judge, rollback.",
    ),
    "canary": LazyCommand(
        "pilothouse.cli.canary:app",
        "Canary analysis: the canary's metrics against the baseline's (Kayenta's judge, "
        "plus rate, distribution and threshold checks).",
    ),
    "infra": LazyCommand(
        "pilothouse.cli.infra:infra",
        "Instances and Auto Scaling groups: state, type, CPU and memory p50/p95, idle hours, "
        "what weekday-only provisioning and right-sizing would save; self-hosted runners and "
        "their label queues; over the last 14 days (--window, --since).",
    ),
}
_SETTINGS: dict[str, Any] = {
    "pretty_exceptions_enable": False,
    "add_completion": False,
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}

app = typer.Typer(
    name="pilothouse",
    help="The control room for a software delivery pipeline: CI runs, tests, timings, costs.",
    no_args_is_help=True,
    cls=lazy_root(COMMANDS, _SETTINGS),
    **_SETTINGS,
)


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
