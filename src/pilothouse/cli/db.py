"""`pilothouse db ...`: the store's schema, upgraded deliberately."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from pilothouse.cli.output import print_json, stdout_console
from pilothouse.cli.state import state_of
from pilothouse.store import Store
from pilothouse.store.engine import SCHEMA_REVISION, describe, parse_url

app = typer.Typer(help="The store's schema: status and upgrade.", no_args_is_help=True)


def schema_state(revision: str | None) -> str:
    """missing, current or outdated (older or newer than this pilothouse)."""
    if revision is None:
        return "missing"
    return "current" if revision == SCHEMA_REVISION else "outdated"


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """The store's schema revision against this pilothouse's; changes nothing."""
    url = state_of(ctx).store_url
    revision = Store.revision(url)
    state = schema_state(revision)
    if as_json:
        print_json({"store": describe(parse_url(url)), "revision": revision,
                    "expected": SCHEMA_REVISION, "state": state})  # fmt: skip
        return
    hint = {
        "missing": "no store yet; `pilothouse db upgrade` or any writing command creates it",
        "current": "up to date",
        "outdated": "`pilothouse db upgrade` upgrades it",
    }[state]
    line = (f"{describe(parse_url(url))}: schema revision {revision or '-'} "
            f"(this pilothouse: {SCHEMA_REVISION}); {hint}")  # fmt: skip
    stdout_console().print(Text(line), soft_wrap=True)  # a URL is never folded


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Create the store or upgrade its schema to this pilothouse's (what writing
    commands do on their own); for a shared PostgreSQL, run it as its own step."""
    url = state_of(ctx).store_url
    before = Store.upgrade(url)
    if before is None:
        done = f"created at revision {SCHEMA_REVISION}"
    elif before == SCHEMA_REVISION:
        done = f"already at revision {SCHEMA_REVISION}"
    else:
        done = f"upgraded from revision {before} to {SCHEMA_REVISION}"
    stdout_console().print(Text(f"{describe(parse_url(url))}: {done}"), soft_wrap=True)
