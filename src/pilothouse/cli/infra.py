"""`pilothouse infra`: instances and Auto Scaling groups (state, type, CPU and memory
p50/p95, idle hours, what weekday-only provisioning and right-sizing would save),
self-hosted runners and the queues of their labels, sync freshness. `infra_data` is
also the dashboard's Infrastructure page and `/api/infra`."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.text import Text

from pilothouse.analysis import pipelines as flow
from pilothouse.cli.output import Col, fitted_table, percent, print_json, seconds, stdout_console
from pilothouse.cli.state import State, state_of
from pilothouse.cli.window import SinceOption, WindowOption, resolve_window
from pilothouse.infra import report
from pilothouse.infra.model import GROUP, Runner
from pilothouse.model import JobTimes, RepositorySync
from pilothouse.store import Store
from pilothouse.store.scorecard import Span

DEFAULT_WINDOW_DAYS = 14
CLOUDWATCH_HINT = "pilothouse ingest cloudwatch"
RUNNERS_HINT = "pilothouse ingest runners --repo OWNER/NAME"


def thresholds_of(state: State) -> report.Thresholds:
    return report.Thresholds(float(state.config["infra.idle_cpu_percent"]),
                             float(state.config["infra.target_cpu_percent"]))  # fmt: skip


def infra_statuses(
    store: Store, state: State, since: datetime, until: datetime
) -> list[report.Status]:
    """Every stored instance and group with its utilisation over [since, until)."""
    thresholds = thresholds_of(state)
    stats = store.infra_stats(since, until, idle_below=thresholds.idle_cpu)
    stored = [(item.resource, item.seen_at) for item in store.infra_resources()]
    return report.statuses(stored, stats, state.config["cost.instance_prices"], thresholds)


def _repository(item: RepositorySync, now: datetime) -> dict[str, Any]:
    status, age = flow.sync_freshness(item.synced_at, now)
    return {
        "provider": item.provider,
        "repository": item.repository,
        "last_sync": item.synced_at,
        "age_seconds": age,
        "status": status,
        "synced_through": item.cursor,
        "runs": item.runs,
        "last_run_at": item.last_run_at,
        "unfinished_runs": item.unfinished_runs,
        "expired_logs": item.expired_logs,
    }


def _labels(jobs: list[JobTimes], runners: list[Runner]) -> list[dict[str, Any]]:
    """Each runner label set's jobs and queue time, with the runners that can take them."""
    found = []
    for queue in flow.label_queues(jobs):
        asked = [] if queue.labels == "(no label)" else queue.labels.split(", ")
        found.append({**queue.as_dict(), "runners": report.runners_for(asked, runners)})
    return found


def infra_data(
    store: Store,
    state: State,
    *,
    window_days: int | None = None,
    since: datetime | None = None,
) -> dict[str, Any]:
    """`infra --json` and the Infrastructure page over the last *window_days* (or from
    *since*): instances and groups with their utilisation, idle hours and savings; the
    runners and each label set's queue; sync freshness and workflows."""
    now = state.now()
    start = since if since is not None else now - timedelta(days=window_days or DEFAULT_WINDOW_DAYS)
    days = window_days if since is None else max(1, math.ceil((now - start) / timedelta(days=1)))
    statuses = infra_statuses(store, state, start, now)
    runners = store.runners()
    jobs = store.job_times(start)
    day_list = flow.days_between(start.date(), now.date())
    activity = store.workflow_activity(Span(start))
    stored = store.infra_range()
    thresholds = thresholds_of(state)
    return {
        "window_days": days,
        "since": start,
        "until": now,
        "thresholds": {
            "idle_cpu_percent": thresholds.idle_cpu,
            "target_cpu_percent": thresholds.target_cpu,
        },  # fmt: skip
        "metrics_stored": None if stored is None else {"first": stored[0], "last": stored[1]},
        "groups": [report.status_dict(s) for s in statuses if s.resource.kind == GROUP],
        "instances": [report.status_dict(s) for s in statuses if s.resource.kind != GROUP],
        "saving_per_day": report.total_saving(statuses),
        "runners": [report.runner_dict(item.runner, item.seen_at) for item in runners],
        "repositories": [_repository(item, now) for item in store.repository_syncs()],
        "labels": _labels(jobs, [item.runner for item in runners]),
        "queue_daily": {
            "days": [day.isoformat() for day in day_list],
            "labels": flow.daily_label_queues(jobs, day_list),
        },
        "workflows": [
            {"name": w.name, "path": w.path, "state": w.state, "runs": w.runs} for w in activity
        ],
        "workflow_states": dict(sorted(Counter(w.state for w in activity).items())),
    }


# -- rendering --------------------------------------------------------------------------------

RESOURCE_COLUMNS = (
    Col("instance or group", fold=True, min_width=16),
    Col("state", drop=5),
    Col("type", drop=4),
    Col("cpu p50", "right", drop=3),
    Col("cpu p95", "right"),
    Col("mem p95", "right", drop=2),
    Col("idle h", "right"),
    Col("advice", fold=True, min_width=14, prose=True),
)


