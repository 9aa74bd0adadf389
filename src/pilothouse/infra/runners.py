"""Self-hosted GitHub Actions runners: `GET /repos/{owner}/{repo}/actions/runners` and
`GET /orgs/{org}/actions/runners`, every page, parsed into records.

Listing runners needs admin rights (a classic token's `repo` / `admin:org` scope, or the
fine-grained "Administration" / "Self-hosted runners" read permission): a scope whose
listing answers 403 or 404 is skipped with a note, the others are still stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from pilothouse.errors import InputError
from pilothouse.infra.model import Runner
from pilothouse.sources.github import GitHubApi, GitHubError

PER_PAGE = 100


def runners_of(scope: str, pages: Iterable[Any], url: str) -> Iterator[Runner]:
    """The runners of listing pages (``{"total_count": N, "runners": [...]}``)."""
    for data in pages:
        items = data.get("runners") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise InputError(f"{url}: not a runners listing (no 'runners' list)")
        for item in items:
            yield _runner(scope, item, url)


def _runner(scope: str, item: Any, url: str) -> Runner:
    if not isinstance(item, Mapping) or not isinstance(item.get("id"), int):
        raise InputError(f"{url}: a runner without an id")
    labels = tuple(
        str(label["name"])
        for label in item.get("labels") or []
        if isinstance(label, Mapping) and label.get("name")
    )
    return Runner(
        scope=scope,
        runner_id=str(item["id"]),
        name=str(item.get("name") or item["id"]),
        os=str(item.get("os") or ""),
        status=str(item.get("status") or "offline"),
        busy=bool(item.get("busy")),
        labels=labels,
    )


def scopes(repos: Iterable[str], orgs: Iterable[str]) -> dict[str, str]:
    """Each scope's name and its listing's API path."""
    found = {f"repo:{repo}": f"/repos/{repo}/actions/runners" for repo in repos}
    found.update({f"org:{org}": f"/orgs/{org}/actions/runners" for org in orgs})
    return found


def list_runners(
    api: GitHubApi, paths: Mapping[str, str], *, note: Callable[[str], None]
) -> dict[str, list[Runner]]:
    """Every scope's runners; a scope the token may not list (403, 404) is noted and
    left out, so the store keeps what it last knew of it."""
    found: dict[str, list[Runner]] = {}
    for scope, path in paths.items():
        try:
            pages = [page.data for page in api.pages(path, {"per_page": PER_PAGE})]
        except GitHubError as exc:
            if exc.status not in (403, 404):
                raise
            note(f"{scope}: runners not listed: {exc}")
            continue
        found[scope] = list(runners_of(scope, pages, api.url(path)))
    return found
