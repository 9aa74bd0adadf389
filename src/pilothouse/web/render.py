"""Pages as HTML: a template from the app's environment, with what base.html needs
(the nav bar, the window selector) and JSON responses written like `--json`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

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
