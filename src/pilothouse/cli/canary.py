"""`pilothouse canary judge`: score a canary against its baseline, metric by metric.

Exit 0 pass, 4 marginal, 5 fail (1 bad input or configuration, 2 usage, 3 a bug).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pilothouse.cli.output import print_json, stdout_console
from pilothouse.cli.state import state_of

if TYPE_CHECKING:
    from pilothouse.delivery.canary import Judgement, Series
    from pilothouse.delivery.canary.config import CanaryConfig

EXIT_PASS = 0
EXIT_MARGINAL = 4
EXIT_FAIL = 5
EXIT_CODES = {"pass": EXIT_PASS, "marginal": EXIT_MARGINAL, "fail": EXIT_FAIL}

app = typer.Typer(
    help="Canary analysis: the canary's metrics against the baseline's (Kayenta's judge, "
    "plus rate, distribution and threshold checks).",
    no_args_is_help=True,
)


@app.command("judge")
def judge_command(
    ctx: typer.Context,
    config: Annotated[
        Path, typer.Option("--config", help="The judge configuration (TOML).", show_default=False)
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Series from a file: CSV metric,scope,timestamp,value "
            "or the same records as JSON lines.",
        ),
    ] = None,
    prometheus: Annotated[
        str | None,
        typer.Option("--prometheus", help="Series from this Prometheus server (base URL)."),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="With --prometheus: ISO 8601 or epoch seconds.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="With --prometheus: ISO 8601 or epoch seconds.")
    ] = None,
    step: Annotated[
        str | None, typer.Option("--step", help="With --prometheus: seconds or 30s, 1m, ...")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The judgement as JSON.")] = False,
    kayenta: Annotated[
        bool,
        typer.Option(
            "--kayenta-only",
            help="Only Kayenta's own classification (NetflixACAJudge), to compare.",
        ),
    ] = False,
) -> int:
    """Judge the canary: exit 0 pass, 4 marginal, 5 fail."""
    from pilothouse.delivery.canary import judge, load_config

    state = state_of(ctx)
    settings = load_config(state.cwd / config)
    series = _series(settings, state.cwd, data, prometheus, start, end, step)
    _note_unknown(settings, series)
    judgement = judge(settings, series, beyond_kayenta=not kayenta)
    if as_json:
        print_json(judgement.to_json())
    else:
        _render(judgement, state.env)
    raise typer.Exit(EXIT_CODES[judgement.classification])


def _series(
    settings: CanaryConfig,
    cwd: Path,
    data: Path | None,
    prometheus: str | None,
    start: str | None,
    end: str | None,
    step: str | None,
) -> Series:
    from pilothouse.delivery.canary import read_data_file

    if (data is None) == (prometheus is None):
        raise typer.BadParameter("give one of --data FILE or --prometheus URL")
    if data is not None:
        if start or end or step:
            raise typer.BadParameter("--start, --end and --step go with --prometheus")
        return read_data_file(cwd / data)
    assert prometheus is not None
    return _from_prometheus(settings, prometheus, start, end, step)


def _note_unknown(settings: CanaryConfig, series: Series) -> None:
    """Say on stderr which metrics of the data the configuration does not name (a typo
    there would otherwise show only as a metric without data)."""
    unknown = sorted({name for name, _ in series} - {m.name for m in settings.metrics})
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        sys.stderr.write(f"pilothouse: note: not in the configuration, ignored: {shown}\n")


def _from_prometheus(
    settings: CanaryConfig, url: str, start: str | None, end: str | None, step: str | None
) -> Series:
    import httpx

    from pilothouse.delivery.canary import query_prometheus
    from pilothouse.delivery.canary.sources import parse_step, parse_time, public_url

    if start is None or end is None or step is None:
        raise typer.BadParameter("--prometheus needs --start, --end and --step")
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"--prometheus must be an http(s) URL, not {public_url(url)!r}")
    try:
        begin, finish, seconds = parse_time(start), parse_time(end), parse_step(step)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with httpx.Client(timeout=30.0, follow_redirects=True) as client:
        return query_prometheus(client, url, settings, start=begin, end=finish, step=seconds)


def _render(judgement: Judgement, env: Mapping[str, str]) -> None:
    from rich.table import Table
    from rich.text import Text  # names are the user's text, never Rich markup ("[/]")

    table = Table(title=None, box=None, pad_edge=False)
    for column in ("metric", "group", "result", "test", "p", "effect", "reason"):
        table.add_column(column, no_wrap=column != "reason")
    for m in judgement.metrics:
        result = m.classification + (" (critical)" if m.critical else "")
        if m.muted:
            result += " (muted)"
        table.add_row(
            Text(m.name),
            Text(m.group),
            result,
            m.test or "-",
            _num(m.p_value),
            _num(m.effect),
            Text(m.reason),
        )
    console = stdout_console(env)
    console.print(table)
    groups = ", ".join(f"{name} {score:.1f}" for name, score in judgement.groups.items())
    console.print(Text(f"groups: {groups}"))
    why = f" ({judgement.reason})" if judgement.reason else ""
    console.print(Text(f"score {judgement.score:.2f}: {judgement.classification.upper()}{why}"))


def _num(value: float | None) -> str:
    import math

    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.3g}"
