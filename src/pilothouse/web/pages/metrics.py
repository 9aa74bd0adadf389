"""`/metrics`: the Prometheus exposition, read from the store at each scrape (the same
collector as `pilothouse metrics`). Outside the nav bar; behind the token when one is set."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from pilothouse.web.deps import StateDep, StoreDep
from pilothouse.web.metrics import metrics_payload

router = APIRouter()
NAV: tuple[str, str] | None = None


@router.get("/metrics")
def metrics(store: StoreDep, state: StateDep) -> Response:
    """A plain `def`: a scrape reads the store, so it runs in the thread pool."""
    body, content_type = metrics_payload(state, store)
    return Response(body, media_type=content_type)
