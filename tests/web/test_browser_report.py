"""The HTML report in a real Chromium, opened from disk with the network cut: it asks
for nothing, logs no error, draws its charts, and shows markup in the data as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.conftest import Cli
from tests.web.conftest import screenshot, watched
from tests.web.report_html import XSS_FAILING, XSS_MESSAGE, XSS_NAME, ingest_markup_history
from tests.web.test_browser_overview import drawn_charts


@pytest.fixture
def offline_page(browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    """A page with no network: any request but the file itself is aborted and
    recorded, as are console errors, page errors and dialogs."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)

    def only_the_file(route: Route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
            return
        page_errors.append(f"request: {route.request.url}")
        route.abort()

    context.route("**/*", only_the_file)
    opened = watched(context.new_page(), page_errors)
    opened.on(
        "request",
        lambda r: r.url.startswith(("file://", "data:")) or page_errors.append(f"asked: {r.url}"),
    )
    yield opened
    context.close()


def test_the_report_opens_from_disk_offline_with_its_charts(
    offline_page: Page, page_errors: list[str], demo_store_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    code, _out, err = Cli(cwd=tmp_path, db=demo_store_url)("report", "--html", str(target))
    assert code == 0, err
    offline_page.goto(target.as_uri(), wait_until="load")
    charts = drawn_charts(offline_page)
    assert {"pass-rate", "spend-USD", "trend-build_time"} <= set(charts)
    assert all(points > 0 for points in charts.values())
    assert charts["spend-USD"] >= 30  # every day of the window, at least one group each
    assert offline_page.locator("section.tile").count() == 7
    assert offline_page.title().startswith("Report 2026-11-27 12:00 UTC")
    assert screenshot(offline_page, "report").stat().st_size > 10_000
    assert page_errors == []


def test_markup_in_the_data_stays_text_in_the_browser(
    offline_page: Page, page_errors: list[str], tmp_path: Path
) -> None:
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'store.db'}")
    ingest_markup_history(cli, tmp_path)
    target = tmp_path / "markup.html"
    code, _out, err = cli("report", "--html", str(target))
    assert code == 0, err
    offline_page.goto(target.as_uri(), wait_until="load")
    offline_page.wait_for_timeout(200)  # an injected handler would have fired by now
    assert offline_page.locator("img").count() == 0
    assert (
        offline_page.locator("script").count()
        == offline_page.locator("script[type='application/json']").count() + 2
    )
    names = offline_page.locator("td.test-name").all_inner_texts()
    assert f"xss::{XSS_NAME}" in names and f"xss::{XSS_FAILING}" in names
    assert offline_page.locator("#flaky-tests pre").inner_text() == XSS_MESSAGE
    screenshot(offline_page, "report-markup")
    assert page_errors == []


def test_the_offline_page_catches_a_request_outside_the_file(
    offline_page: Page, page_errors: list[str], tmp_path: Path
) -> None:
    """The guard of the tests above: a file that asks for an image is caught."""
    target = tmp_path / "asks.html"
    target.write_text('<!doctype html><img src="https://example.com/pixel.png">')
    offline_page.goto(target.as_uri(), wait_until="load")
    assert any("https://example.com/pixel.png" in error for error in page_errors)
