"""Trigger a workflow_dispatch event and find the run it started (the API edge).

GitHub answers a dispatch with 204 and no run id, unless asked for `return_run_details`
(since 2026-02-19: 200 with `workflow_run_id`); a server that predates the parameter
refuses it (422 naming it), and is asked again without. Without an id the run is found
as `gh workflow run` finds it: the workflow's runs with event workflow_dispatch on the
ref, created after the dispatch (less a minute of clock skew), that were not there
before it, polled until one appears.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pilothouse.ci.polling import ConditionalGets
from pilothouse.ci.workflow import MAX_WORKFLOW_BYTES, DispatchTrigger, dispatch_trigger
from pilothouse.errors import ConfigError, InputError
from pilothouse.sources.github import GitHubApi, GitHubError, parse_time

CLOCK_SKEW = timedelta(minutes=1)
NO_TRIGGER = "does not have 'workflow_dispatch' trigger"


@dataclass(frozen=True, slots=True)
class Workflow:
    """A registered workflow, as GET /actions/workflows/{id} shows it."""

    id: int
    name: str
    path: str
    state: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Workflow:
        return cls(int(data["id"]), str(data["name"]), str(data["path"]), str(data["state"]))


def _is_file_name(key: str) -> bool:
    return key.endswith((".yml", ".yaml"))


def find_workflow(api: GitHubApi, repo: str, key: str) -> Workflow:
    """The workflow named by *key*: its id, file name (`ci.yml`), path
    (`.github/workflows/ci.yml`) or name (`CI`)."""
    base = f"/repos/{repo}/actions/workflows"
    try:
        return _find_workflow(api, repo, key, base)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:  # not GitHub's shape
        raise GitHubError(f"{base}: unexpected answer from GitHub: {exc!r}") from None


def _find_workflow(api: GitHubApi, repo: str, key: str, base: str) -> Workflow:
    if key.isdigit() or _is_file_name(key):
        try:
            page = api.get(f"{base}/{key.rsplit('/', 1)[-1]}")
        except GitHubError as exc:
            if exc.status == 404:
                raise ConfigError(f"{repo}: no workflow {key!r} registered on GitHub") from None
            raise
        return Workflow.from_api(page.data)
    known: list[Workflow] = []
    for page in api.pages(base, {"per_page": 100}):
        known += [Workflow.from_api(w) for w in page.data.get("workflows") or ()]
    for workflow in known:
        if key in (workflow.name, workflow.path):
            return workflow
    names = ", ".join(sorted(w.name for w in known)) or "none"
    raise ConfigError(f"{repo}: no workflow named {key!r} (registered: {names})")


def web_root(api_url: str) -> str:
    """The web site of a GitHub API root.

    >>> web_root("https://api.github.com"), web_root("https://ghe.example/api/v3")
    ('https://github.com', 'https://ghe.example')
    """
    if api_url.rstrip("/") == "https://api.github.com":
        return "https://github.com"
    return api_url.rstrip("/").removesuffix("/api/v3")


def default_ref(api: GitHubApi, repo: str) -> str:
    """The repository's default branch, from GitHub."""
    branch = api.get(f"/repos/{repo}").data.get("default_branch")
    if not isinstance(branch, str) or not branch:
        raise GitHubError(f"/repos/{repo}: GitHub gave no default_branch: pass --ref")
    return branch


def _decoded(data: Mapping[str, Any], source: str) -> str:
    if data.get("type") != "file" or data.get("encoding") != "base64":
        raise InputError(f"{source}: not a file GitHub can return (type {data.get('type')!r})")
    try:
        return base64.b64decode(str(data.get("content") or "")).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InputError(f"{source}: not UTF-8 base64 content") from None


def workflow_file(
    api: GitHubApi, repo: str, workflow: Workflow, ref: str, root: Path | None
) -> tuple[str, str]:
    """The workflow file's text and where it was read: the checkout's copy under *root*
    when there is one, else GitHub's at *ref* (the contents API)."""
    local = root / workflow.path if root is not None else None
    if local is not None and local.is_file():
        if local.stat().st_size > MAX_WORKFLOW_BYTES:
            raise InputError(f"{local}: too large for a workflow file")
        try:
            return local.read_text(encoding="utf-8"), str(local)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{local}: cannot read: {exc}") from None
    source = f"{workflow.path}@{ref}"
    try:
        page = api.get(f"/repos/{repo}/contents/{workflow.path}", {"ref": ref})
    except GitHubError as exc:
        if exc.status != 404:
            raise
        raise ConfigError(
            f"{source}: not on GitHub (no branch or tag {ref!r}, or the file is not pushed there)"
        ) from None
    return _decoded(page.data, source), source


