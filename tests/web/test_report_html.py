"""`pilothouse report --html FILE`: one file, no request, the same numbers as the
commands' `--json`, written in one step, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from pilothouse.store import Store
from tests.conftest import FIXED_NOW, Cli, pg_schema
from tests.web.report_html import (
    XSS_FAILING,
    XSS_MESSAGE,
    XSS_NAME,
    embedded,
    ingest_markup_history,
    outside_references,
    parse,
)

LIMIT = 20  # report.limit's default


@pytest.fixture(scope="module")
def demo_cli(demo_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(cwd=tmp_path_factory.mktemp("report-cwd"), db=demo_store_url)


@pytest.fixture(scope="module")
def demo_report(demo_cli: Cli) -> tuple[Path, str]:
    """The report of the demo store, and what `report --html` said on stderr."""
    target = demo_cli.cwd / "report.html"
    code, out, err = demo_cli("report", "--html", str(target))
    assert code == 0, err
    assert out == ""
    return target, err


def test_the_file_says_where_it_went_and_how_large_it_is(demo_report: tuple[Path, str]) -> None:
    target, err = demo_report
    size = target.stat().st_size
    assert err == f"pilothouse: wrote {target} ({size / 1024:.0f} KiB)\n"
    # uPlot is 51 KB of it: the rest is the data, capped at report.limit rows a list.
    assert 60_000 < size < 200_000


def test_nothing_points_outside_the_file(demo_report: tuple[Path, str]) -> None:
    document = parse(demo_report[0])
    assert outside_references(document) == []
    assert document.xpath("//script[@src] | //link[@rel='stylesheet'] | //img | //iframe") == []
    assert (
        "@import" not in demo_report[0].read_text() and "url(http" not in demo_report[0].read_text()
    )


def test_styles_scripts_and_uplots_licence_are_inline(demo_report: tuple[Path, str]) -> None:
    text = demo_report[0].read_text()
    document = parse(demo_report[0])
    scripts = [s.text or "" for s in document.xpath("//script[not(@type)]")]
    assert len(scripts) == 2
    uplot, charts = scripts
    assert "The MIT License (MIT)" in uplot and "Copyright (c) 2022 Leon Sorokin" in uplot
    assert "/*! https://github.com/leeoniya/uPlot (v1.6.32) */" in uplot
    assert "pilothouse.drawCharts" not in uplot and "drawCharts" in charts
    styles = [s.text or "" for s in document.xpath("//style")]
    assert any(".uplot" in s for s in styles) and any("--ink" in s for s in styles)
    assert text.startswith("<!doctype html>")


def test_the_data_is_what_the_commands_print(demo_report: tuple[Path, str], demo_cli: Cli) -> None:
    data = embedded(parse(demo_report[0]))
    assert data["score"] == demo_cli.json("score")
    report = demo_cli.json("report")
    assert data["tests"] == {key: value for key, value in report.items() if key != "store"}
    assert len(data["tests"]["slowest"]) == LIMIT < data["tests"]["totals"]["tests"]
    flaky = demo_cli.json("flaky")
    for key in ("broken", "platform", "outages"):
        assert data["flaky"][key] == flaky[key][:LIMIT]
    assert [item["test"] for item in data["flaky"]["flaky"]] == [
        item["test"] for item in flaky["flaky"][:LIMIT]
    ]
    assert all("evidence" not in item for item in data["flaky"]["flaky"])
    assert data["flaky"]["totals"]["flaky"] == len(flaky["flaky"])
    assert data["flaky"]["pass_rate"] == flaky["pass_rate"]
    cost = demo_cli.json("cost")
    assert data["costs"]["since"] == cost["since"] and data["costs"]["until"] == cost["until"]
    for currency, money in cost["currencies"].items():
        ours = data["costs"]["currencies"][currency]
        for key in ("total", "today", "target", "alert_limit", "forecast", "anomalies", "movers"):
            assert ours[key] == money[key], key
        assert [day["total"] for day in ours["daily"]] == [day["total"] for day in money["daily"]]
    assert data["generated_at"] == FIXED_NOW.isoformat()


def test_the_sections_show_the_numbers(demo_report: tuple[Path, str], demo_cli: Cli) -> None:
    document = parse(demo_report[0])
    assert len(document.xpath("//section[contains(@class, 'tile')]")) == 7
    report = demo_cli.json("report")
    failing = document.xpath("//table[@id='failing-tests']/tbody/tr")
    assert len(failing) == min(LIMIT, report["totals"]["failing"])
    first = report["failing"][0]
    assert failing[0].xpath("td")[0].text_content() == f"{first['classname']}::{first['name']}"
    slowest = document.xpath("//table[@id='slowest-tests']/tbody/tr")
    assert len(slowest) == LIMIT
    text = document.text_content()
    assert f"The first {LIMIT} of {report['totals']['tests']} tests, slowest first" in text
    forecast = demo_cli.json("cost")["currencies"]["USD"]["forecast"]
    assert f"Month-end forecast {forecast['month_end']}" in " ".join(text.split())
    charts = {c.get("data-chart") for c in document.xpath("//div[@data-chart]")}
    assert {"pass-rate", "spend-USD", "trend-build_time"} <= charts


def test_the_spend_chart_stacks_the_daily_spend_with_the_target(
    demo_report: tuple[Path, str], demo_cli: Cli
) -> None:
    document = parse(demo_report[0])
    spec = embedded(document, "spend-USD")
    cost = demo_cli.json("cost")["currencies"]["USD"]
    assert spec["kind"] == "stacked" and len(spec["x"]) == 30
    assert [line["label"] for line in spec["lines"]] == ["target", "alert limit"]
    assert spec["lines"][0]["value"] == float(cost["target"])
    daily = [sum(s["values"][i] for s in spec["series"]) for i in range(len(spec["x"]))]
    expected = [float(day["total"]) for day in cost["daily"]]
    assert daily == pytest.approx(expected, abs=0.05)


def test_dash_writes_the_same_file_to_stdout(demo_report: tuple[Path, str], demo_cli: Cli) -> None:
    code, out, err = demo_cli("report", "--html", "-")
    assert code == 0 and err == ""
    assert out == demo_report[0].read_text()


def test_the_limit_caps_every_list_and_says_so(demo_cli: Cli) -> None:
    code, out, _err = demo_cli("report", "--html", "-", "--limit", "3")
    assert code == 0
    document = parse_text(out)
    assert len(document.xpath("//table[@id='slowest-tests']/tbody/tr")) == 3
    assert len(document.xpath("//table[@id='flaky-tests']/tbody/tr")) == 3
    data = embedded(document)
    assert data["limit"] == 3 and len(data["costs"]["currencies"]["USD"]["by_group"]) == 3
    assert "The first 3 of " in document.text_content()


def parse_text(text: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(text.encode())


# -- writing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(lambda tmp: tmp / "missing" / "report.html", id="no-such-folder"),
        pytest.param(lambda tmp: tmp / "afile" / "report.html", id="parent-is-a-file"),
        pytest.param(lambda tmp: tmp / "adir", id="target-is-a-folder"),
    ],
)
def test_an_unwritable_target_is_one_line_and_leaves_nothing(
    sqlite_cli: Cli, tmp_path: Path, where: Any
) -> None:
    Store.upgrade(sqlite_cli.db)
    (tmp_path / "afile").write_text("keep")
    (tmp_path / "adir").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    target = where(tmp_path)
    code, out, err = sqlite_cli("report", "--html", str(target))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith(
        f"pilothouse: error: {target}: cannot write the report"
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no temporary file left
    assert (tmp_path / "afile").read_text() == "keep"


def test_an_existing_file_is_replaced_whole(sqlite_cli: Cli, tmp_path: Path) -> None:
    Store.upgrade(sqlite_cli.db)
    target = tmp_path / "report.html"
    target.write_text("old")
    code, _out, err = sqlite_cli("report", "--html", str(target))
    assert code == 0, err
    assert target.read_text().startswith("<!doctype html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []


def test_html_and_json_exclude_each_other(sqlite_cli: Cli, tmp_path: Path) -> None:
    code, _out, err = sqlite_cli("report", "--html", str(tmp_path / "r.html"), "--json")
    assert code == 2 and "--html and --json exclude each other" in err
    assert not (tmp_path / "r.html").exists()


def test_a_missing_store_is_an_error_and_not_created(sqlite_cli: Cli, tmp_path: Path) -> None:
    code, _out, err = sqlite_cli("report", "--html", str(tmp_path / "r.html"))
    assert code == 1 and "no pilothouse store here" in err
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "store.db").exists()


# -- empty stores, markup in the data, both backends -------------------------------------


def test_an_empty_store_says_no_data_yet_in_each_section(cli: Cli, tmp_path: Path) -> None:
    Store.upgrade(cli.db)
    target = tmp_path / "empty.html"
    code, _out, err = cli("report", "--html", str(target))
    assert code == 0, err
    document = parse(target)
    notes = [
        " ".join(n.text_content().split()) for n in document.xpath("//*[@class='note no-data-yet']")
    ]
    scorecard, tests, costs = notes
    assert scorecard.startswith("No data yet: ingest runs, test reports and costs")
    assert tests == "No test results stored yet: `pilothouse ingest junit PATH` adds them."
    assert costs == "No cost data: pilothouse ingest cost PATH --format ..."
    assert document.xpath("//table") == []
    assert outside_references(document) == []
    assert embedded(document)["costs"]["currencies"] == {}


def test_markup_in_names_and_messages_is_text(cli: Cli, tmp_path: Path) -> None:
    ingest_markup_history(cli, tmp_path)
    target = tmp_path / "markup.html"
    code, _out, err = cli("report", "--html", str(target))
    assert code == 0, err
    text = target.read_text()
    assert XSS_NAME not in text and XSS_MESSAGE not in text and XSS_FAILING not in text
    document = parse(target)
    assert document.xpath("//img") == []
    # Two scripts run (uPlot, charts.js); every other one is JSON data.
    assert len(document.xpath("//script[not(@type)]")) == 2
    assert document.xpath("//script[@type and @type!='application/json']") == []
    names = [td.text_content() for td in document.xpath("//td[@class='test-name']")]
    assert f"xss::{XSS_NAME}" in names and f"xss::{XSS_FAILING}" in names
    messages = [pre.text_content() for pre in document.xpath("//table[@id='flaky-tests']//pre")]
    assert messages == [XSS_MESSAGE]
    data = embedded(document)
    assert data["flaky"]["flaky"][0]["name"] == XSS_NAME
    assert data["flaky"]["flaky"][0]["messages"][0]["message"] == XSS_MESSAGE


def _report_data(cli: Cli, path: Path) -> dict[str, Any]:
    code, _out, err = cli("report", "--html", str(path))
    assert code == 0, err
    data: dict[str, Any] = embedded(parse(path))
    return data


def test_sqlite_and_postgresql_write_the_same_data(tmp_path: Path) -> None:
    """The same sample history in both stores: the same embedded JSON, the same tables."""
    end = FIXED_NOW.date().isoformat()
    lite = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'store.db'}")
    lite.json("sample", "--days", "7", "--end", end)
    ingest_markup_history(lite, tmp_path)
    with pg_schema() as url:
        pg = Cli(cwd=tmp_path, db=url)
        pg.json("sample", "--days", "7", "--end", end)
        ingest_markup_history(pg, tmp_path)
        from_pg = _report_data(pg, tmp_path / "pg.html")
    from_sqlite = _report_data(lite, tmp_path / "sqlite.html")
    assert json.dumps(from_pg, sort_keys=True) == json.dumps(from_sqlite, sort_keys=True)
    assert from_sqlite["tests"]["totals"]["tests"] > 3000
    assert from_sqlite["costs"]["currencies"]

    def body(path: Path) -> str:
        main = parse(path).xpath("//main")[0]
        return " ".join(main.text_content().split())

    assert body(tmp_path / "pg.html") == body(tmp_path / "sqlite.html")
