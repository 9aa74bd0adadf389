"""The sections of a routine's report, each from the `--json` document of the command
that owns its numbers (`cost`, `cost alerts`, `score`, `flaky`, `report`, `changes`,
`release notes`): pure, dicts in, a Section out. What needs a human goes into the
section's `attention`, the rest into its `lines`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pilothouse.cli.changes import anomaly_line, change_line
from pilothouse.model import RepositorySync
from pilothouse.routines.model import Section

# Lists in a section stop after this many entries (the data holds them all).
MAX_LISTED = 10


def _limited(lines: Sequence[str], what: str) -> list[str]:
    shown = list(lines[:MAX_LISTED])
    if len(lines) > MAX_LISTED:
        shown.append(f"... and {len(lines) - MAX_LISTED} more {what}")
    return shown


def _at(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


# -- daily -------------------------------------------------------------------------------


def spend_vs_limit(cost: Mapping[str, Any], alerts: Mapping[str, Any], currency: str) -> Section:
    """Yesterday's spend (the last whole day) and today's so far against the daily
    alert limit; the budget alerts not yet delivered need a human."""
    report = cost["currencies"].get(currency)
    new_alerts = [a["text"] for a in alerts["alerts"] if a["new"]]
    data = {"cost": dict(cost), "alerts": dict(alerts)}
    if report is None:
        lines = ["no cost data in the window: pilothouse ingest cost PATH --format ..."]
        return Section("cost", "Cost against the alert limit", tuple(lines), tuple(new_alerts),
                       data)  # fmt: skip
    limit = Decimal(report["alert_limit"])
    daily = report["daily"]
    attention = list(new_alerts)
    lines = []
    if len(daily) >= 2:
        day, spent = daily[-2]["day"], Decimal(daily[-2]["total"])
        text = f"{day}: {spent} {currency} (alert limit {limit})"
        (attention if spent > limit else lines).append(
            text + (" over the limit" if spent > limit else "")
        )
    forecast = report["forecast"]
    lines += [
        f"today so far: {report['today']} {currency}",
        f"month-end forecast {forecast['month_end']} {currency} "
        f"[{forecast['interval'][0]} .. {forecast['interval'][1]}]",
    ]
    return Section("cost", "Cost against the alert limit", tuple(lines), tuple(attention), data)


def sync_watchdog(
    syncs: Sequence[RepositorySync],
    newest_run: datetime | None,
    now: datetime,
    *,
    max_hours: float,
    failures: Sequence[tuple[str, str, datetime, str]] = (),
) -> Section:
    """A watchdog over the store's freshness: a sync that failed after the repository's
    last complete sync (*failures*: provider, repository, when, why), a repository whose
    last complete sync is older than *max_hours* (its sync failed or did not run), a
    newest stored run older than that (nothing arrives), runs a sync left unfinished."""
    attention: list[str] = []
    lines: list[str] = []
    synced = {(item.provider, item.repository): item.synced_at for item in syncs}
    for provider, repository, at, why in failures:
        last = synced.get((provider, repository))
        if last is None or at > last:
            attention.append(f"{repository}: the sync at {at:%Y-%m-%d %H:%M} failed: {why}")
    limit = max_hours * 3600
    for item in syncs:
        if item.synced_at is None:  # runs from reports alone: the newest run tells
            lines.append(f"{item.repository}: no complete sync stored")
            continue
        age = max((now - item.synced_at).total_seconds(), 0.0)
        text = f"{item.repository}: last complete sync {_hours(age)} ago"
        if age > limit:
            attention.append(f"{text}, over {max_hours:g} h: the sync failed or did not run")
        else:
            lines.append(text)
        if item.unfinished_runs:
            lines.append(f"{item.repository}: {item.unfinished_runs} runs stored unfinished")
    if newest_run is None:
        attention.append("no run stored at all: pilothouse ingest github --repo OWNER/NAME")
    else:
        age = max((now - newest_run).total_seconds(), 0.0)
        text = f"newest stored run created {newest_run:%Y-%m-%d %H:%M} ({_hours(age)} ago)"
        if age > limit:
            attention.append(f"{text}: nothing new for over {max_hours:g} h")
        else:
            lines.append(text)
    data = {
        "max_hours": max_hours,
        "newest_run": newest_run,
        "repositories": [item._asdict() for item in syncs],
        "failures": [
            {"provider": p, "repository": r, "failed_at": at, "message": m}
            for p, r, at, m in failures
        ],
    }
    return Section("freshness", "Sync freshness", tuple(lines), tuple(attention), data)


def failing_tests(
    report: Mapping[str, Any], flaky: Mapping[str, Any], *, newly_since: datetime
) -> Section:
    """Tests failing now, tests broken (failing on consecutive commits) and tests that
    became flaky since *newly_since*: each needs a human; the rest is counted."""
    totals = report["totals"]
    failing_now = [t for t in report["failing"] if t["last_outcome"] in ("failed", "error")]
    broken = [b for b in flaky["broken"] if b["status"] == "failing"]
    newly = [f for f in flaky["flaky"] if (_at(f["first_seen"]) or newly_since) >= newly_since]
    attention = [
        *_limited([f"failing now: {_name(t)}" for t in failing_now], "failing tests"),
        *_limited(
            [f"broken since {b['first_commit'] or '?'}: {b['test']}" for b in broken],
            "broken tests",
        ),  # fmt: skip
        *_limited(
            [f"newly flaky: {f['test']} (score {f['score']:.2f})" for f in newly], "flaky tests"
        ),  # fmt: skip
    ]
    lines = [
        f"{totals['tests']} tests ran, {totals['failing']} failed at least once, "
        f"{totals['failing_now']} failing now",
        f"{len(flaky['flaky'])} flaky tests ({len(newly)} new), {len(broken)} broken, "
        f"{len(flaky['outages'])} outages set aside",
    ]
    data = {"report": dict(report), "flaky": dict(flaky)}
    return Section("tests", "Failing and flaky tests", tuple(lines), tuple(attention), data)


def _name(test: Mapping[str, Any]) -> str:
    return f"{test['classname']}::{test['name']}" if test.get("classname") else str(test["name"])


def no_infrastructure_data() -> Section:
    """What the infra section says until infrastructure data is wired in."""
    return Section("infra", "Infrastructure", ("no infrastructure data",))


# -- weekly ------------------------------------------------------------------------------

_UNITS = {"min": " min", "%": " %", "MB": " MB", "workflows": ""}


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    return f"{value:g}{_UNITS.get(unit, ' ' + unit)}"


def performance(score: Mapping[str, Any]) -> Section:
    """Each scorecard criterion now and in the window before; a missed one needs a human."""
    lines: list[str] = []
    attention: list[str] = []
    for item in score["criteria"]:
        text = (
            f"{item['title']}: {_value(item['value'], item['unit'])} (previous "
            f"{_value(item['previous'], item['unit'])}; target {item['comparison']} "
            f"{item['target']:g}): {item['status']}"
        )
        (attention if item["status"] == "missed" else lines).append(text)
    title = f"Performance against the targets, last {score['window_days']} days"
    return Section("performance", title, tuple(lines), tuple(attention), dict(score))


def recent_changes(changes: Mapping[str, Any], since: date) -> Section:
    """Level shifts that started on or after *since* (a regression needs a human) and
    the one-day anomalies of the period."""
    recent = [c for c in changes["changes"] if date.fromisoformat(c["day"]) >= since]
    odd = [a for a in changes["anomalies"] if date.fromisoformat(a["day"]) >= since]
    attention = _limited([change_line(c) for c in recent if c["verdict"] == "regression"],
                         "regressions")  # fmt: skip
    lines = [
        *_limited(
            [change_line(c) for c in recent if c["verdict"] != "regression"], "improvements"
        ),  # fmt: skip
        *_limited([anomaly_line(a) for a in odd], "anomalies"),
    ]
    if not recent and not odd:
        lines.append(f"no level shift or anomaly since {since} in {len(changes['series'])} series")
    data = {**changes, "changes": recent, "anomalies": odd}
    return Section("changes", "Changes in the pipeline", tuple(lines), tuple(attention), data)


def _total(report: Mapping[str, Any], first: date, last: date) -> Decimal:
    return sum(
        (Decimal(row["total"]) for row in report["daily"]
         if first <= date.fromisoformat(row["day"]) <= last),
        Decimal(0),
    )  # fmt: skip


def cost_tracking(
    cost: Mapping[str, Any],
    alerts: Mapping[str, Any],
    currency: str,
    *,
    days: int,
    monthly_budget: float,
) -> Section:
    """Spend of the last *days* whole days against the *days* before, the month-end
    forecast against the monthly budget (above it needs a human), undelivered alerts."""
    report = cost["currencies"].get(currency)
    attention = [a["text"] for a in alerts["alerts"] if a["new"]]
    data = {"cost": dict(cost), "alerts": dict(alerts)}
    if report is None:
        return Section("cost", "Cost tracking", ("no cost data in the window",),
                       tuple(attention), data)  # fmt: skip
    last = date.fromisoformat(cost["until"]) - timedelta(days=1)
    now = _total(report, last - timedelta(days=days - 1), last)
    before = _total(report, last - timedelta(days=2 * days - 1), last - timedelta(days=days))
    change = f" ({(now - before) / before:+.0%})" if before else ""
    forecast = report["forecast"]
    lines = [
        f"last {days} days to {last}: {now} {currency}; the {days} before: {before}{change}",
        *(f"moved: {m['group']} {m['before']} -> {m['after']} per day" for m in report["movers"]),
    ]
    text = (
        f"month-end forecast {forecast['month_end']} {currency} [{forecast['interval'][0]} .. "
        f"{forecast['interval'][1]}], monthly budget {monthly_budget:g}"
    )
    over = Decimal(forecast["month_end"]) > Decimal(str(monthly_budget))
    (attention if over else lines).append(text + (": over the budget" if over else ""))
    return Section("cost", "Cost tracking", tuple(lines), tuple(attention), data)


# -- monthly -----------------------------------------------------------------------------


def whatifs(result: Mapping[str, Any] | None, note: str) -> Section:
    """The saved what-if scenarios (whatif.scenarios) priced on the period's spend."""
    if result is None:
        return Section("whatif", "What-if savings", (note,))
    lines = [f"baseline {result['baseline_daily']} {result['currency']} per day "
             f"(target {result['target_daily']}), {result['days']} days"]  # fmt: skip
    lines += [
        f"{s['name']}: {s['daily']} per day, saves {s['saving_per_day']}"
        + (" (meets the target)" if s["meets_target"] else "")
        for s in result["scenarios"]
    ]
    return Section("whatif", "What-if savings", tuple(lines), (), dict(result))


