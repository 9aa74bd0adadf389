"""The dashboard's pages, in nav-bar order: each module exports `router` (its page and
its /api twin) and `NAV` ((label, path), or None for a page outside the nav bar)."""

from __future__ import annotations

PAGES: tuple[str, ...] = ("overview", "pipelines", "tests", "costs", "build", "infra", "metrics")
