"""`pilothouse grafana-dashboard`: the Grafana dashboard over `/metrics`, as JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from pilothouse.cli.output import print_json
from pilothouse.web.grafana import dashboard


def grafana_dashboard(
    datasource: Annotated[
        str | None,
        typer.Option(
            "--datasource",
            metavar="NAME",
            help="The Prometheus data source the panels query (its name or uid); "
            "default: a ${DS} variable, a drop-down on the dashboard.",
        ),
    ] = None,
) -> None:
    """A Grafana dashboard (JSON) over pilothouse's Prometheus metrics, one row per
    dashboard page.

    Rows: Overview, Pipelines, Tests, Costs, Build, Infrastructure. Import it in
    Grafana (Dashboards, New, Import) or provision it from a file:

    \b
        pilothouse grafana-dashboard > pilothouse-dashboard.json
    """
    if datasource is not None and not datasource.strip():
        raise typer.BadParameter(
            "is empty: give a data source's name or uid", param_hint="--datasource"
        )
    print_json(dashboard(datasource))
