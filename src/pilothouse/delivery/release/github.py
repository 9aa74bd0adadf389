"""GitHub Releases: create or update the release of a tag, idempotently.

Requests go through the sync's client (`pilothouse.sources.github.GitHubApi`): the same
token handling, retries with backoff and rate-limit waits. A release is found by its tag
(``GET /releases/tags/{tag}``), and, since GitHub hides drafts there, by listing
``/releases``; then it is updated (``PATCH``) or created (``POST``). A create that meets
``422 already_exists`` (a retried POST that did land, or a concurrent publisher) looks
the release up again and updates it, so two calls never make two releases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pilothouse.sources.github import GitHubApi, GitHubError

PERMISSION = "contents:write"
LIST_PAGE = 100


@dataclass(frozen=True, slots=True)
class Wanted:
    """What the release should say."""

    tag: str
    name: str
    body: str
    draft: bool = False
    prerelease: bool = False
    target: str | None = None

    def fields(self, *, create: bool) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "tag_name": self.tag,
            "name": self.name,
            "body": self.body,
            "draft": self.draft,
            "prerelease": self.prerelease,
        }
        if self.target and create:
            fields["target_commitish"] = self.target
        return fields


@dataclass(frozen=True, slots=True)
class Published:
    """What publishing did: created, updated or unchanged, and the release as GitHub has it."""

    action: str
    release: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        release = self.release
        return {
            "action": self.action,
            "id": release.get("id"),
            "tag": release.get("tag_name"),
            "name": release.get("name"),
            "draft": release.get("draft"),
            "prerelease": release.get("prerelease"),
            "html_url": release.get("html_url"),
        }


class Releases:
    """The Releases of one repository (OWNER/NAME)."""

    def __init__(self, api: GitHubApi, repository: str) -> None:
        self.api = api
        self.base = f"/repos/{repository}/releases"

    def find(self, tag: str) -> dict[str, Any] | None:
        """The release of *tag*, published or draft, or None."""
        try:
            page = self.api.get(f"{self.base}/tags/{quote(tag, safe='')}")
        except GitHubError as exc:
            if exc.status != 404:
                raise
        else:
            return dict(page.data)
        for page in self.api.pages(self.base, {"per_page": LIST_PAGE}):
            for release in page.data or []:
                if release.get("tag_name") == tag:
                    return dict(release)
        return None

    def publish(self, wanted: Wanted) -> Published:
        """Create the release of ``wanted.tag``, or bring the existing one up to date."""
        existing = self.find(wanted.tag)
        if existing is None:
            try:
                created = self.api.send(
                    "POST", self.base, wanted.fields(create=True), permission=PERMISSION
                )
                return Published("created", dict(created.data))
            except GitHubError as exc:
                if exc.status != 422:
                    raise
                existing = self.find(wanted.tag)
                if existing is None:
                    raise
        fields = wanted.fields(create=False)
        if all(existing.get(key) == value for key, value in fields.items()):
            return Published("unchanged", existing)
        url = f"{self.base}/{existing['id']}"
        updated = self.api.send("PATCH", url, fields, permission=PERMISSION)
        return Published("updated", dict(updated.data))
