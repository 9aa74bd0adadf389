"""The dashboard's fixtures: a demo store (`pilothouse sample`, built once per session),
the app in-process (`web_client`), and a real Chromium driving it over a loopback
server (`page`)."""

from __future__ import annotations

import contextlib
import html
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Dialog, Page, sync_playwright

from pilothouse.cli import run
from pilothouse.cli.state import State, World
from pilothouse.config import load_config
from pilothouse.store import Store
from pilothouse.web.app import create_app
from tests.conftest import FIXED_NOW

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parents[2] / "test-output" / "screenshots"


def web_state(db: str, cwd: Path, **env: str) -> State:
    """The state `serve` would build with PILOTHOUSE_DB=*db* and *env*, at FIXED_NOW."""
    environment = {"PILOTHOUSE_DB": db, **env}
    config = load_config(path=None, env=environment, flags={}, cwd=cwd)
    return State(config=config, world=World(env=environment, cwd=cwd, clock=lambda: FIXED_NOW))


def load_sample(db: str, cwd: Path) -> None:
    world = World(env={"PILOTHOUSE_DB": db}, cwd=cwd, clock=lambda: FIXED_NOW)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = run(["sample", "--json"], world=world)
    assert code == 0


@pytest.fixture(scope="session")
def demo_store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store holding `pilothouse sample` (60 days up to FIXED_NOW)."""
    folder = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{folder / 'demo.db'}"
    load_sample(url, folder)
    return url


@pytest.fixture(scope="session")
def demo_store(demo_store_url: str) -> Iterator[Store]:
    with Store.open(demo_store_url) as store:
        yield store


@pytest.fixture(scope="session")
def demo_state(demo_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> State:
    return web_state(demo_store_url, tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="session")
def demo_app(demo_state: State, demo_store: Store) -> FastAPI:
    return create_app(demo_state, demo_store)


@pytest.fixture
def web_client(demo_app: FastAPI) -> Iterator[TestClient]:
    """The app over the demo store, in-process (httpx over ASGI), clock at FIXED_NOW."""
    with TestClient(demo_app) as client:
        yield client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """*app* under uvicorn on 127.0.0.1:<free port> in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def server_url(demo_app: FastAPI) -> Iterator[str]:
    with serving(demo_app) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (`make test` installs it), driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Console errors, page errors and failed requests seen by `page`."""
    return []


@pytest.fixture
def page(browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    """A fresh browser page whose console errors and failed requests land in page_errors;
    a dialog (alert, confirm) is an error too, and is dismissed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield watched(context.new_page(), page_errors)
    context.close()


def watched(opened: Page, page_errors: list[str]) -> Page:
    """*opened*, its console errors, page errors, failed requests, HTTP errors and
    dialogs (dismissed) landing in *page_errors*."""
    opened.on("console", lambda m: m.type == "error" and page_errors.append(f"console: {m.text}"))
    opened.on("pageerror", lambda e: page_errors.append(f"page error: {e}"))
    opened.on("requestfailed", lambda r: page_errors.append(f"request failed: {r.url}"))
    opened.on(
        "response",
        lambda r: r.status >= 400 and page_errors.append(f"HTTP {r.status}: {r.url}"),
    )

    def dialog(d: Dialog) -> None:
        page_errors.append(f"dialog: {d.message}")
        d.dismiss()

    opened.on("dialog", dialog)
    return opened


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot under test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# A test whose name is markup, failing with a message that closes a script element: the
# pages must show both as text.
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_MESSAGE = "</script><script>alert(2)</script><b id=injected>boom</b>"
HOSTILE_CLASS = "xss.Suite"


def hostile_report(outcome: str) -> str:
    escaped = HOSTILE_MESSAGE.replace("<", "&lt;").replace(">", "&gt;")
    failure = f'<failure message="{escaped}">{escaped}</failure>' if outcome == "failed" else ""
    return (
        '<?xml version="1.0"?>\n<testsuite name="xss" tests="2">'
        f'<testcase classname="{HOSTILE_CLASS}" name="&lt;img src=x onerror=alert(1)&gt;" '
        f'time="0.25">{failure}</testcase>'
        f'<testcase classname="{HOSTILE_CLASS}" name="plain" time="0.5"/>'
        "</testsuite>\n"
    )


@pytest.fixture(scope="session")
def hostile_store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store of three runs of a suite whose test name and message are markup."""
    folder = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{folder / 'hostile.db'}"
    world = World(env={"PILOTHOUSE_DB": url}, cwd=folder, clock=lambda: FIXED_NOW)
    for run_id, outcome in enumerate(("passed", "failed", "failed"), start=1):
        report = folder / f"report-{run_id}.xml"
        report.write_text(hostile_report(outcome))
        started = f"2026-11-2{run_id}T10:00:00+00:00"
        args = ["ingest", "junit", str(report), "--run-id", str(run_id), "--started", started]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert run(args, world=world) == 0
    return url


@pytest.fixture(scope="session")
def hostile_server_url(
    hostile_store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with Store.open(hostile_store_url) as store:
        state = web_state(hostile_store_url, tmp_path_factory.mktemp("cwd"))
        with serving(create_app(state, store)) as url:
            yield url


def error_detail(response: Any) -> str:
    """The error message of *response*: the JSON `detail` of an /api route, the text of
    the error page of a page's path (a person's browser gets HTML)."""
    if response.headers["content-type"].startswith("application/json"):
        return str(response.json()["detail"])
    assert response.headers["content-type"].startswith("text/html")
    return html.unescape(response.text.split('id="error-detail">', 1)[1].split("</p>", 1)[0])
