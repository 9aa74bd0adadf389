"""Subcommands imported when they are used, not whenever pilothouse starts.

`pilothouse ingest junit` in a CI job should not pay for the cost ledger, flaky
analysis, sharding or Rich's tables (a quarter of a second of imports, as much as
its SQLite writes of 100,000 testcases). The root group knows each command by
name, module and one-line summary; a command's module is imported the first time
the command is looked up (to run it or show its own help). `pilothouse --help`
lists the summaries without importing any.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import typer
import typer.core
import typer.main
from typer import _click as click  # Typer 0.29 (pinned) vendors Click here


class LazyCommand(NamedTuple):
    """Where a command lives (``module:attribute``: a Typer app or a command
    function) and its summary for the root's --help (the first paragraph of its
    help; tests/test_cli.py checks they agree)."""

    target: str
    summary: str


class _Commands(Mapping[str, click.Command]):
    """The root's subcommands by name, each built when first looked up."""

    def __init__(self, table: Mapping[str, LazyCommand], settings: Mapping[str, Any]) -> None:
        self._table = table
        self._settings = settings  # the root Typer's: subcommands are built as under it
        self._built: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._built:
            self._built[name] = self._build(name)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def _build(self, name: str) -> click.Command:
        module, _, attribute = self._table[name].target.partition(":")
        target = getattr(importlib.import_module(module), attribute)
        holder = typer.Typer(**self._settings)
        holder.callback()(_nothing)  # a group, whatever it holds
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=name)
        else:
            holder.command(name)(target)
        group = typer.main.get_command(holder)
        assert isinstance(group, typer.core.TyperGroup)
        return group.commands[name]


def _nothing() -> None:
    """The holder group's callback: the real root's callback has run already."""


def lazy_root(table: Mapping[str, LazyCommand], settings: Mapping[str, Any]) -> type[Any]:
    """A root group class for ``typer.Typer(cls=...)`` whose subcommands are *table*."""

    class LazyRoot(typer.core.TyperGroup):
        def __init__(self, **attrs: Any) -> None:
            super().__init__(**attrs)
            self.commands = _Commands(table, settings)  # type: ignore[assignment]

        def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
            """As Click's, from the summaries: listing imports no command."""
            limit = formatter.width - 6 - max(map(len, table))
            rows = [
                (name, click.utils.make_default_short_help(command.summary, limit))
                for name, command in table.items()
            ]
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    return LazyRoot
