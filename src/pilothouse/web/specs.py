"""Chart specs for `static/charts.js`, built from the data functions' dicts: what each
chart draws is chosen here, in Python, never in a template."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

Number = float | int | None


def day_axis(days: Sequence[str | date]) -> list[int]:
    """Unix seconds of each day's midnight UTC (days as dates or ISO strings)."""
    return [
        int(datetime.combine(date.fromisoformat(str(day)), time(), tzinfo=UTC).timestamp())
        for day in days
    ]


def series(label: str, values: Sequence[Number], unit: str = "") -> dict[str, Any]:
    return {"label": label, "values": list(values), "unit": unit}


def spec(
    kind: str,
    x: Sequence[int],
    drawn: Sequence[dict[str, Any]],
    lines: Sequence[tuple[str, float]] = (),
    marks: Sequence[tuple[int, str]] = (),
) -> dict[str, Any]:
    """One chart: *kind* (line, bars, stacked, sparkline), the x axis, the series drawn,
    horizontal *lines* (label, value) and vertical *marks* (x, label)."""
    found: dict[str, Any] = {
        "kind": kind,
        "x": list(x),
        "series": list(drawn),
        "lines": [{"label": label, "value": value} for label, value in lines],
    }
    if marks:
        found["marks"] = [{"x": at, "label": label} for at, label in marks]
    return found


def minutes(seconds: Number) -> float | None:
    """Seconds as minutes for a chart's axis (2 decimals)."""
    return None if seconds is None else round(float(seconds) / 60.0, 2)
