"""A Grafana dashboard over pilothouse's Prometheus metrics (web/metrics.py), built as
data: one row per page of the dashboard (Overview, Pipelines, Tests, Costs, Build,
Infrastructure), each panel one or more PromQL queries.

Pure: `dashboard()` returns the JSON object (Grafana's classic dashboard model), which
`pilothouse grafana-dashboard` prints for Grafana's Import dialog or provisioning.

>>> board = dashboard()
>>> board["templating"]["list"][0]["name"], [row["title"] for row in rows_of(board)][:2]
('DS', ['Overview', 'Pipelines'])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# The classic JSON model as Grafana 12 writes it; Grafana migrates older versions on load.
SCHEMA_VERSION = 41
UID = "pilothouse"
DS_VARIABLE = "DS"
WIDTH = 24  # Grafana's grid is 24 columns wide
ROW_HEIGHT = 1
WORKFLOW = '{workflow=~"$workflow"}'


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True, slots=True)
class Panel:
    """One panel: its kind (timeseries, stat, bargauge), queries, unit and width."""

    title: str
    kind: str
    queries: tuple[Query, ...]
    unit: str = "short"
    width: int = 8
    height: int = 8
    description: str = ""
    stacked: bool = False


def _quantile(q: float, metric: str, by: str, selector: str = "") -> Query:
    return Query(
        f"histogram_quantile({q}, sum by (le, {by}) ({metric}_bucket{selector}))",
        f"p{round(q * 100)} {{{{{by}}}}}",
    )


OVERVIEW = (
    Panel("Targets met", "stat", (Query("pilothouse_target_met", "{{criterion}}"),),
          width=24, height=5,
          description="The scorecard (`pilothouse score`): 1 met, 0 missed; no data: absent."),
    Panel("Criteria: value", "timeseries",
          (Query("pilothouse_target_value", "{{criterion}} ({{unit}})"),), width=12,
          description="Each criterion's value in its own unit, over the scorecard's window."),
    Panel("Criteria: target", "stat",
          (Query("pilothouse_target_threshold", "{{criterion}} ({{unit}})"),), width=12),
)  # fmt: skip

PIPELINES = (
    Panel("Run duration p50", "timeseries", (
        _quantile(0.5, "pilothouse_workflow_run_duration_seconds", "workflow", WORKFLOW),),
        unit="s"),
    Panel("Run duration p90", "timeseries", (
        _quantile(0.9, "pilothouse_workflow_run_duration_seconds", "workflow", WORKFLOW),),
        unit="s"),
    Panel("Success ratio", "timeseries", (Query(
        'sum by (workflow) (pilothouse_workflow_run_duration_seconds_gcount{conclusion="success",'
        ' workflow=~"$workflow"}) / sum by (workflow) '
        f"(pilothouse_workflow_run_duration_seconds_gcount{WORKFLOW})", "{{workflow}}"),),
        unit="percentunit"),
    Panel("Mean run duration", "timeseries", (Query(
        f"sum by (workflow) (pilothouse_workflow_run_duration_seconds_gsum{WORKFLOW}) / "
        f"sum by (workflow) (pilothouse_workflow_run_duration_seconds_gcount{WORKFLOW})",
        "{{workflow}}"),), unit="s"),
    Panel("Runs in the window", "timeseries", (Query(
        f"pilothouse_workflow_run_duration_seconds_gcount{WORKFLOW}",
        "{{workflow}} {{conclusion}}"),), stacked=True),
    Panel("Run attempts stored per day", "timeseries", (Query(
        f"sum by (workflow, conclusion) (increase(pilothouse_workflow_runs_total{WORKFLOW}[1d]))",
        "{{workflow}} {{conclusion}}"),), stacked=True),
)  # fmt: skip

TESTS = (
    Panel("Test pass ratio", "timeseries", (Query("pilothouse_test_pass_ratio", "pass ratio"),
        Query('pilothouse_target_threshold{criterion="test_pass_rate"} / 100', "target")),
        unit="percentunit"),
    Panel("Flaky and quarantined tests", "timeseries", (
        Query("pilothouse_flaky_tests", "flaky"),
        Query("pilothouse_quarantined_tests", "quarantined"))),
    Panel("Test results stored per day", "timeseries", (Query(
        "sum by (outcome) (increase(pilothouse_test_results_total[1d]))", "{{outcome}}"),),
        stacked=True),
)  # fmt: skip

COSTS = (
    Panel("Daily spend by service", "timeseries", (
        Query("pilothouse_cost_daily", "{{service}} ({{currency}})"),), width=16,
        stacked=True, description="The last complete UTC day's spend, per service."),
    Panel("Daily spend against target and limit", "timeseries", (
        Query("sum by (currency) (pilothouse_cost_daily)", "spend {{currency}}"),
        Query('pilothouse_target_value{criterion="daily_cost"}', "window mean {{unit}}"),
        Query('pilothouse_target_threshold{criterion="daily_cost"}', "target {{unit}}"),
        Query("pilothouse_cost_daily_limit", "alert limit {{currency}}"))),
)  # fmt: skip

BUILD = (
    Panel("Cache hit ratio", "timeseries", (Query("pilothouse_cache_hit_ratio", "hit ratio"),
        Query('pilothouse_target_threshold{criterion="cache_hit_rate"} / 100', "target")),
        unit="percentunit"),
    Panel("Artifact bytes (newest run)", "timeseries", (
        Query(f"pilothouse_artifact_bytes{WORKFLOW}", "{{workflow}}"),
        Query('pilothouse_target_threshold{criterion="artifact_size"} * 1e6', "target")),
        unit="decbytes"),
    Panel("Build and test time (p50)", "timeseries", (
        Query('pilothouse_target_value{criterion=~"build_time|test_time"}', "{{criterion}}"),
        Query('pilothouse_target_threshold{criterion=~"build_time|test_time"}',
              "{{criterion}} target")), unit="m"),
)  # fmt: skip

INFRASTRUCTURE = (
    Panel("Time since last sync", "stat", (Query(
        "time() - pilothouse_last_sync_timestamp_seconds", "{{repository}}"),), unit="s"),
    Panel("Job queue time p50", "timeseries", (
        _quantile(0.5, "pilothouse_job_queue_seconds", "runner"),), unit="s"),
    Panel("Job queue time p90", "timeseries", (
        _quantile(0.9, "pilothouse_job_queue_seconds", "runner"),), unit="s"),
    Panel("Workflows by state", "bargauge", (Query("pilothouse_workflows", "{{state}}"),)),
)  # fmt: skip

PAGES: tuple[tuple[str, tuple[Panel, ...]], ...] = (
    ("Overview", OVERVIEW),
    ("Pipelines", PIPELINES),
    ("Tests", TESTS),
    ("Costs", COSTS),
    ("Build", BUILD),
    ("Infrastructure", INFRASTRUCTURE),
)


def dashboard(datasource: str | None = None) -> dict[str, Any]:
    """The dashboard; its panels query *datasource* (a Prometheus data source's name or
    uid), or the `${DS}` variable (a drop-down on the dashboard) when None."""
    source = {"type": "prometheus", "uid": datasource or f"${{{DS_VARIABLE}}}"}
    return {
        "uid": UID,
        "title": "pilothouse",
        "description": "CI/CD pipelines, tests, costs and builds from pilothouse's /metrics.",
        "tags": ["pilothouse", "ci", "cicd"],
        "editable": True,
        "graphTooltip": 1,
        "timezone": "utc",
        "time": {"from": "now-30d", "to": "now"},
        "refresh": "5m",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "links": [],
        "annotations": {"list": []},
        "templating": {"list": _variables(source, datasource)},
        "panels": list(_layout(source)),
    }


def _variables(source: dict[str, str], datasource: str | None) -> list[dict[str, Any]]:
    workflow = {
        "name": "workflow",
        "label": "Workflow",
        "type": "query",
        "datasource": source,
        "query": {"query": "label_values(pilothouse_workflow_runs_total, workflow)",
                  "refId": "workflow"},
        "definition": "label_values(pilothouse_workflow_runs_total, workflow)",
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }  # fmt: skip
    if datasource is not None:
        return [workflow]
    chooser = {
        "name": DS_VARIABLE,
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
    }
    return [chooser, workflow]


def _layout(source: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Rows and panels with their grid positions and unique ids, left to right, top down."""
    ids = iter(range(1, 1000))
    y = 0
    for title, panels in PAGES:
        yield {
            "id": next(ids),
            "type": "row",
            "title": title,
            "collapsed": False,
            "gridPos": {"h": ROW_HEIGHT, "w": WIDTH, "x": 0, "y": y},
            "panels": [],
        }
        y += ROW_HEIGHT
        x, line_height = 0, 0
        for panel in panels:
            if x + panel.width > WIDTH:
                x, y, line_height = 0, y + line_height, 0
            yield _panel(panel, next(ids), source, x, y)
            x, line_height = x + panel.width, max(line_height, panel.height)
        y += line_height


def _panel(panel: Panel, panel_id: int, source: dict[str, str], x: int, y: int) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    if panel.kind == "timeseries":
        stacking = {"mode": "normal" if panel.stacked else "none", "group": "A"}
        custom = {"drawStyle": "line", "fillOpacity": 20 if panel.stacked else 0,
                  "stacking": stacking}  # fmt: skip
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": source,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit, "custom": custom}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": source,
                "expr": query.expr,
                "legendFormat": query.legend or "__auto",
                "range": True,
            }
            for index, query in enumerate(panel.queries)
        ],  # fmt: skip
    }


def rows_of(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in board["panels"] if panel["type"] == "row"]


def queries_of(board: dict[str, Any]) -> Iterator[str]:
    """Every PromQL text of the dashboard: its panels' and its variables' queries."""
    for panel in board["panels"]:
        for target in panel.get("targets", ()):
            yield target["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            yield variable["definition"]
