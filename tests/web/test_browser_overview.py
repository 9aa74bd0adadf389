"""The Overview in a real Chromium: it loads clean, its sparklines draw, the window
selector changes what it shows."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.web.conftest import screenshot


def drawn_charts(page: Page) -> dict[str, int]:
    """Each chart's id and its data points, for the charts that drew a canvas."""
    return page.eval_on_selector_all(
        "[data-chart]",
        "els => Object.fromEntries(els.filter(e => e.querySelector('canvas'))"
        ".map(e => [e.dataset.chart, Number(e.dataset.points)]))",
    )


def test_the_overview_loads_clean_with_its_sparklines(
    page: Page, page_errors: list[str], server_url: str
) -> None:
    page.goto(f"{server_url}/?days=30", wait_until="networkidle")
    tiles = page.locator("section.tile")
    assert tiles.count() == 7
    charts = drawn_charts(page)
    assert charts, "no sparkline drew a canvas"
    assert all(points > 0 for points in charts.values())
    assert "trend-build_time" in charts
    assert page.title() == "Overview · pilothouse"
    assert screenshot(page, "overview").stat().st_size > 10_000
    assert page_errors == []


def test_the_window_selector_changes_the_data(
    page: Page, page_errors: list[str], server_url: str
) -> None:
    page.goto(f"{server_url}/?days=7", wait_until="networkidle")
    week = page.locator("#criterion-build_time .target").inner_text()
    page.click("text=90d")
    page.wait_for_url("**/?days=90")
    page.wait_for_load_state("networkidle")
    quarter = page.locator("#criterion-build_time .target").inner_text()
    assert page.locator(".window a.current").inner_text() == "90d"
    assert week != quarter  # the sample count differs
    assert page_errors == []
