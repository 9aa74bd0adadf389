"""What every route receives: the store, the state (settings and clock) and the window
(`?days=N`) it reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from pilothouse.cli.state import State
from pilothouse.cli.window import Window as ReadWindow
from pilothouse.cli.window import resolve_window
from pilothouse.store import Store

# The window selector's choices; the configured default (targets.window_days) is added.
WINDOW_DAYS = (7, 30, 90, 365)


def store_of(request: Request) -> Store:
    store = request.app.state.store
    assert isinstance(store, Store), "create_app stores the store"
    return store


def state_of(request: Request) -> State:
    state = request.app.state.state
    assert isinstance(state, State), "create_app stores the state"
    return state


@dataclass(frozen=True, slots=True)
class Window:
    """The days a page reads, up to *now*, and the choices the selector offers."""

    days: int
    now: datetime
    choices: tuple[int, ...]

    @property
    def since(self) -> datetime:
        return self.now - timedelta(days=self.days)

    @property
    def read(self) -> ReadWindow:
        """The same days as the commands' `--window N`, for their data functions."""
        return resolve_window(self.now, days=self.days, since=None, default_days=None)


def window_choices(state: State) -> tuple[int, ...]:
    return tuple(sorted({*WINDOW_DAYS, default_days(state)}))


def default_days(state: State) -> int:
    return int(state.config["targets.window_days"])


def parse_days(text: str | None, state: State) -> int:
    """`?days=N` as one of the selector's choices (none: the default); a clear 422
    on anything else."""
    choices = window_choices(state)
    if text is None or text == "":
        return default_days(state)
    days = int(text) if text.strip().isdigit() else None
    if days not in choices:
        allowed = ", ".join(str(c) for c in choices)
        raise HTTPException(422, f"days must be one of {allowed} (got {text[:20]!r})")
    return days


def window_of(
    request: Request,
    days: Annotated[str | None, Query(description="Days to read, up to now.")] = None,
) -> Window:
    state = state_of(request)
    return Window(parse_days(days, state), state.now(), window_choices(state))


StoreDep = Annotated[Store, Depends(store_of)]
StateDep = Annotated[State, Depends(state_of)]
WindowDep = Annotated[Window, Depends(window_of)]
