"""`pilothouse config`: every setting, its value and where the value came from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from pilothouse.cli.output import Col, fitted_table, print_json, stdout_console
from pilothouse.cli.state import state_of
from pilothouse.config import SETTINGS, Setting, check_value, mask_url

T = TypeVar("T")


def validated_by(key: str) -> Callable[[T], T]:
    """A Typer callback checking a flag with setting *key*'s own validator, so a
    value refused in pilothouse.toml or the environment is refused as a flag too
    (there a usage error, exit 2)."""

    def callback(value: T) -> T:
        problem = None if value is None else check_value(key, value)
        if problem is not None:
            raise typer.BadParameter(problem)
        return value

    return callback


def _shown(setting: Setting, value: Any) -> Any:
    """A value as safe to print: secrets (webhooks) by host only, and any URL's
    password masked (a store URL, a proxy in some table)."""
    if setting.secret and setting.type is str and "://" not in str(value):
        return "***" if value else ""  # a token: nothing of it is shown
    if setting.secret:
        return [mask_url(v) for v in value] if isinstance(value, list) else mask_url(str(value))
    return _without_passwords(value)


def _without_passwords(value: Any) -> Any:
    if isinstance(value, str):
        return _masked_password(value)
    if isinstance(value, list):
        return [_without_passwords(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_passwords(v) for k, v in value.items()}
    return value


def _masked_password(text: str) -> str:
    scheme, sep, rest = text.partition("://")
    authority = rest.split("/", 1)[0]
    if not sep or "@" not in authority or ":" not in authority.rpartition("@")[0]:
        return text
    user = authority.rpartition("@")[0].split(":", 1)[0]
    return f"{scheme}://{user}:***@{rest.partition('@')[2]}"


def _text(value: Any) -> str:
    """A cell: booleans as TOML writes them (``false`` is a value, not an empty cell)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value or "")


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
            "value": _shown(s, config[s.key]),
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
    cells = [[_text(row[c.header]) for c in columns] for row in rows]
    console = stdout_console(state.env)
    title = "Settings (pilothouse.toml < environment < flags)"
    console.print(fitted_table(title, columns, cells, console.width))
