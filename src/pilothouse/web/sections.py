"""What the scorecard, tests and costs sections show, built from the dicts the CLI's
`--json` prints (`score`, `report`, `flaky`, `cost`): tiles, table rows and chart specs.
Pure: the dashboard's pages and the one-file HTML report render the same sections with
the same partial templates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from pilothouse.analysis import scorecard as card
from pilothouse.cli import score as score_cli
from pilothouse.cli.output import percent, seconds, when

# The stacked spend chart shows this many groups; the rest are summed as "other".
CHART_GROUPS = 8
OTHER = "other"


def tile(item: card.Criterion, trend: score_cli.Trend) -> dict[str, Any]:
    """What one tile shows: the scorecard's own wording, and the trend as a sparkline."""
    return {
        "id": item.id,
        "title": item.title,
        "status": item.status,
        "status_label": score_cli.STATUS_LABEL[item.status],
        "value": score_cli.value_text(item),
        "target": score_cli.target_text(item),
        "previous": score_cli.amount_text(item.previous, item.unit),
        "samples": item.samples,
        "detail": item.detail,
        "trend": sparkline(item, trend),
    }


def sparkline(item: card.Criterion, trend: score_cli.Trend) -> dict[str, Any]:
    """The chart spec of one criterion's trend, its target as a line."""
    return {
        "kind": "sparkline",
        "x": [int(start.timestamp()) for start, _ in trend],
        "series": [
            {
                "label": item.title,
                "values": [values.get(item.id) for _, values in trend],
                "unit": item.unit,
            }
        ],
        "lines": [{"label": "target", "value": item.target}],
    }


def scorecard_section(
    scorecard: card.Scorecard, trend: score_cli.Trend, now: datetime
) -> dict[str, Any]:
    """The scorecard's headline numbers and its tiles."""
    score = scorecard.as_dict()
    return {
        "score": score,
        "tiles": [tile(item, trend) for item in scorecard.criteria],
        "now": f"{now:%Y-%m-%d %H:%M} UTC",
        "trend_windows": len(trend),
        "empty": not score["met"] and not score["missed"],
    }


def day_stamp(day: str) -> int:
    """Unix seconds of a YYYY-MM-DD day's midnight, UTC (a chart's x)."""
    return int(datetime.combine(date.fromisoformat(day), time(), tzinfo=UTC).timestamp())


def _test_name(item: dict[str, Any]) -> str:
    return f"{item['classname']}::{item['name']}" if item["classname"] else str(item["name"])


def test_row(item: dict[str, Any]) -> dict[str, Any]:
    """One test of `report --json` (`slowest`, `failing`) as a table row."""
    return {
        "test": _test_name(item),
        "runs": item["runs"],
        "pass_rate": percent(item["pass_rate"]),
        "failures": item["failures"],
        "median": seconds(item["median_seconds"]),
        "p90": seconds(item["p90_seconds"]),
        "last": item["last_outcome"],
        "failing_now": item["last_outcome"] in ("failed", "error"),
    }


def when_text(value: str | datetime | None) -> str:
    """A time of a `--json` dict, as the tables print it (ISO text or a datetime)."""
    return when(datetime.fromisoformat(value) if isinstance(value, str) else value)


def flaky_row(item: dict[str, Any]) -> dict[str, Any]:
    """One flaky test of `flaky --json` as a table row: its evidence, in short."""
    messages = item["messages"]
    return {
        "test": item["test"],
        "score": f"{item['score']:.2f}",
        "failures": f"{item['failures']} / {item['runs']}",
        "last_seen": when_text(item["last_seen"]),
        "message": messages[0]["message"] if messages else "",
    }


def pass_rate_chart(by_day: list[dict[str, Any]], target_percent: float) -> dict[str, Any]:
    """Daily pass rate with and without quarantined tests (`flaky --json` pass_rate)."""

    def series(key: str, label: str) -> dict[str, Any]:
        values = [None if day[key] is None else round(100 * day[key], 3) for day in by_day]
        return {"label": label, "values": values, "unit": "%"}

    return {
        "kind": "line",
        "x": [day_stamp(day["day"]) for day in by_day],
        "series": [
            series("with_quarantined", "with quarantined"),
            series("without_quarantined", "without quarantined"),
        ],
        "lines": [{"label": "target", "value": target_percent}],
    }


