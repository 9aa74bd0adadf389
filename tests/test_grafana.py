"""`pilothouse grafana-dashboard` (web/grafana.py): every query names only metrics the
collector exports (read from a demo store), and the JSON has the shape Grafana's import
needs (rows, grid positions inside the 24 columns and not overlapping, unique ids,
targets with expr and refId, the data source as a variable or the name given)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pilothouse.cli.state import State, World
from pilothouse.config import load_config
from pilothouse.store import Store
from pilothouse.web import grafana
from pilothouse.web.metrics import families, metric_names, read_snapshot

from .conftest import FIXED_NOW, Cli

METRIC = re.compile(r"\bpilothouse_[a-z0-9_]+\b")
PAGES = ["Overview", "Pipelines", "Tests", "Costs", "Build", "Infrastructure"]


def names_in(exprs: list[str]) -> set[str]:
    return {name for expr in exprs for name in METRIC.findall(expr)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The sample names the collector exposes on a demo store (histograms' _bucket,
    _gsum and _gcount and counters' _total included)."""
    folder = tmp_path_factory.mktemp("grafana-sample")
    cli = Cli(cwd=folder, db=f"sqlite:///{folder / 'store.db'}")
    cli.json("sample", "--days", "3", "--end", FIXED_NOW.date().isoformat())
    world = World(env={}, cwd=folder, clock=lambda: FIXED_NOW)
    state = State(load_config(path=None, env={}, flags={"db": cli.db}, cwd=folder), world)
    with Store.open(cli.db) as store:
        names = metric_names(families(read_snapshot(state, store)))
    code, out, _err = cli("metrics")
    scraped = {s.name for f in text_string_to_metric_families(out) for s in f.samples}
    assert code == 0 and scraped and scraped <= names  # what a real scrape shows is in it
    return names


def board(cli: Cli, *args: str) -> dict[str, Any]:
    code, out, err = cli("grafana-dashboard", *args)
    assert (code, err) == (0, "")
    return json.loads(out)


@pytest.mark.parametrize("args", [(), ("--datasource", "Prometheus")])
def test_every_query_names_an_exported_metric(
    sqlite_cli: Cli, exported: set[str], args: tuple[str, ...]
) -> None:
    queries = list(grafana.queries_of(board(sqlite_cli, *args)))
    named = names_in(queries)
    assert named - exported == set()
    # the dashboard shows every family but the window's length
    families_shown = {re.sub(r"_(bucket|gsum|gcount)$", "", name) for name in named}
    assert {re.sub(r"_(bucket|gsum|gcount)$", "", n) for n in exported} - families_shown == {
        "pilothouse_window_seconds",
        "pilothouse_target_samples",
    }


def test_the_name_check_catches_a_missing_metric(exported: set[str]) -> None:
    """The check above can fail: a query with a name the collector lacks is reported."""
    assert names_in(["rate(pilothouse_workflow_runs_total[5m]) / pilothouse_runz"]) - exported == {
        "pilothouse_runz"
    }
    assert "pilothouse_workflow_run_duration_seconds_bucket" in exported
    assert "pilothouse_workflow_runs_total" in exported


def test_one_row_per_page(sqlite_cli: Cli) -> None:
    data = board(sqlite_cli)
    assert [row["title"] for row in grafana.rows_of(data)] == PAGES
    assert data["schemaVersion"] == grafana.SCHEMA_VERSION
    assert data["uid"] == "pilothouse"


def _cells(panel: dict[str, Any]) -> set[tuple[int, int]]:
    pos = panel["gridPos"]
    return {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])}  # fmt: skip


def test_panels_have_the_shape_grafana_needs(sqlite_cli: Cli) -> None:
    panels = board(sqlite_cli)["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert set(pos) == {"h", "w", "x", "y"} and all(isinstance(v, int) for v in pos.values())
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["x"] + pos["w"] <= 24
        assert not _cells(panel) & taken, f"{panel['title']} overlaps another panel"
        taken |= _cells(panel)
        if panel["type"] == "row":
            assert panel["panels"] == [] and pos["w"] == 24
            continue
        assert panel["type"] in {"timeseries", "stat", "bargauge"}
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        assert all(target["expr"].strip() for target in panel["targets"])
        assert panel["fieldConfig"]["defaults"]["unit"]


def test_rows_come_before_their_panels_top_down(sqlite_cli: Cli) -> None:
    panels = board(sqlite_cli)["panels"]
    tops = [panel["gridPos"]["y"] for panel in panels]
    assert tops == sorted(tops)
    row_tops = [p["gridPos"]["y"] for p in panels if p["type"] == "row"]
    assert row_tops[0] == 0 and len(row_tops) == len(PAGES)


def test_datasource_is_a_variable_by_default(sqlite_cli: Cli) -> None:
    data = board(sqlite_cli)
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["DS"]["type"] == "datasource" and variables["DS"]["query"] == "prometheus"
    sources = {json.dumps(p["datasource"]) for p in data["panels"] if p["type"] != "row"}
    assert sources == {json.dumps({"type": "prometheus", "uid": "${DS}"})}


def test_datasource_given_by_name(sqlite_cli: Cli) -> None:
    data = board(sqlite_cli, "--datasource", 'My "Prom"')
    assert "DS" not in {v["name"] for v in data["templating"]["list"]}
    panels = [p for p in data["panels"] if p["type"] != "row"]
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": 'My "Prom"'}
        assert all(t["datasource"] == panel["datasource"] for t in panel["targets"])
    assert "${DS}" not in json.dumps(data)


def test_empty_datasource_is_a_usage_error(sqlite_cli: Cli, tmp_path: Path) -> None:
    code, out, err = sqlite_cli("grafana-dashboard", "--datasource", " ")
    assert code == 2 and out == "" and "--datasource" in err
    assert not (tmp_path / "store.db").exists()  # needs no store


def test_dashboard_needs_no_store(sqlite_cli: Cli, tmp_path: Path) -> None:
    assert board(sqlite_cli)["title"] == "pilothouse"
    assert not (tmp_path / "store.db").exists()


def test_quantile_queries_group_by_le() -> None:
    exprs = [e for e in grafana.queries_of(grafana.dashboard()) if "histogram_quantile" in e]
    assert len(exprs) == 4
    assert all("sum by (le, " in e and "_bucket" in e and "rate(" not in e for e in exprs)