def changelog(release: Mapping[str, Any] | None, note: str, markdown: str = "") -> Section:
    """The month's commits as release notes (Conventional Commits, grouped by type)."""
    if release is None:
        return Section("changelog", "Changelog of the period", (note,))
    commits = release["commits"]
    lines = [f"{len(commits)} commits ({note})"]
    lines += [line for line in markdown.splitlines() if line.strip()]
    return Section("changelog", "Changelog of the period", tuple(lines), (), dict(release))


# -- quarterly ---------------------------------------------------------------------------


def capacity(periods: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> Section:
    """Runner capacity per period: per runner label set, jobs, busy runner hours and
    queue p90; a p90 that doubled from the first period to the last needs a human."""
    lines: list[str] = []
    first: dict[str, float] = {}
    attention: list[str] = []
    for name, labels in periods:
        for item in labels:
            p90 = item["queue_p90_seconds"]
            lines.append(
                f"{name}: {item['labels']}: {item['jobs']} jobs, "
                f"{item['busy_hours']:.1f} runner hours, queue p90 "
                + ("-" if p90 is None else f"{p90:g} s")
            )
            if p90 is not None:
                first.setdefault(item["labels"], p90)
    if periods:
        for item in periods[-1][1]:
            start, p90 = first.get(item["labels"]), item["queue_p90_seconds"]
            if start and p90 is not None and p90 > 2 * start and p90 > 60:
                attention.append(f"{item['labels']}: queue p90 {start:g} s -> {p90:g} s")
    if not lines:
        lines.append("no jobs stored in the period")
    data = {"periods": [{"period": n, "labels": list(ls)} for n, ls in periods]}
    return Section("capacity", "Runner capacity", tuple(lines), tuple(attention), data)


def budget_forecast(cost: Mapping[str, Any], currency: str, *, monthly_budget: float) -> Section:
    """Spend per calendar month of the period and the month-end forecast against the
    monthly budget (a forecast above it needs a human)."""
    report = cost["currencies"].get(currency)
    if report is None:
        return Section("budget", "Budget forecast", ("no cost data in the period",))
    months: dict[str, Decimal] = {}
    for row in report["daily"]:
        key = row["day"][:7]
        months[key] = months.get(key, Decimal(0)) + Decimal(row["total"])
    lines = [f"{month}: {total} {currency}" for month, total in months.items()]
    forecast = report["forecast"]
    text = (
        f"this month's forecast {forecast['month_end']} {currency} [{forecast['interval'][0]} .. "
        f"{forecast['interval'][1]}], trend {forecast['trend_per_day']:+g} per day; monthly "
        f"budget {monthly_budget:g}"
    )
    over = Decimal(forecast["month_end"]) > Decimal(str(monthly_budget))
    attention = [text + ": over the budget"] if over else []
    if not over:
        lines.append(text)
    data = {"months": {m: str(t) for m, t in months.items()}, "forecast": forecast}
    return Section("budget", "Budget forecast", tuple(lines), tuple(attention), data)


def infra_section(data: dict[str, Any]) -> Section | None:
    """The infra section from `infra --json` (*data*): each instance and group with its
    utilisation and advice; a failed status check, an instance not running and an
    offline runner need a human. None when the store holds no infrastructure."""
    resources = [*data.get("groups", []), *data.get("instances", [])]
    runners = data.get("runners", [])
    if not resources and not runners:
        return None
    lines, attention = [], []
    for item in resources:
        cpu = item.get("cpu_percent") or {}
        usage = "no CPU points" if not cpu else f"CPU p95 {cpu.get('p95', 0):.0f} %"
        advice = []
        if item.get("weekdays_only"):
            advice.append("weekdays only")
        if item.get("rightsize_to"):
            advice.append(f"right-size to {item['rightsize_to']}")
        kind = item.get("instance_type") or item.get("kind")
        line = f"{item['name'] or item['key']} ({kind}, {item.get('state') or 'unknown'}): {usage}"
        if item.get("idle_hours") is not None:
            line += f", idle {item['idle_hours']:.0f} of {item['hours']:.0f} h"
        lines.append(line + (f"; {', '.join(advice)}" if advice else ""))
        if item.get("status_check_failed"):
            attention.append(f"{item['name'] or item['key']}: a status check failed")
        if item.get("kind") != "group" and item.get("state") not in (None, "running"):
            attention.append(f"{item['name'] or item['key']} is {item['state']}")
    offline = [r["name"] for r in runners if r.get("status") == "offline"]
    if runners:
        busy = sum(1 for r in runners if r.get("busy"))
        lines.append(f"{len(runners)} self-hosted runners: {busy} busy, {len(offline)} offline")
    attention += [f"runner {name} is offline" for name in offline]
    return Section("infra", "Infrastructure", tuple(lines), tuple(attention), data)
