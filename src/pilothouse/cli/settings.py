"""`pilothouse config`: every setting, its value and where the value came from."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from pilothouse.cli.output import print_json, stdout_console
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
    config = state_of(ctx).config
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
    table = Table(title="Settings (pilothouse.toml < environment < flags)", title_justify="left")
    for header in ("key", "value", "source", "env", "help"):
        table.add_column(header)
    for row in rows:
        table.add_row(*(Text(str(row[h] or "")) for h in ("key", "value", "source", "env", "help")))
    stdout_console().print(table)
