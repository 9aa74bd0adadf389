"""`pilothouse config`: every setting, its value and where the value came from."""

from __future__ import annotations

from typing import Annotated

import typer

from pilothouse.cli.output import Col, fitted_table, print_json, stdout_console
from pilothouse.cli.state import state_of
from pilothouse.config import SETTINGS
from pilothouse.store.engine import describe, parse_url


def _shown(key: str, value: object) -> object:
    # A store URL may carry a password: show it masked, as everywhere else.
    return describe(parse_url(str(value))) if key == "db" else value


def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show every setting: value, source (default, file, $ENV, flag) and help."""
    state = state_of(ctx)
    config = state.config
    rows = [
        {
            "key": s.key,
            "value": _shown(s.key, config[s.key]),
            "source": config.sources[s.key],
            "env": s.env,
            "help": s.help,
        }
        for s in SETTINGS
    ]
    if as_json:
        print_json({"settings": rows})
        return
    columns = (
        Col("key"),
        Col("value", fold=True, min_width=18),
        Col("source", drop=2),
        Col("env", fold=True, min_width=21, drop=1),
        Col("help", fold=True, min_width=24, prose=True),
    )
    cells = [[str(row[c.header] or "") for c in columns] for row in rows]
    console = stdout_console(state.env)
    title = "Settings (pilothouse.toml < environment < flags)"
    console.print(fitted_table(title, columns, cells, console.width))
