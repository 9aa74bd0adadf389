"""`pilothouse routine daily|weekly|monthly|quarterly`: the team's routine reports.

Exit codes: 0 nothing needs a human; 6 (EXIT_ATTENTION) the report lists something
that does (a spend over the limit, a stale sync, a failing or newly flaky test, a
regression, a missed target, a forecast over budget); 1 the routine itself failed
(no store, bad settings, a webhook that refused the report)."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from pilothouse.cli.output import json_text, markdown_cell
from pilothouse.cli.state import State, state_of
from pilothouse.errors import ConfigError, PilothouseError
from pilothouse.routines.model import EXIT_ATTENTION, Cadence, Report


class RoutineFormat(enum.StrEnum):
    markdown = "markdown"
    json = "json"


def markdown(report: Report) -> str:
    """The report as Markdown: what needs a human first, then each section."""
    lines = [f"## {markdown_cell(report.title)}", ""]
    if report.needs_attention:
        lines += ["**Needs a human:**", ""]
        lines += [f"- ❗ {markdown_cell(item)}" for item in report.attention]
    else:
        lines.append("Nothing needs a human.")
    for section in report.sections:
        lines += ["", f"### {markdown_cell(section.title)}", ""]
        lines += [f"- ❗ {markdown_cell(item)}" for item in section.attention]
        lines += [f"- {markdown_cell(item)}" for item in section.lines]
    return "\n".join(lines) + "\n"


def webhooks_of(state: State) -> list[str]:
    """routine.webhooks, else budget.webhooks."""
    return list(state.config["routine.webhooks"] or state.config["budget.webhooks"])


def _post(state: State, text: str) -> list[str]:
    """Post *text* to every webhook; what failed, one line each (URLs masked)."""
    import httpx

    from pilothouse.notify import post_webhook

    with httpx.Client() as client:
        found = [post_webhook(client, url, text) for url in webhooks_of(state)]
    return [problem for problem in found if problem]


def routine(
    ctx: typer.Context,
    cadence: Annotated[Cadence, typer.Argument(help="daily, weekly, monthly or quarterly.")],
    notify: Annotated[
        bool,
        typer.Option("--notify", help="Post the report to routine.webhooks (or budget.webhooks)."),
    ] = False,
    fmt: Annotated[
        RoutineFormat, typer.Option("--format", help="Output format.")
    ] = RoutineFormat.markdown,
    repo: Annotated[
        Path | None,
        typer.Option("--repo", help="The git checkout of the monthly changelog (default: .)."),
    ] = None,
) -> None:
    """A routine report: daily (cost against the alert limit, sync freshness, failing
    and newly flaky tests, infrastructure), weekly (performance and changes, failing
    tests, cost), monthly (cost review with what-ifs, performance, changelog) or
    quarterly (runner capacity, budget forecast). Exit 6 when something needs a human."""
    from pilothouse.routines.collect import Sources, build_report

    state = state_of(ctx)
    if notify and not webhooks_of(state):
        raise ConfigError(
            "--notify: no routine.webhooks (or budget.webhooks) in pilothouse.toml to post to"
        )
    with state.open_store() as store:
        report = build_report(store, state, cadence, Sources(checkout=repo))
    text = markdown(report)
    sys.stdout.write(json_text(report.as_dict()) + "\n" if fmt is RoutineFormat.json else text)
    if notify:
        failures = _post(state, text)
        if failures:
            raise PilothouseError(
                f"{len(failures)} report deliveries failed: {'; '.join(failures)}"
            )
    if report.needs_attention:
        for item in report.attention:
            sys.stderr.write(f"pilothouse: routine {cadence.value}: needs a human: {item}\n")
        raise typer.Exit(EXIT_ATTENTION)
