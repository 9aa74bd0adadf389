"""The dashboard's ASGI app: `create_app(state, store)` builds it, in-process for tests
and under uvicorn for `pilothouse serve`."""

from __future__ import annotations

import importlib
from pathlib import Path

import jinja2
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from pilothouse import __version__
from pilothouse.cli import output
from pilothouse.cli.state import State
from pilothouse.store import Store
from pilothouse.web.auth import TokenAuth
from pilothouse.web.pages import PAGES
from pilothouse.web.render import http_error
from pilothouse.web.sections import when_text

HERE = Path(__file__).parent


def page_modules() -> list[tuple[APIRouter, tuple[str, str] | None]]:
    """Each registered page's (router, NAV), in PAGES order."""
    found = []
    for name in PAGES:
        module = importlib.import_module(f"pilothouse.web.pages.{name}")
        found.append((module.router, module.NAV))
    return found


def templates() -> jinja2.Environment:
    """The pages' templates; autoescape on for everything. Filters `seconds`,
    `percent` and `when` write numbers as the CLI's tables write them; `counted` a count
    and its noun."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        seconds=output.seconds, percent=output.percent, when=when_text, counted=counted
    )
    return environment


def counted(count: int, noun: str) -> str:
    """*count* and *noun*, plural unless one: `1 run`, `2 runs`, `0 failures`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def create_app(state: State, store: Store) -> FastAPI:
    """The app over *store*, reading settings and the clock from *state*."""
    app = FastAPI(
        title="pilothouse",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.state = state
    app.state.store = store
    app.state.templates = templates()
    pages = page_modules()
    app.state.nav = tuple(nav for _, nav in pages if nav is not None)
    for router, _ in pages:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, http_error)
    token = str(state.config["serve.token"])
    if token:
        app.add_middleware(TokenAuth, token=token)
    return app


def get_paths(app: FastAPI) -> list[str]:
    """Every GET route's path template (`/api/tests/{test}`), from the app's own route
    table (its OpenAPI description: routes added later are found too)."""
    paths = app.openapi()["paths"]
    return sorted(path for path, operations in paths.items() if "get" in operations)
