"""Pages as HTML: a template from the app's environment, with what base.html needs
(the nav bar, the window selector) and JSON responses written like `--json`."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pilothouse.cli.output import json_text
from pilothouse.web.deps import Window


def page(request: Request, template: str, window: Window | None, **context: Any) -> HTMLResponse:
    """*template* rendered with *context*, the nav bar and the window selector."""
    environment = request.app.state.templates
    html = environment.get_template(template).render(
        nav=request.app.state.nav,
        path=request.url.path,
        window=window,
        # the page's other query parameters (?q=, ?by=): the window selector keeps them
        keep=[(key, value) for key, value in request.query_params.multi_items() if key != "days"],
        **context,
    )
    return HTMLResponse(html)


def api(data: Any) -> Response:
    """*data* as JSON, serialised as the CLI's `--json` serialises it."""
    return Response(json_text(data, indent=None), media_type="application/json")


# Paths that answer JSON or files: their errors stay FastAPI's `{"detail": ...}`.
MACHINE_PATHS = ("/api/", "/metrics", "/static/")


def is_page(path: str) -> bool:
    """Whether *path* is a page a person opens (its errors are HTML too).

    >>> is_page("/tests/x"), is_page("/api/tests"), is_page("/metrics"), is_page("/api")
    (True, False, False, False)
    """
    return not (path == "/api" or path.startswith(MACHINE_PATHS))


def validation_detail(errors: Sequence[Any]) -> str:
    """A request validation failure's errors as one line: `q: String should have ...`."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc'][1:])}: {error['msg']}" for error in errors
    )


async def http_error(request: Request, exc: Exception) -> Response:
    """An error (404, 422...) as a page in the site's frame on a page's path, else JSON."""
    if isinstance(exc, RequestValidationError):
        status, detail, headers = 422, validation_detail(exc.errors()), None
    else:
        assert isinstance(exc, StarletteHTTPException)
        status, detail, headers = exc.status_code, str(exc.detail), exc.headers
    if not is_page(request.url.path):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    html = request.app.state.templates.get_template("error.html").render(
        nav=request.app.state.nav,
        path=request.url.path,
        window=None,
        status=status,
        phrase=HTTPStatus(status).phrase,
        detail=detail,
    )
    return HTMLResponse(html, status_code=status, headers=headers)
