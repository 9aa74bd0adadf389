"""GitHub's Releases REST API added to the Actions fake (tests/github_fake.py).

Every release starts as a copy of a real `POST /repos/{owner}/{repo}/releases` answer
(tests/data/github/releases__...json, see SOURCES.md) with ids, names, timestamps and URLs
overwritten. Behaviour copied from GitHub:

- `POST /releases` answers 201 with a Location header; a second release for a tag that a
  published release already has is 422 `already_exists` (a draft does not claim its tag).
- `GET /releases/tags/{tag}` finds published releases only: drafts are 404 there, and are
  found only by listing `GET /releases` (newest first, paginated with Link headers).
- `PATCH /releases/{id}` updates the given fields; publishing a draft sets `published_at`.
- A draft's `html_url` is `.../releases/tag/untagged-<hex>` until it is published.
Faults, rate limits and the token check are the Actions fake's.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import httpx

from tests.github_fake import (
    API,
    BAD_CREDENTIALS,
    DOCS,
    WEB,
    FakeGitHub,
    HttpError,
    Json,
    dumps,
    iso,
    legacy_node_id,
    rewrite,
    sha1_hex,
    template,
)

RELEASE_FILE = "releases__GitRelease.testCreateGitTagAndRelease__req3.json"
TEMPLATE_REPO, TEMPLATE_LOGIN = "rickrickston123/RepoTest", "rickrickston123"
FIELDS = ("tag_name", "target_commitish", "name", "body", "draft", "prerelease")
CREATE_DOCS = "https://docs.github.com/rest/releases/releases#create-a-release"


def _validation(field: str, code: str) -> HttpError:
    return HttpError(
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": "Release", "code": code, "field": field}],
            "documentation_url": CREATE_DOCS,
        },
    )


class FakeReleases(FakeGitHub):
    """The Actions fake plus the Releases endpoints, for one repository."""

    def __init__(self, *args: Any, login: str = "release-bot", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.login = login
        self.releases: dict[int, Json] = {}

    # ------------------------------------------------------------ state

    def add_release(self, tag: str, **fields: Any) -> Json:
        """A release as if created through the API (fields as POST takes them)."""
        with self._lock:
            return self._create({"tag_name": tag, **fields})

    def _create(self, fields: Json) -> Json:
        release_id = 28_553_914 + len(self.releases) * 7 + 1
        release: Json = rewrite(template(RELEASE_FILE), TEMPLATE_REPO, self.repo)
        api = f"{API}/repos/{self.repo}/releases/{release_id}"
        release.update(
            id=release_id,
            node_id=legacy_node_id("Release", release_id),
            url=api,
            assets_url=f"{api}/assets",
            upload_url=f"https://uploads.github.com/repos/{self.repo}/releases/{release_id}"
            "/assets{?name,label}",
            author=self._user(self.login, 41_000_000 + len(self.login)),
            created_at=iso(self.now),
            published_at=None,
            target_commitish="main",
            name=None,
            body=None,
            draft=False,
            prerelease=False,
        )
        self._apply(release, fields)
        self.releases[release_id] = release
        return release

    def _apply(self, release: Json, fields: Json) -> None:
        for key in FIELDS:
            if key in fields and fields[key] is not None:
                release[key] = fields[key]
        tag = release["tag_name"]
        release["tarball_url"] = f"{API}/repos/{self.repo}/tarball/{tag}"
        release["zipball_url"] = f"{API}/repos/{self.repo}/zipball/{tag}"
        if release["draft"]:
            untagged = sha1_hex(f"{release['id']}")[:20]
            release["html_url"] = f"{WEB}/{self.repo}/releases/tag/untagged-{untagged}"
        else:
            release["html_url"] = f"{WEB}/{self.repo}/releases/tag/{tag}"
            release["published_at"] = release["published_at"] or iso(self.now)

    def published(self, tag: str) -> list[Json]:
        return [r for r in self.releases.values() if r["tag_name"] == tag and not r["draft"]]

    # ------------------------------------------------------------ HTTP

    def _handle(self, request: httpx.Request) -> httpx.Response:
        try:
            local = self._local_path(request.url.path).rstrip("/")
        except HttpError:
            return super()._handle(request)
        if not local.startswith("/releases"):
            return super()._handle(request)
        if not self._authorized(request):
            return self._finish(request, 401, dumps(BAD_CREDENTIALS), {})
        try:
            status, body, headers = self._releases(request, local)
        except HttpError as error:
            return self._finish(request, error.status, dumps(error.body), {})
        return self._finish(request, status, dumps(body), headers)

    def _releases(self, request: httpx.Request, local: str) -> tuple[int, Any, dict[str, str]]:
        method = request.method
        if local == "/releases" and method == "GET":
            newest = sorted(self.releases.values(), key=lambda r: r["id"], reverse=True)
            page = self._paginate(request, newest, capped=False)
            return 200, page.body, {"link": page.link} if page.link else {}
        if local == "/releases" and method == "POST":
            release = self._create(self._body(request, create=True))
            return 201, release, {"location": release["url"]}
        tag = re.fullmatch(r"/releases/tags/(.+)", local)
        if tag and method == "GET":
            found = self.published(unquote(tag[1]))
            if not found:
                raise HttpError(404, {"message": "Not Found", "documentation_url": DOCS})
            return 200, found[0], {}
        by_id = re.fullmatch(r"/releases/(\d+)", local)
        if by_id and int(by_id[1]) in self.releases and method in ("GET", "PATCH"):
            release = self.releases[int(by_id[1])]
            if method == "PATCH":
                fields = self._body(request, create=False)
                if fields.get("tag_name") not in (None, release["tag_name"]):
                    self._check_free(fields["tag_name"])
                if fields.get("draft") is False or not release["draft"]:
                    self._check_free(fields.get("tag_name") or release["tag_name"], release["id"])
                self._apply(release, fields)
            return 200, release, {}
        raise HttpError(404, {"message": "Not Found", "documentation_url": DOCS})

    def _check_free(self, tag: str, own: int | None = None) -> None:
        if any(r["id"] != own for r in self.published(tag)):
            raise _validation("tag_name", "already_exists")

    def _body(self, request: httpx.Request, *, create: bool) -> Json:
        try:
            fields = json.loads(request.content or b"{}")
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            raise HttpError(400, {"message": "Problems parsing JSON", "documentation_url": DOCS})
        for key in ("draft", "prerelease"):
            if key in fields and not isinstance(fields[key], bool):
                raise _validation(key, "invalid")
        if create:
            if not fields.get("tag_name"):
                raise _validation("tag_name", "missing_field")
            if not fields.get("draft"):
                self._check_free(fields["tag_name"])
        return fields
