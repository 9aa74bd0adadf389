"""Pipelines, a run, Costs, Build and Infrastructure in a real Chromium: each loads
clean with its charts drawn from data, the window selector changes what they show,
hostile workflow and job names stay text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page

from pilothouse.store import Store
from pilothouse.web.app import create_app
from tests.conftest import Cli
from tests.web.conftest import screenshot, serving, web_state
from tests.web.test_browser_overview import drawn_charts
from tests.web.test_pages import HOSTILE, ingest_hostile


@pytest.mark.parametrize(
    ("path", "title", "charts"),
    [
        ("/pipelines?days=30", "Pipelines", ("duration-1", "duration-2", "duration-3")),
        ("/costs?days=30", "Costs", ("spend-USD",)),
        ("/costs?days=90&by=model", "Costs", ("spend-USD",)),
        ("/infra?days=30", "Infrastructure", ("queue",)),
    ],
)
def test_each_page_loads_clean_with_its_charts(
    page: Page, page_errors: list[str], server_url: str, path: str, title: str,
    charts: tuple[str, ...],
) -> None:  # fmt: skip
    page.goto(f"{server_url}{path}", wait_until="networkidle")
    assert page.title() == f"{title} · pilothouse"
    drawn = drawn_charts(page)
    for chart in charts:
        assert drawn.get(chart, 0) > 0, (chart, drawn)
    name = path.strip("/").replace("?", "-").replace("&", "-").replace("=", "")
    assert screenshot(page, name).stat().st_size > 10_000
    assert page_errors == []


def test_the_costs_chart_marks_the_anomalous_days(
    page: Page, page_errors: list[str], server_url: str, web_client: object
) -> None:
    page.goto(f"{server_url}/costs?days=90", wait_until="networkidle")
    marks = page.get_attribute('[data-chart="spend-USD"]', "data-marks")
    anomalies = page.locator("table.anomalies tbody tr td:first-child").all_inner_texts()
    assert anomalies and anomalies[0] != "No anomalous day in this window."
    assert marks == str(len(anomalies))
    assert page_errors == []


def test_the_build_page_draws_its_meters(
    page: Page, page_errors: list[str], server_url: str
) -> None:
    page.goto(f"{server_url}/build?days=30", wait_until="networkidle")
    for table in ("caches", "crates", "artifacts"):
        widths = page.eval_on_selector_all(
            f"#{table} .meter .fill", "els => els.map(e => e.getBoundingClientRect().width)"
        )
        assert widths and max(widths) > 10, table
    assert page.locator("p.no-data").count() == 0
    assert screenshot(page, "build-30").stat().st_size > 10_000
    assert page_errors == []


def test_a_run_page_shows_its_jobs_as_a_timeline(
    page: Page, page_errors: list[str], server_url: str
) -> None:
    page.goto(f"{server_url}/pipelines?days=30", wait_until="networkidle")
    page.locator("#runs tbody a").first.click()
    page.wait_for_url("**/runs/*")
    page.wait_for_load_state("networkidle")
    widths = page.eval_on_selector_all(
        ".timeline .running", "els => els.map(e => e.getBoundingClientRect().width)"
    )
    assert widths and all(w > 1 for w in widths) and max(widths) > 100
    assert page.locator(".timeline .lane").count() == page.locator(".attempt tbody tr").count()
    assert screenshot(page, "run").stat().st_size > 5_000
    assert page_errors == []


@pytest.mark.parametrize(
    ("path", "cell"),
    [("/pipelines", "#workflows tbody tr:first-child td:nth-child(2)"),
     ("/infra", "#labels tbody tr:first-child td:nth-child(2)"),
     ("/costs", "#currency-USD .card .big")],
)  # fmt: skip
def test_the_window_selector_changes_the_data(
    page: Page, page_errors: list[str], server_url: str, path: str, cell: str
) -> None:
    page.goto(f"{server_url}{path}?days=7", wait_until="networkidle")
    week = page.locator(cell).first.inner_text()
    page.click(".window >> text=90d")
    page.wait_for_url(f"**{path}?days=90")
    page.wait_for_load_state("networkidle")
    assert page.locator(".window a.current").inner_text() == "90d"
    assert page.locator(cell).first.inner_text() != week
    assert page_errors == []


def test_hostile_names_stay_text_in_the_browser(
    page: Page, page_errors: list[str], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'hostile.db'}"
    ingest_hostile(Cli(cwd=tmp_path, db=db))
    with Store.open(db) as store, serving(create_app(web_state(db, tmp_path), store)) as url:
        for path in ("/pipelines?days=7", "/runs/666", "/infra?days=7"):
            page.goto(f"{url}{path}", wait_until="networkidle")
            assert page.locator("main img").count() == 0, path
            text = page.locator("main").inner_text()
            if path.startswith("/pipelines"):  # the workflow; the job is untimed: not listed
                assert HOSTILE in text
            if path.startswith("/runs"):
                assert HOSTILE in text and f"{HOSTILE}</script>" in text
        screenshot(page, "hostile-infra")
    assert page_errors == []


def x_range(page: Page, chart: str) -> tuple[float, float]:
    low, high = page.get_attribute(f'[data-chart="{chart}"]', "data-x-range").split(",")
    return float(low), float(high)


def test_charts_keep_their_first_and_last_points_inside_the_plot(
    page: Page, page_errors: list[str], server_url: str, tmp_path: Path
) -> None:
    page.goto(f"{server_url}/costs?days=30", wait_until="networkidle")
    days = json.loads(page.locator("script#spend-USD").text_content() or "")["x"]
    step = days[1] - days[0]  # a bar is a day wide: half of it either side of the ends
    assert x_range(page, "spend-USD") == (days[0] - step / 2, days[-1] + step / 2)
    db = f"sqlite:///{tmp_path / 'one.db'}"
    ingest_hostile(Cli(cwd=tmp_path, db=db))  # one report: each test's durations are a point
    with Store.open(db) as store, serving(create_app(web_state(db, tmp_path), store)) as url:
        page.goto(f"{url}/tests?days=7", wait_until="networkidle")
        page.locator("#slowest tr td a").first.click()
        page.wait_for_load_state("networkidle")
        (when,) = json.loads(page.locator("script#durations").text_content() or "")["x"]
        assert x_range(page, "durations") == (when - 86400, when + 86400)  # not years
        screenshot(page, "test-one-result")
    assert page_errors == []


def test_chart_values_below_one_keep_two_significant_digits(
    page: Page, page_errors: list[str], server_url: str
) -> None:
    page.goto(f"{server_url}/tests?days=7", wait_until="networkidle")
    shown = page.evaluate(
        "[0, 0.0025, 0.005, 0.0123, 0.5, 1.234, 99.999, 1234.5, -0.004, null]"
        ".map(v => pilothouse.format('s')(null, v))"
    )
    assert shown == [
        "0 s", "0.0025 s", "0.005 s", "0.012 s", "0.5 s", "1.23 s", "100 s", "1235 s",
        "-0.004 s", "-",
    ]  # fmt: skip
    assert page_errors == []