def trigger_of(text: str, source: str) -> DispatchTrigger:
    """The file's dispatch trigger, or a ConfigError naming the file and the fix."""
    trigger = dispatch_trigger(text, source=source)
    if trigger is None:
        raise ConfigError(
            f"{source}: the workflow has no workflow_dispatch trigger, so it cannot be run "
            "on demand: add `workflow_dispatch:` under `on:`"
        )
    return trigger


def dispatch(
    api: GitHubApi, repo: str, workflow: Workflow, ref: str, inputs: Mapping[str, str]
) -> int | None:
    """Create the workflow_dispatch event; the run id when the server returns it."""
    path = f"/repos/{repo}/actions/workflows/{workflow.id}/dispatches"
    body: dict[str, Any] = {"ref": ref, "inputs": dict(inputs), "return_run_details": True}
    try:
        page = _post(api, path, body, workflow)
    except GitHubError as exc:
        if exc.status not in (400, 422) or "return_run_details" not in str(exc):
            raise
        del body["return_run_details"]  # a server that predates it
        page_data = _post(api, path, body, workflow).data
        return _run_id(page_data)
    return _run_id(page.data)


def _post(api: GitHubApi, path: str, body: Mapping[str, Any], workflow: Workflow) -> Any:
    try:
        return api.send("POST", path, body, permission="actions:write")
    except GitHubError as exc:
        if NO_TRIGGER in str(exc):
            raise ConfigError(
                f"{workflow.path}: GitHub says the workflow has no workflow_dispatch trigger "
                "(on the ref dispatched): add `workflow_dispatch:` under `on:` and push it"
            ) from None
        raise


def _run_id(data: Any) -> int | None:
    value = data.get("workflow_run_id") if isinstance(data, dict) else None
    return int(value) if isinstance(value, int) else None


def pick_run(
    runs: Sequence[Mapping[str, Any]],
    *,
    workflow_id: int,
    ref: str,
    since: datetime,
    known: set[int],
) -> Mapping[str, Any] | None:
    """The run a dispatch started, among listed *runs*: of the workflow, event
    workflow_dispatch, on *ref*, created at or after *since*, not among the *known*
    runs listed before the dispatch; the earliest such, None if none yet."""
    branch = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    found = [
        run
        for run in runs
        if run.get("workflow_id") == workflow_id
        and run.get("event") == "workflow_dispatch"
        and run.get("head_branch") == branch
        and run.get("id") not in known
        and (parse_time(run.get("created_at")) or since) >= since
    ]
    return min(found, key=lambda r: (str(r.get("created_at")), int(r["id"])), default=None)


@dataclass
class RunSearch:
    """The listing that finds a dispatched run: its URL parameters and what it held
    before the dispatch."""

    gets: ConditionalGets
    repo: str
    workflow: Workflow
    ref: str
    since: datetime
    known: set[int]

    @classmethod
    def before_dispatch(
        cls, api: GitHubApi, repo: str, workflow: Workflow, ref: str, now: datetime
    ) -> RunSearch:
        search = cls(ConditionalGets(api), repo, workflow, ref, now - CLOCK_SKEW, set())
        search.known = {int(r["id"]) for r in search.listed()}
        return search

    def listed(self) -> list[Mapping[str, Any]]:
        params: dict[str, str | int] = {
            "event": "workflow_dispatch",
            "branch": self.ref.removeprefix("refs/heads/").removeprefix("refs/tags/"),
            "created": f">={self.since.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            "per_page": 100,
        }
        path = f"/repos/{self.repo}/actions/workflows/{self.workflow.id}/runs"
        data = self.gets.get(path, params)
        runs = data.get("workflow_runs") if isinstance(data, dict) else None
        if not isinstance(runs, list):
            raise GitHubError(f"{path}: unexpected answer from GitHub: no workflow_runs list")
        return runs

    def find(self, *, tries: int, interval: float, sleep: Callable[[float], None]) -> int:
        """Poll the listing until the run appears (*tries* times, *interval* apart)."""
        for attempt in range(tries):
            run = pick_run(
                self.listed(),
                workflow_id=self.workflow.id,
                ref=self.ref,
                since=self.since,
                known=self.known,
            )
            if run is not None:
                return int(run["id"])
            if attempt + 1 < tries:
                sleep(interval)
        raise GitHubError(
            f"{self.workflow.path}: dispatched on {self.ref}, but no workflow_dispatch run "
            f"appeared after {tries} looks; see the workflow's runs on GitHub"
        )
