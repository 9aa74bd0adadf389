"""Sync a repository's GitHub Actions history into the store, incrementally.

What is fetched:
- the runs listing, newest first; a date-filtered listing reaches at most 1,000
  runs, so a window whose total_count hits that cap is bisected by `created`;
- for each run that is new or changed since the store last saw it: its jobs of
  every attempt (`/jobs?filter=all`, steps included) and the run objects of its
  earlier attempts that the store lacks;
- runs that were queued or in progress at the last sync, if the listing did
  not show them again;
- artifacts (repository-wide listing, newest first), workflows, and a snapshot
  of the Actions cache usage.

Every listing page is fetched with the ETag of the last time it was processed:
a 304 costs no quota and means nothing on it changed. Each run is stored in its
own transaction and the cursor moves only at the end of a complete sync, so an
interrupted sync leaves whole runs and is simply repeated.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from pilothouse.errors import PilothouseError
from pilothouse.model import RunAttempt
from pilothouse.sources import github
from pilothouse.sources.github import GitHubApi, GitHubError, Page
from pilothouse.store import Store
from pilothouse.store.github import RunVersion

SEARCH_CAP = 1000
DEFAULT_LOOKBACK = timedelta(days=3)
_ONE_SECOND = timedelta(seconds=1)
_SPOOL_BYTES = 8 << 20  # a downloaded log beyond this goes to a temporary file


@dataclass
class SyncCounts:
    """What one sync added to the store, and what it cost."""

    runs: int = 0
    jobs: int = 0
    steps: int = 0
    artifacts: int = 0
    requests: int = 0
    unchanged: int = 0
    waited_seconds: float = 0.0
    logs: int = 0  # job logs read (--logs)
    logs_expired: int = 0  # job logs GitHub no longer keeps (404/410): noted, not fatal
    cache_events: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "runs": self.runs,
            "jobs": self.jobs,
            "steps": self.steps,
            "artifacts": self.artifacts,
            "requests": self.requests,
        }


@dataclass
class SyncPlan:
    """Which runs to list: all of them, or those created since *start*."""

    start: datetime | None
    workflow: str | None = None

    @property
    def created_filter(self) -> str | None:
        # A date, not a time: the same URL all day long, so its ETag keeps working.
        return f">={self.start.date().isoformat()}" if self.start else None


def plan_sync(
    *,
    cursor: datetime | None,
    since: datetime | None,
    full: bool,
    workflow: str | None,
    lookback: timedelta = DEFAULT_LOOKBACK,
) -> SyncPlan:
    """Decide the window: --full, --since, else from the cursor minus a lookback.

    The lookback re-reads recent runs so that re-runs of them (attempt 2) and
    late status changes are caught; the first sync of a repository reads its
    whole history.
    """
    if full:
        return SyncPlan(None, workflow)
    if since is not None:
        return SyncPlan(since, workflow)
    return SyncPlan(cursor - lookback if cursor else None, workflow)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Context:
    api: GitHubApi
    store: Store
    repo: str
    now: datetime
    counts: SyncCounts = field(default_factory=SyncCounts)
    progress: Callable[[int, int | None], None] = lambda _done, _total: None
    seen: set[str] = field(default_factory=set)
    newest: datetime | None = None

    @property
    def base(self) -> str:
        return f"/repos/{self.repo}"


def _payload(url: str, parse: Callable[[Any], Any], data: Any) -> Any:
    try:
        return parse(data)
    except (KeyError, ValueError, TypeError) as exc:
        raise GitHubError(f"{url}: unexpected answer from GitHub: {exc!r}") from None


def _full_url(ctx: _Context, path: str, params: dict[str, str | int] | None = None) -> str:
    return str(ctx.api.client.build_request("GET", ctx.api.url(path), params=params).url)


def _cached_get(ctx: _Context, url: str) -> Page:
    """GET *url* with the ETag of the last time it was processed.

    On 304 the page is unchanged: its next link comes from the cache.
    """
    cached = ctx.store.cached_etag(ctx.repo, url)
    page = ctx.api.get(url, etag=cached.etag if cached else None)
    if page.not_modified:
        return Page(None, page.etag, cached.next_url if cached else None, not_modified=True)
    return page


def _remember(ctx: _Context, url: str, page: Page) -> None:
    if page.etag and not page.not_modified:
        ctx.store.save_etag(ctx.repo, url, page.etag, page.next_url)


def _listing(ctx: _Context, path: str, params: dict[str, str | int]) -> Iterator[tuple[str, Page]]:
    """Pages of a listing, each with the URL its ETag belongs to."""
    url = _full_url(ctx, path, params)
    while url:
        page = _cached_get(ctx, url)
        yield url, page
        url = page.next_url or ""


def _run_windows(
    ctx: _Context, created: str | None, lo: datetime | None, hi: datetime
) -> Iterator[tuple[str, Page]]:
    """Listing pages for runs created in a window, bisecting windows over the cap."""
    params: dict[str, str | int] = {"per_page": github.PER_PAGE}
    if created:
        params["created"] = created
    pages = _listing(ctx, f"{ctx.base}/actions/runs", params)
    url, first = next(pages)
    total = None if first.not_modified else int(first.data.get("total_count", 0))
    if created and total is not None and total >= SEARCH_CAP and lo is not None:
        if hi - lo > _ONE_SECOND:  # split: newest half first, like the listing itself
            mid = lo + (hi - lo) / 2
            yield from _run_windows(ctx, f"{_iso(mid + _ONE_SECOND)}..{_iso(hi)}", mid, hi)
            yield from _run_windows(ctx, f"{_iso(lo)}..{_iso(mid)}", lo, mid)
            return
    ctx.progress(0, total)
    yield url, first
    yield from pages


def _attempts_to_fetch(version: RunVersion | None, latest: int) -> list[int]:
    """Earlier attempts the store lacks, or holds from before they completed."""
    if version is None:
        return list(range(1, latest))
    return [n for n in range(1, latest) if n not in version.attempts or n in version.unfinished]


def _changed(version: RunVersion | None, run: RunAttempt) -> bool:
    if version is None:
        return True
    return (
        version.latest_attempt != run.attempt
        or version.updated_at != run.updated_at
        or version.status != run.status
    )


def _sync_run(ctx: _Context, data: dict[str, Any], versions: dict[str, RunVersion]) -> None:
    url = f"{ctx.base}/actions/runs/{data.get('id')}"
    latest: RunAttempt = _payload(url, github.run_from_api, data)
    ctx.seen.add(latest.run_key)
    if latest.created_at and (ctx.newest is None or latest.created_at > ctx.newest):
        ctx.newest = latest.created_at
    version = versions.get(latest.run_key)
    if not _changed(version, latest):
        ctx.counts.unchanged += 1
        return
    attempts = [latest]
    for number in _attempts_to_fetch(version, latest.attempt):
        page = ctx.api.get(f"{url}/attempts/{number}")
        attempts.append(_payload(url, github.run_from_api, page.data))
    jobs = []
    for page in ctx.api.pages(f"{url}/jobs", {"filter": "all", "per_page": github.PER_PAGE}):
        jobs.extend(_payload(url, lambda d: [github.job_from_api(j) for j in d["jobs"]], page.data))
    added = ctx.store.store_github_run(ctx.repo, attempts, jobs)
    ctx.counts.runs += added.runs
    ctx.counts.jobs += added.jobs
    ctx.counts.steps += added.steps


def _sync_runs(ctx: _Context, plan: SyncPlan) -> None:
    versions = ctx.store.run_versions(ctx.repo)
    done = 0
    # The filter starts at midnight of the start date: so must a bisection.
    start = datetime.combine(plan.start.date(), time(), UTC) if plan.start else None
    for url, page in _run_windows(ctx, plan.created_filter, start, ctx.now):
        if page.not_modified:
            continue
        runs = page.data.get("workflow_runs")
        if not isinstance(runs, list):
            raise GitHubError(f"{url}: unexpected answer from GitHub: no workflow_runs list")
        for data in runs:
            if plan.workflow and plan.workflow not in (data.get("name"), data.get("path")):
                continue
            _sync_run(ctx, data, versions)
            done += 1
            ctx.progress(done, None)
        if not plan.workflow:  # a filtered page was not fully processed: keep no ETag
            _remember(ctx, url, page)
    for run_key in ctx.store.unfinished_runs(ctx.repo):
        if run_key not in ctx.seen:
            url = _full_url(ctx, f"{ctx.base}/actions/runs/{run_key}")
            try:
                page = _cached_get(ctx, url)
            except GitHubError as exc:
                if exc.status not in (404, 410):
                    raise
                ctx.store.mark_run_gone(ctx.repo, run_key)  # deleted since: stop asking
                continue
            if not page.not_modified:
                _sync_run(ctx, page.data, versions)
                _remember(ctx, url, page)


def _sync_artifacts(ctx: _Context, plan: SyncPlan) -> None:
    params: dict[str, str | int] = {"per_page": github.PER_PAGE}
    processed: list[tuple[str, Page]] = []
    for url, page in _listing(ctx, f"{ctx.base}/actions/artifacts", params):
        if page.not_modified:
            break  # newest first: an unchanged page means nothing newer either
        items = _payload(
            url, lambda d: [github.artifact_from_api(a) for a in d["artifacts"]], page.data
        )
        ctx.counts.artifacts += ctx.store.upsert_artifacts(ctx.repo, items)
        processed.append((url, page))
        oldest = min((a.created_at for a in items if a.created_at), default=None)
        if plan.start and oldest and oldest < plan.start:
            break
    # ETags only once the walk is complete: a 304 on page 1 stops the next walk, so
    # an interrupted walk must not leave page 1 looking done.
    for url, page in processed:
        _remember(ctx, url, page)


def _sync_logs(ctx: _Context) -> None:
    """Each completed job of the runs this sync saw whose log was never read: one API
    request, redirected to a storage host that gets no token. A log GitHub no longer
    keeps (404/410) is noted, so it is not asked for again."""
    from pilothouse.ingest_logs import spooled_input

    for job_id, job_key, _run_key in ctx.store.jobs_without_logs(ctx.repo, sorted(ctx.seen)):
        path = f"{ctx.base}/actions/jobs/{job_key}/logs"
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            try:
                ctx.api.download(path, spool)
            except GitHubError as exc:
                if exc.status not in (404, 410):
                    raise
                ctx.store.mark_job_log_expired(job_id, path, now=ctx.now)
                ctx.counts.logs_expired += 1
                continue
            stored = ctx.store.add_synced_job_log(job_id, spooled_input(path, spool), now=ctx.now)
        ctx.counts.logs += 1
        ctx.counts.cache_events += stored.events


def _sync_workflows_and_cache(ctx: _Context) -> None:
    for url, page in _listing(ctx, f"{ctx.base}/actions/workflows", {"per_page": 100}):
        if page.not_modified:
            continue
        items = _payload(
            url, lambda d: [github.workflow_from_api(w) for w in d["workflows"]], page.data
        )
        ctx.store.upsert_workflows(ctx.repo, items)
        _remember(ctx, url, page)
    usage = ctx.api.get(f"{ctx.base}/actions/cache/usage")
    snapshot = _payload(f"{ctx.base}/actions/cache/usage", github.cache_usage_from_api, usage.data)
    ctx.store.add_cache_usage(ctx.repo, snapshot, taken_at=ctx.now)


def sync_github(
    store: Store,
    api: GitHubApi,
    repo: str,
    *,
    since: datetime | None = None,
    full: bool = False,
    workflow: str | None = None,
    now: datetime,
    progress: Callable[[int, int | None], None] = lambda _done, _total: None,
    logs: bool = False,
) -> SyncCounts:
    """Bring the store up to date with *repo*'s GitHub Actions history (with *logs*,
    the job logs of the runs it saw, for their cache lines)."""
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise PilothouseError(f"--repo {repo!r}: expected OWNER/NAME")
    state = store.sync_state(repo)
    plan = plan_sync(cursor=state.cursor, since=since, full=full, workflow=workflow)
    ctx = _Context(api=api, store=store, repo=repo, now=now, progress=progress)
    _sync_runs(ctx, plan)
    if logs:
        _sync_logs(ctx)
    _sync_artifacts(ctx, plan)
    _sync_workflows_and_cache(ctx)
    cursor = max((c for c in (state.cursor, ctx.newest) if c), default=None)
    store.set_sync_state(repo, cursor=cursor, synced_at=now)
    ctx.counts.requests = api.requests
    ctx.counts.waited_seconds = api.waited
    return ctx.counts


def sync_run(store: Store, api: GitHubApi, repo: str, run_id: int, *, now: datetime) -> SyncCounts:
    """Store one run (every attempt, its jobs and steps, its artifacts) as the sync stores
    it, without moving the sync's cursor: a later `ingest github` still reads every run
    since its last sync (`ci run --ingest`)."""
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise PilothouseError(f"--repo {repo!r}: expected OWNER/NAME")
    ctx = _Context(api=api, store=store, repo=repo, now=now)
    url = f"{ctx.base}/actions/runs/{run_id}"
    before = api.requests
    _sync_run(ctx, api.get(url).data, store.run_versions(repo))
    for page in api.pages(f"{url}/artifacts", {"per_page": github.PER_PAGE}):
        items = _payload(
            url, lambda d: [github.artifact_from_api(a) for a in d["artifacts"]], page.data
        )
        ctx.counts.artifacts += store.upsert_artifacts(repo, items)
    ctx.counts.requests = api.requests - before
    return ctx.counts