def tests_section(
    report: dict[str, Any], flaky: dict[str, Any], *, target_percent: float, limit: int
) -> dict[str, Any]:
    """Failing now, failing at all, slowest and flaky tests (the first *limit* of each),
    with the daily pass rate."""
    totals = report["totals"]
    overall = flaky["pass_rate"]["overall"]
    return {
        "totals": totals,
        "limit": limit,
        "counts": report["counts"],
        "failing": [test_row(item) for item in report["failing"][:limit]],
        "slowest": [test_row(item) for item in report["slowest"][:limit]],
        "flaky": [flaky_row(item) for item in flaky["flaky"][:limit]],
        "flaky_total": flaky.get("totals", {}).get("flaky", len(flaky["flaky"])),
        "broken": flaky["broken"][:limit],
        "outages": flaky["outages"][:limit],
        "pass_rate": {key: percent(value) for key, value in overall.items()},
        "pass_rate_chart": pass_rate_chart(flaky["pass_rate"]["by_day"], target_percent),
        "note": None,
    }


def _amount(text: str) -> float:
    return float(Decimal(text))


def chart_groups(by_group: dict[str, str], shown: int = CHART_GROUPS) -> list[str]:
    """The groups the spend chart stacks: the largest *shown* - 1 and "other", or all
    of them when they fit."""
    groups = list(by_group)
    return groups if len(groups) <= shown else [*groups[: shown - 1], OTHER]


def _day_groups(groups: dict[str, str], shown: list[str]) -> dict[str, float]:
    amounts = {group: 0.0 for group in shown}
    for group, amount in groups.items():
        key = group if group in amounts else OTHER
        amounts[key] = round(amounts[key] + _amount(amount), 2)
    return amounts


def spend_chart(currency: str, data: dict[str, Any]) -> dict[str, Any]:
    """Daily spend stacked by group, with the target and the alert limit as lines."""
    shown = data.get("chart_groups") or chart_groups(data["by_group"])
    days = [_day_groups(day["groups"], shown) for day in data["daily"]]
    lines = [
        {"label": label, "value": _amount(data[key])}
        for key, label in (("target", "target"), ("alert_limit", "alert limit"))
        if key in data
    ]
    return {
        "kind": "stacked",
        "x": [day_stamp(day["day"]) for day in data["daily"]],
        "series": [
            {"label": group, "values": [day[group] for day in days], "unit": currency}
            for group in shown
        ],
        "lines": lines,
    }


def _group_rows(data: dict[str, Any], limit: int) -> list[dict[str, str]]:
    total = Decimal(data["total"])
    return [
        {
            "group": group,
            "total": amount,
            "share": f"{Decimal(amount) / total:.0%}" if total > 0 else "",
        }
        for group, amount in list(data["by_group"].items())[:limit]
    ]


def currency_section(currency: str, data: dict[str, Any], limit: int) -> dict[str, Any]:
    """One currency of `cost --json`: its chart, totals, forecast, groups, movers and
    anomalies."""
    return {
        "currency": currency,
        "total": data["total"],
        "today": data["today"],
        "target": data.get("target"),
        "alert_limit": data.get("alert_limit"),
        "forecast": data.get("forecast"),
        "billed_through": data["billed_through"],
        "lagging": list(data["lagging_sources"]),
        "chart": spend_chart(currency, data),
        "groups": _group_rows(data, limit),
        "groups_total": data.get("groups_total", len(data["by_group"])),
        "movers": data["movers"][:limit],
        "anomalies": data["anomalies"][:limit],
    }


def costs_section(costs: dict[str, Any], *, limit: int, empty_note: str) -> dict[str, Any]:
    """Every currency of `cost --json` (never summed together), or *empty_note*."""
    return {
        "since": costs["since"],
        "until": costs["until"],
        "by": costs["by"],
        "limit": limit,
        "currencies": [
            currency_section(currency, data, limit)
            for currency, data in costs["currencies"].items()
        ],
        "note": None if costs["currencies"] else empty_note,
    }
