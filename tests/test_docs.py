"""Docs kept honest: every command has help and is named in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from pilothouse.cli import app
from pilothouse.config import SETTINGS

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def _commands() -> list[str]:
    group = typer.main.get_command(app)
    names: list[str] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        if sub:
            names.extend(f"{name} {s}" for s in sub)
        else:
            names.append(name)
    return names


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help_and_is_documented(command: str) -> None:
    assert f"pilothouse {command}" in README
    group = typer.main.get_command(app)
    target = group
    for part in command.split():
        target = target.commands[part]  # type: ignore[attr-defined]
    assert (target.help or "").strip()


@pytest.mark.parametrize("setting", [s.key for s in SETTINGS])
def test_every_setting_is_documented(setting: str) -> None:
    assert re.search(rf"`{re.escape(setting)}`", README)


def test_readme_gives_the_two_commands() -> None:
    assert "make demo" in README and "make test" in README


def test_exit_codes_are_documented() -> None:
    for code in ("0", "1", "2", "3", "130"):
        assert re.search(rf"\|\s*{code}\s*\|", README)