def _pct(metric: dict[str, Any] | None, key: str) -> str:
    return "-" if metric is None else percent(metric[key] / 100)


def _advice(row: dict[str, Any], currency: str) -> str:
    saving = row["saving_per_day"]
    parts = []
    if row["weekdays_only"]:
        amount = saving["weekdays_only"]
        parts.append("weekdays only" + (f" (-{amount:.2f} {currency}/day)" if amount else ""))
    if row["rightsize_to"]:
        amount = saving["rightsize"]
        parts.append(
            f"-> {row['rightsize_to']}" + (f" (-{amount:.2f} {currency}/day)" if amount else "")
        )
    if row["status_check_failed"]:
        parts.append("status check failed")
    return "; ".join(parts)


def _resource_rows(rows: list[dict[str, Any]], currency: str) -> list[list[str | Text]]:
    return [
        [
            Text(row["name"] if row["name"] == row["key"] else f"{row['name']} ({row['key']})"),
            row["state"],
            row["instance_type"],
            _pct(row["cpu_percent"], "p50"),
            _pct(row["cpu_percent"], "p95"),
            _pct(row["memory_percent"], "p95"),
            "-" if row["idle_hours"] is None else f"{row['idle_hours']:.0f}/{row['hours']:.0f}",
            Text(_advice(row, currency)),
        ]
        for row in rows
    ]


RUNNER_COLUMNS = (
    Col("runner", fold=True, min_width=16),
    Col("status"),
    Col("labels", fold=True, min_width=16),
    Col("scope", drop=1, fold=True),
)
QUEUE_COLUMNS = (
    Col("runner labels", fold=True, min_width=20),
    Col("jobs", "right"),
    Col("queue p50", "right", drop=2),
    Col("queue p90", "right"),
    Col("runners idle/busy/offline", "right", drop=1),
)


def _render(data: dict[str, Any], state: State) -> None:
    console = stdout_console(state.env)
    width = console.width
    currency = str(state.config["cost.currency"]).upper()
    since = f"{data['since']:%Y-%m-%d %H:%M}"
    resources = data["groups"] + data["instances"]
    if resources:
        title = (f"Instances and groups since {since} UTC (idle: CPU below "
                 f"{data['thresholds']['idle_cpu_percent']:g}%)")  # fmt: skip
        console.print(
            fitted_table(title, RESOURCE_COLUMNS, _resource_rows(resources, currency), width)
        )
        total = data["saving_per_day"]
        console.print(Text(
            f"Saving per day at cost.instance_prices: weekdays only "
            f"{_amount(total['weekdays_only'], currency)}, right-sizing "
            f"{_amount(total['rightsize'], currency)}; `pilothouse cost whatif --from-infra` "
            "applies both to the cost ledger"
        ))  # fmt: skip
    else:
        console.print(Text(f"No instances stored: `{CLOUDWATCH_HINT}` adds them."))
    if data["runners"]:
        rows = [_runner_row(r) for r in data["runners"]]
        console.print(fitted_table("Self-hosted runners", RUNNER_COLUMNS, rows, width))
    else:
        console.print(Text(f"No self-hosted runners stored: `{RUNNERS_HINT}` adds them."))
    if data["labels"]:
        rows = [_queue_row(q) for q in data["labels"]]
        console.print(
            fitted_table(f"Runner label queues since {since} UTC", QUEUE_COLUMNS, rows, width)
        )


def _runner_row(r: dict[str, Any]) -> list[str | Text]:
    status = "busy" if r["busy"] else r["status"]
    return [Text(r["name"]), status, Text(", ".join(r["labels"])), Text(r["scope"])]


def _queue_row(q: dict[str, Any]) -> list[str | Text]:
    able = q["runners"]
    return [
        Text(q["labels"]),
        str(q["jobs"]),
        seconds(q["queue_p50_seconds"]),
        seconds(q["queue_p90_seconds"]),
        f"{able['idle']}/{able['busy']}/{able['offline']}",
    ]


def _amount(value: float | None, currency: str) -> str:
    return "no price" if value is None else f"{value:.2f} {currency}"


def infra(
    ctx: typer.Context,
    window: WindowOption = None,
    since: SinceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Instances and Auto Scaling groups: state, type, CPU and memory p50/p95, idle hours,
    what weekday-only provisioning and right-sizing would save; self-hosted runners and
    their label queues; over the last 14 days (--window, --since)."""
    state = state_of(ctx)
    chosen = resolve_window(state.now(), days=window, since=since, default_days=DEFAULT_WINDOW_DAYS)
    with state.open_store() as store:
        if since is None:
            data = infra_data(store, state, window_days=window or DEFAULT_WINDOW_DAYS)
        else:
            data = infra_data(store, state, since=chosen.since)
    if as_json:
        print_json(data)
    else:
        _render(data, state)
