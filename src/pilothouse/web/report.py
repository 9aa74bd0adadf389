"""`pilothouse report --html`: the scorecard, tests and costs as one HTML file that makes
no request (styles, scripts and data inline), for mail or a CI artifact.

The data is what `score`, `report`, `flaky` and `cost` print with `--json`, capped to
the first *limit* rows of each list; the sections are rendered with the dashboard's own
partial templates and drawn by its own `charts.js`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

from markupsafe import Markup

from pilothouse import __version__
from pilothouse.analysis import scorecard as card
from pilothouse.cli import cost as cost_cli
from pilothouse.cli import flaky as flaky_cli
from pilothouse.cli import reports as reports_cli
from pilothouse.cli import score as score_cli
from pilothouse.cli.output import json_text
from pilothouse.cli.state import State
from pilothouse.cli.window import Window, results_note
from pilothouse.store import Store
from pilothouse.web import sections
from pilothouse.web.app import templates

UPLOT = ("vendor", "uplot")
# What would end an inline <script> or <style> element early.
_CLOSING = re.compile(r"</(script|style)", re.IGNORECASE)
FLAKY_LISTS = ("flaky", "broken", "platform", "outages")


@dataclass(frozen=True, slots=True)
class Scope:
    """What the report reads: the tests' window, the scorecard's days (None: the
    configured targets.window_days), the cost days, and the rows per list."""

    tests: Window
    score_days: int | None
    cost_days: list[date]
    limit: int


def _static(*parts: str) -> str:
    return resources.files("pilothouse.web").joinpath("static", *parts).read_text("utf-8")


def _inline(text: str, name: str) -> Markup:
    """*text* as the body of an inline <script>/<style>: it must not close the element."""
    if _CLOSING.search(text):
        raise ValueError(f"{name} cannot be inlined: it holds a closing </script> or </style>")
    return Markup(text)  # our own packaged files, checked above


def inline_assets() -> dict[str, Markup]:
    """The packaged CSS and JavaScript the report inlines; uPlot keeps its licence."""
    licence = _static(*UPLOT, "LICENSE")
    if "*/" in licence:
        raise ValueError("uPlot's LICENSE cannot sit in a /* */ comment")
    uplot = f"/*! uPlot 1.6.32, https://github.com/leeoniya/uPlot\n{licence}\n*/\n"
    return {
        "uplot_js": _inline(uplot + _static(*UPLOT, "uPlot.iife.min.js"), "uPlot.iife.min.js"),
        "uplot_css": _inline(_static(*UPLOT, "uPlot.min.css"), "uPlot.min.css"),
        "style_css": _inline(_static("style.css"), "style.css"),
        "charts_js": _inline(_static("charts.js"), "charts.js"),
    }


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """*data* as the JSON `--json` writes, read back (datetimes as ISO text)."""
    plain: dict[str, Any] = json.loads(json_text(data, indent=None))
    return plain


def _capped_flaky(flaky: dict[str, Any], limit: int) -> dict[str, Any]:
    """`flaky --json` with each list cut to *limit* and without the per-failure
    evidence (the file stays small); the totals say how many there are."""
    capped = {key: flaky[key][:limit] for key in FLAKY_LISTS}
    capped["flaky"] = [
        {key: value for key, value in item.items() if key != "evidence"} for item in capped["flaky"]
    ]
    totals = {key: len(flaky[key]) for key in (*FLAKY_LISTS, "candidates")}
    return {**capped, "pass_rate": flaky["pass_rate"], "totals": totals}


def _fold_groups(groups: dict[str, str], shown: list[str]) -> dict[str, str]:
    """A day's spend per group, the groups not *shown* summed as "other"."""
    amounts = {group: Decimal(0) for group in shown}
    for group, amount in groups.items():
        key = group if group in amounts else sections.OTHER
        amounts[key] += Decimal(amount)
    return {group: str(amount) for group, amount in amounts.items() if amount}


def _capped_costs(costs: dict[str, Any], limit: int) -> dict[str, Any]:
    """`cost --json` with the groups cut to *limit* and each day's groups folded
    into the ones the spend chart stacks."""
    currencies = {}
    for currency, data in costs["currencies"].items():
        shown = sections.chart_groups(data["by_group"])
        currencies[currency] = {
            **data,
            "by_group": dict(list(data["by_group"].items())[:limit]),
            "groups_total": len(data["by_group"]),
            "chart_groups": shown,
            "daily": [
                {**day, "groups": _fold_groups(day["groups"], shown)} for day in data["daily"]
            ],
        }
    return {**costs, "currencies": currencies}


def report_data(
    store: Store, state: State, scope: Scope, scorecard: card.Scorecard
) -> dict[str, Any]:
    """The report's data: each part built by the function behind its command's `--json`
    (*scorecard*: `scorecard_now`, whose dict `score --json` prints)."""
    trend = score_cli.score_trend(store, state, scorecard)
    tests = reports_cli.report_data(store, state, scope.tests, limit=scope.limit)
    tests.pop("store")  # the store's URL: shown in the header, not data
    return _plain(
        {
            "generated_at": state.now(),
            "limit": scope.limit,
            "window": scope.tests.label,
            "score": scorecard.as_dict(),
            "trend": [{"start": start, "values": values} for start, values in trend],
            "tests": tests,
            "flaky": _capped_flaky(flaky_cli.flaky_data(store, state, scope.tests), scope.limit),
            "costs": _capped_costs(cost_cli.cost_data(store, state, scope.cost_days), scope.limit),
        }
    )


def _trend_of(data: dict[str, Any]) -> score_cli.Trend:
    return [(datetime.fromisoformat(point["start"]), point["values"]) for point in data["trend"]]


def render_report(store: Store, state: State, scope: Scope) -> str:
    """The whole HTML file."""
    scorecard = score_cli.scorecard_now(store, state, window_days=scope.score_days)
    data = report_data(store, state, scope, scorecard)
    tests = sections.tests_section(
        data["tests"],
        data["flaky"],
        target_percent=float(state.config["targets.pass_rate_percent"]),
        limit=scope.limit,
    )
    if not data["tests"]["totals"]["tests"]:
        tests["note"] = results_note(store, scope.tests)
    costs = sections.costs_section(
        data["costs"],
        limit=scope.limit,
        empty_note=cost_cli.empty_window_note(scope.cost_days, store.cost_range()),
    )
    return (
        templates()
        .get_template("report.html")
        .render(
            nav=(),
            path="",
            window=None,
            assets=inline_assets(),
            generated=f"{state.now():%Y-%m-%d %H:%M} UTC",
            store=store.description,
            version=__version__,
            scorecard=sections.scorecard_section(scorecard, _trend_of(data), state.now()),
            tests=tests,
            tests_window=scope.tests.label,
            costs=costs,
            data=data,
        )
    )
