"""Rendering helpers shared by commands: JSON on stdout, Rich tables, durations."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from rich.console import Console

# Rich assumes 80 columns when writing to a file or pipe; logs and CI pages are wider.
PIPE_WIDTH = 160


def stdout_console() -> Console:
    """A console for human output on stdout; wide when not a terminal."""
    width = None if sys.stdout.isatty() else PIPE_WIDTH
    return Console(file=sys.stdout, highlight=False, soft_wrap=False, width=width)


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, default=_default, ensure_ascii=False) + "\n")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def seconds(value: float | None) -> str:
    """Human duration: 0.25s, 12.3s, 4m05s, 1h02m."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.2f}s" if value < 10 else f"{value:.1f}s"
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def nextest_filterset(tests: tuple[str, ...]) -> str:
    """A nextest filterset selecting exactly these tests (`cargo nextest run -E ...`)."""

    def quote(text: str) -> str:
        escaped = text
        for char in ("\\", ")", ","):
            escaped = escaped.replace(char, "\\" + char)
        return escaped

    parts = []
    for test in tests:
        binary, space, name = test.partition(" ")
        if space:
            parts.append(f"(binary_id({quote(binary)}) & test(={quote(name)}))")
        else:
            parts.append(f"test(={quote(test)})")
    return " | ".join(parts) if parts else "none()"
