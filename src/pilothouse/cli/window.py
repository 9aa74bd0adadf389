"""The time window of the read commands (`flaky`, `tests`, `runs`, `report`), and what
to say when it holds nothing although the store has data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from pilothouse.config import MAX_WINDOW_DAYS
from pilothouse.store import Store

WindowOption = Annotated[
    int | None,
    typer.Option(
        "--window", min=1, max=MAX_WINDOW_DAYS, help="Days of history to read, up to now."
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since", help="Read history from this date (YYYY-MM-DD, UTC) or ISO 8601 time on."
    ),
]


@dataclass(frozen=True, slots=True)
class Window:
    """From when history is read (None: all of it), and how to say so."""

    since: datetime | None
    label: str


ALL_HISTORY = Window(None, "all history")


def _parse_since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD) or ISO 8601 time", param_hint="--since"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def resolve_window(
    now: datetime, *, days: int | None, since: str | None, default_days: int | None
) -> Window:
    """The window from `--window DAYS` or `--since DATE` (not both), else the default
    (*default_days*, or all history when None)."""
    if days is not None and since is not None:
        raise typer.BadParameter("--window and --since exclude each other", param_hint="--since")
    if since is not None:
        start = _parse_since(since)
        return Window(start, f"since {_day_or_time(start)}")
    days = days if days is not None else default_days
    if days is None:
        return ALL_HISTORY
    start = now - timedelta(days=days)
    span = "day" if days == 1 else f"{days} days"
    return Window(start, f"in the last {span} (since {_day_or_time(start)})")


def _day_or_time(value: datetime) -> str:
    midnight = value.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if value == midnight:
        return f"{value.astimezone(UTC):%Y-%m-%d}"
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"


def empty_window_note(
    what: str, window: Window, stored: tuple[datetime, datetime] | None, add_hint: str = ""
) -> str:
    """One line for a window with nothing in it: what the store holds, and the flag
    that shows it.

    >>> from datetime import UTC, datetime
    >>> w = Window(datetime(2026, 11, 1, tzinfo=UTC), "since 2026-11-01")
    >>> stored = (datetime(2026, 8, 3, 9, tzinfo=UTC), datetime(2026, 9, 30, 17, tzinfo=UTC))
    >>> print(empty_window_note("test results", w, stored, ""))  # doctest: +NORMALIZE_WHITESPACE
    No test results since 2026-11-01; the store holds test results from 2026-08-03 to
    2026-09-30: `--since 2026-08-03` shows them.
    """
    if stored is None:
        return f"No {what} stored yet{add_hint}."
    first, last = (f"{value.astimezone(UTC):%Y-%m-%d}" for value in stored)
    return (
        f"No {what} {window.label}; the store holds {what} from {first} to {last}: "
        f"`--since {first}` shows them."
    )


def results_note(store: Store, window: Window) -> str:
    """What to say when *window* holds no test result."""
    stored = store.run_range(with_results=True)
    hint = ": `pilothouse ingest junit PATH` adds them"
    return empty_window_note("test results", window, stored, hint)
