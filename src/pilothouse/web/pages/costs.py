"""Costs (`/costs`): daily spend stacked by service (or `?by=workflow|model|tag:KEY`), the
target and the alert limit as lines, anomalies marked, the month-end forecast with its
interval, the budgets and their alerts. `/api/costs` is `costs_data`: `cost --days N --by
BY --json` under "cost" and `cost alerts --json` under "alerts", from the same functions."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from pilothouse.analysis.costs import format_money
from pilothouse.cli import cost as cost_cli
from pilothouse.cli.state import State
from pilothouse.store import Store
from pilothouse.web import specs
from pilothouse.web.deps import StateDep, StoreDep, WindowDep
from pilothouse.web.render import api, page

router = APIRouter()
NAV: tuple[str, str] | None = ("Costs", "/costs")

GROUPINGS = ("service", "workflow", "model")
# A stacked chart of more groups than this is unreadable: the rest are summed as one.
STACKED = 8
OTHER = "(other)"
COST_HINT = (
    "pilothouse ingest cost PATH --format focus|cur|github-usage|bedrock-log",
    "pilothouse sample",
)


def parse_by(text: str | None) -> str:
    """`?by=` as `cost --by` takes it (none: service); a clear 422 on anything else."""
    if text is None or text == "":
        return "service"
    if text in GROUPINGS or (text.startswith("tag:") and len(text) > 4):
        return text
    raise HTTPException(422, f"by must be service, workflow, model or tag:KEY (got {text[:40]!r})")


ByQuery = Annotated[str | None, Query(description="service, workflow, model or tag:KEY.")]


def costs_data(store: Store, state: State, *, window_days: int, by: str) -> dict[str, Any]:
    """The Costs page: `cost --days N --by BY --json` ("cost"), `cost alerts --json`
    ("alerts"), and the budgets those alerts are about."""
    span = cost_cli.cost_window(state.now().date(), window_days)
    return {
        "cost": cost_cli.cost_data(store, state, span, by),
        "alerts": cost_cli.alerts_data(store, state),
        "budgets": [
            {
                "name": budget.name,
                "period": budget.period,
                "amount": format_money(budget.amount, state.config["cost.currency"]),
                "currency": str(state.config["cost.currency"]).upper(),
                "thresholds": list(budget.thresholds),
            }
            for budget in cost_cli.budgets_of(state)
        ],
    }


def _stacked_groups(report: dict[str, Any]) -> list[str]:
    """The groups drawn one by one (the largest over the window), the rest as OTHER."""
    groups = list(report["by_group"])
    return groups if len(groups) <= STACKED else groups[: STACKED - 1] + [OTHER]


def _amount(row: dict[str, Any], group: str, drawn: list[str]) -> float:
    if group != OTHER:
        return float(Decimal(row["groups"].get(group, "0")))
    return float(sum((Decimal(v) for g, v in row["groups"].items() if g not in drawn), Decimal(0)))


def spend_chart(currency: str, report: dict[str, Any]) -> dict[str, Any]:
    """A currency's daily spend stacked by group, with the target and the alert limit
    as lines (main currency) and each anomalous day marked."""
    x = specs.day_axis([row["day"] for row in report["daily"]])
    drawn = _stacked_groups(report)
    stacked = [
        specs.series(group, [_amount(row, group, drawn) for row in report["daily"]], currency)
        for group in drawn
    ]
    lines = []
    if "target" in report:
        lines = [("target", float(report["target"])), ("alert limit", float(report["alert_limit"]))]
    marks = [(specs.day_axis([a["day"]])[0], f"anomaly {a['amount']}") for a in report["anomalies"]]
    return specs.spec("stacked", x, stacked, lines, marks)


@router.get("/api/costs")
def costs_api(store: StoreDep, state: StateDep, window: WindowDep, by: ByQuery = None) -> Response:
    return api(costs_data(store, state, window_days=window.days, by=parse_by(by)))


@router.get("/costs", response_class=HTMLResponse)
def costs(
    request: Request, store: StoreDep, state: StateDep, window: WindowDep, by: ByQuery = None
) -> Response:
    grouping = parse_by(by)
    data = costs_data(store, state, window_days=window.days, by=grouping)
    currencies = data["cost"]["currencies"]
    return page(
        request,
        "costs.html",
        window,
        data=data,
        by=grouping,
        groupings=GROUPINGS,
        charts={currency: spend_chart(currency, report) for currency, report in currencies.items()},
        cost_hint=COST_HINT,
    )
