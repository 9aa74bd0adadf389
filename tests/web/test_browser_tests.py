"""The Tests pages in a real Chromium: they load clean, draw, search, follow the window,
and show hostile names and messages as text."""

from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import Page

from tests.web.conftest import HOSTILE_CLASS, HOSTILE_MESSAGE, HOSTILE_NAME, screenshot
from tests.web.test_browser_overview import drawn_charts


def test_the_tests_page_loads_clean_and_draws(
    page: Page, page_errors: list[str], server_url: str
) -> None:
    page.goto(f"{server_url}/tests?days=30", wait_until="networkidle")
    assert drawn_charts(page)["pass-rate"] > 20  # a point per day and series
    assert page.locator("#slowest tr").count() == 26  # the header and 25 rows
    assert page.locator("#flaky tr").count() > 1
    assert page.locator("nav a.current").inner_text() == "Tests"
    screenshot(page, "tests")
    assert page_errors == []


def test_a_flaky_test_links_to_its_history(
    page: Page, page_errors: list[str], server_url: str
) -> None:
    page.goto(f"{server_url}/tests?days=30", wait_until="networkidle")
    link = page.locator("#flaky tr td a").first
    name = link.inner_text()
    link.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#test-name").inner_text() == name
    outcomes = page.locator("#outcomes span")
    assert outcomes.count() > 5
    assert page.locator("#outcomes span.failed, #outcomes span.error").count() >= 1
    assert drawn_charts(page)["durations"] == outcomes.count()
    assert page.locator("#messages tr").count() >= 2
    screenshot(page, "test")
    assert page_errors == []


def test_search_narrows_the_tables(page: Page, page_errors: list[str], server_url: str) -> None:
    page.goto(f"{server_url}/tests?days=30", wait_until="networkidle")
    page.fill("input[name=q]", "timeouts")
    page.click("form.search button")
    page.wait_for_url("**/tests?q=timeouts&days=30")
    names = page.locator("#slowest tr td a").all_inner_texts()
    assert names and all("timeouts" in n for n in names)
    assert page.locator("input[name=q]").input_value() == "timeouts"
    assert page_errors == []


def test_the_window_selector_changes_the_tests_page(
    page: Page, page_errors: list[str], server_url: str
) -> None:
    page.goto(f"{server_url}/tests?days=7", wait_until="networkidle")
    week = drawn_charts(page)["pass-rate"]
    page.click(".window a:text-is('90d')")
    page.wait_for_url("**/tests?days=90")
    page.wait_for_load_state("networkidle")
    assert drawn_charts(page)["pass-rate"] > week
    assert page_errors == []


def no_injection(page: Page) -> None:
    assert page.locator("img").count() == 0
    assert page.locator("#injected").count() == 0
    assert page.evaluate("document.querySelectorAll('script:not([src]):not([type])').length") == 0


def test_a_hostile_name_is_text_on_the_tests_page(
    page: Page, page_errors: list[str], hostile_server_url: str
) -> None:
    page.goto(f"{hostile_server_url}/tests?days=30", wait_until="networkidle")
    test = f"{HOSTILE_CLASS}::{HOSTILE_NAME}"
    assert test in page.locator("#slowest").inner_text()
    assert test in page.locator("#failing").inner_text()
    no_injection(page)
    screenshot(page, "tests-hostile")
    assert page_errors == []


def test_a_hostile_name_and_message_are_text_on_the_test_page(
    page: Page, page_errors: list[str], hostile_server_url: str
) -> None:
    page.goto(f"{hostile_server_url}/tests?days=30", wait_until="networkidle")
    page.locator("#failing a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#test-name").inner_text() == f"{HOSTILE_CLASS}::{HOSTILE_NAME}"
    assert page.locator("#messages pre").first.inner_text() == HOSTILE_MESSAGE
    assert page.locator("#outcomes span").count() == 3
    no_injection(page)
    screenshot(page, "test-hostile")
    assert page_errors == []


def test_a_hostile_search_is_text(
    page: Page, page_errors: list[str], hostile_server_url: str
) -> None:
    query = '"><img src=x onerror=alert(3)>'
    page.goto(f"{hostile_server_url}/tests?q={quote(query)}", wait_until="networkidle")
    assert page.locator("input[name=q]").input_value() == query
    no_injection(page)
    assert page_errors == []
