"""Conditional GETs for polling: each URL asked again with the ETag of its last answer,
so an unchanged run or jobs listing is a 304 that costs no rate-limit quota (the sync
keeps its ETags in the store; a poll keeps them for the length of one command)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pilothouse.sources.github import GitHubApi


class ConditionalGets:
    """GETs through *api* (its retries and rate-limit waits) that remember ETags."""

    def __init__(self, api: GitHubApi) -> None:
        self.api = api
        self.not_modified = 0
        self._cache: dict[str, tuple[str, Any]] = {}

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """The JSON at *path*: the remembered answer when GitHub says 304."""
        url = str(self.api.client.build_request("GET", self.api.url(path), params=params).url)
        cached = self._cache.get(url)
        page = self.api.get(url, etag=cached[0] if cached else None)
        if page.not_modified and cached is not None:
            self.not_modified += 1
            return cached[1]
        if page.etag:
            self._cache[url] = (page.etag, page.data)
        return page.data
