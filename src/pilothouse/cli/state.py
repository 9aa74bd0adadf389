"""What every command receives: resolved settings, the environment, the clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pilothouse.config import Config, store_url

if TYPE_CHECKING:
    from pilothouse.store import Store


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class World:
    """What the CLI reads from outside: environment, working directory, clock.

    `run(..., world=...)` lets tests hand in their own.
    """

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = field(default_factory=Path.cwd)
    clock: Callable[[], datetime] = _utc_now


@dataclass(frozen=True)
class State:
    """Resolved settings plus the world: what every command receives."""

    config: Config
    world: World
    debug: bool = False

    @property
    def env(self) -> Mapping[str, str]:
        return self.world.env

    @property
    def cwd(self) -> Path:
        return self.world.cwd

    def now(self) -> datetime:
        return self.world.clock()

    @property
    def store_url(self) -> str:
        """The configured store; a relative SQLite path is relative to the working directory."""
        return store_url(str(self.config["db"]), self.cwd)

    def open_store(self, *, create: bool = False) -> Store:
        """The store; only writing commands pass *create* (create or upgrade it)."""
        from pilothouse.store import Store  # SQLAlchemy: not for --help

        return Store.open(self.store_url, create=create)


def state_of(ctx: typer.Context) -> State:
    state = ctx.find_root().obj
    assert isinstance(state, State), "the root callback sets the state"
    return state
