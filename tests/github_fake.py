"""A fake of GitHub's REST API: the Actions endpoints a CI sync client reads, for tests and benches.

Payloads are built from real GitHub responses copied under `tests/data/github/` (see SOURCES.md
there): each run, job, artifact and workflow starts as a copy of a real object, and the fake only
overwrites ids, names, timestamps, URLs and states, so key sets, key order and value formats are
GitHub's. Behaviour copied from GitHub, beyond the shapes:

- `GET /actions/runs/{id}` shows the latest attempt with the run's original `created_at`;
  `.../attempts/{n}` shows that attempt with its own `created_at` and `attempts/{n}` job/log URLs.
- Filtered run searches only reach the first `search_cap` matches; `total_count` stays true.
- Link headers, ETag / If-None-Match (304 is free), the core rate-limit headers, and a 403 once
  the hourly quota (`rate_limit`) is spent within a window of the fake clock.

Beyond the list endpoints it also serves /actions/jobs/{id}, /actions/artifacts/{id} and
/actions/workflows/{id or file name}[/runs]. GitHub's own Link headers point at
/repositories/{repo id}/...: pass link_style="repositories" to get that (default: /repos/o/n/...).

Use `httpx.MockTransport(fake.handler)` (or `fake.transport()`), or `with fake.serve() as url:` for
a real loopback HTTP server. Dicts returned by the `add_*` methods are the fake's live state: read
them, don't mutate them.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import math
import random
import re
import socket
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

Json = dict[str, Any]

DATA = Path(__file__).parent / "data" / "github"
RUN_FILE = "actions_runs_N__WorkflowRun.testGetAttempt__req2.json"
JOBS_FILE = "actions_runs_N_jobs__WorkflowRun.test_jobs__req1.json"
ARTIFACTS_FILE = "actions_runs_N_artifacts__Artifact.testGetArtifactsFromWorkflow__req2.json"
WORKFLOWS_FILE = "actions_workflows__Repository.testGetWorkflows__req2.json"
TEMPLATE_REPO, TEMPLATE_LOGIN = "EnricoMi/PyGithub", "EnricoMi"

API = "https://api.github.com"
WEB = "https://github.com"
DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/"
    "rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
NOT_FOUND: Json = {"message": "Not Found", "documentation_url": DOCS}
BAD_CREDENTIALS: Json = {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
RUN_FILTERS = ("created", "status", "event", "branch", "actor", "head_sha", "check_suite_id")
WAITING_STATUSES = ("queued", "waiting", "requested", "pending")
ARTIFACT_RETENTION = timedelta(days=90)
RATE_WINDOW = 3600

JOB_KINDS: list[tuple[str, list[str]]] = [
    ("lint", ["Set up Python", "Run ruff check ."]),
    ("test (3.12)", ["Install dependencies", "Run pytest"]),
    ("test (3.13)", ["Install dependencies", "Run pytest"]),
    ("build", ["Build sdist and wheel", "Run actions/upload-artifact@v4"]),
    ("typecheck", ["Install dependencies", "Run mypy"]),
    ("test (3.11)", ["Install dependencies", "Run pytest"]),
    ("docs", ["Install dependencies", "Build docs"]),
    ("package", ["Build sdist and wheel", "Run twine check dist/*"]),
]
CHECKOUT = "Run actions/checkout@v4"
COMMIT_MESSAGES = [
    "Fix flaky retry in the sync client",
    "Bump ruff from 0.17.5 to 0.17.6",
    "Add cost report for cache usage",
    "Speed up JUnit ingest for large suites",
    "Handle secondary rate limits when paging runs",
    "Document the store schema",
]


# ---------------------------------------------------------------- templates and formats


@cache
def load(name: str) -> Any:
    """A copied real payload from tests/data/github/ (parsed once; callers must copy)."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def template(name: str, *path: str | int) -> Any:
    """A deep copy of one object inside a copied real payload."""
    node = load(name)
    for key in path:
        node = node[key]
    return json.loads(json.dumps(node))


def iso(moment: datetime) -> str:
    """GitHub's timestamp form for runs, jobs and artifacts: 2023-01-10T08:24:19Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_step(moment: datetime) -> str:
    """GitHub's form for step times: 2023-01-10T08:24:27.000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def iso_workflow(moment: datetime) -> str:
    """GitHub's form for workflow times: 2020-04-15T10:48:32.000+10:00 (written here in UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware datetime")
    return moment.astimezone(UTC).replace(microsecond=0)


def rewrite(node: Any, old: str, new: str) -> Any:
    """A deep copy of `node` with `old` replaced by `new` in every string."""
    if isinstance(node, str):
        return node.replace(old, new)
    if isinstance(node, dict):
        return {key: rewrite(value, old, new) for key, value in node.items()}
    if isinstance(node, list):
        return [rewrite(value, old, new) for value in node]
    return node


def _msgpack_uint(value: int) -> bytes:
    if value < 128:
        return bytes([value])
    for marker, size in ((0xCC, 1), (0xCD, 2), (0xCE, 4)):
        if value < 1 << (8 * size):
            return bytes([marker]) + value.to_bytes(size, "big")
    return b"\xcf" + value.to_bytes(8, "big")


def node_id(prefix: str, *ids: int) -> str:
    """A new-style GraphQL id as GitHub writes them: PREFIX_ + base64url(msgpack([0, *ids]))."""
    raw = bytes([0x90 | (len(ids) + 1), 0]) + b"".join(_msgpack_uint(i) for i in ids)
    return f"{prefix}_{base64.urlsafe_b64encode(raw).decode().rstrip('=')}"


def legacy_node_id(kind: str, ident: int) -> str:
    """An old-style GraphQL id, still used for users, artifacts and workflows: '08:Artifact123'."""
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


def sha1_hex(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------- the created= filter


class BadFilter(ValueError):
    pass


DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ONE_MICRO = timedelta(microseconds=1)


def _bound(text: str, *, end: bool) -> datetime:
    """A date's first (or, with end, last) instant; a datetime as itself (UTC if no offset)."""
    text = text.strip().replace(" ", "+")  # an unescaped '+' in a query arrives as a space
    try:
        if DATE_ONLY.match(text):
            start = datetime.combine(date.fromisoformat(text), time(), UTC)
            return start + timedelta(days=1) - ONE_MICRO if end else start
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise BadFilter(text) from error
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def parse_created(text: str) -> tuple[datetime | None, datetime | None]:
    """GitHub's search syntax for dates as an inclusive (low, high) range; None is unbounded."""
    text = text.strip()
    for op in (">=", "<=", ">", "<"):
        if text.startswith(op):
            value = text[len(op) :]
            if op == ">=":
                return _bound(value, end=False), None
            if op == ">":
                return _bound(value, end=True) + ONE_MICRO, None
            if op == "<=":
                return None, _bound(value, end=True)
            return None, _bound(value, end=False) - ONE_MICRO
    if ".." in text:
        low, _, high = text.partition("..")
        return (
            None if low.strip() == "*" else _bound(low, end=False),
            None if high.strip() == "*" else _bound(high, end=True),
        )
    return _bound(text, end=False), _bound(text, end=True)


# ---------------------------------------------------------------- state


@dataclass(frozen=True)
class Step:
    name: str
    number: int
    seconds: int
    kind: str  # setup | main | post | complete


@dataclass
class JobPlan:
    """What a job will do; rendered into a payload for whatever state the attempt is in."""

    job_id: int
    name: str
    steps: list[Step]
    queue_seconds: int
    runner: tuple[int, str, int, str]  # runner_id, runner_name, runner_group_id/_name


@dataclass
class Attempt:
    number: int
    created_at: datetime
    payload: Json  # the run as GET /actions/runs/{id} shows it while this is the latest attempt
    plans: list[JobPlan]
    jobs: list[Json] = field(default_factory=list)


@dataclass
class Run:
    id: int
    created_at: datetime
    workflow: Json
    labels: list[str]
    attempts: list[Attempt] = field(default_factory=list)
    artifacts: list[Json] = field(default_factory=list)

    @property
    def payload(self) -> Json:
        return self.attempts[-1].payload


@dataclass
class Fault:
    prefix: str
    times: int
    respond: Callable[[httpx.Request], httpx.Response]


@dataclass
class Page:
    body: Any
    link: str | None


# ---------------------------------------------------------------- doctor: tokens and access
# (block added for `pilothouse doctor`: who a token is and what it may see)

USER_FILE = "user__AuthenticatedUser.testAttributes__req1.json"
REPOSITORY_FILE = "repos_N__Repository.setUp__req1.json"
# GET /repos/{o}/{r}/actions/workflows `state` values (GitHub's REST reference).
WORKFLOW_STATES = (
    "active", "deleted", "disabled_fork", "disabled_inactivity", "disabled_manually",
)  # fmt: skip
TOKEN_KINDS = ("classic", "fine-grained", "installation")
_REST = "https://docs.github.com/rest"
_FORBIDDEN_BY_KIND = {
    "fine-grained": "Resource not accessible by personal access token",
    "installation": "Resource not accessible by integration",
}


@dataclass
class Grant:
    """What a token is and may do. Classic tokens carry *scopes* (sent back in
    X-OAuth-Scopes on every answer); fine-grained and installation tokens carry
    repository *permissions* (`{"actions": "read"}`); *repos* limits the repositories
    it sees (None: all); *admin* is the user's admin right on the repository."""

    kind: str = "classic"
    scopes: tuple[str, ...] = ("repo", "workflow")
    permissions: dict[str, str] = field(default_factory=dict)
    repos: frozenset[str] | None = None
    admin: bool = True


class HttpError(Exception):
    def __init__(self, status: int, body: Json, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _not_found() -> HttpError:
    return HttpError(404, dict(NOT_FOUND))


# ---------------------------------------------------------------- the fake


class FakeGitHub:
    """GitHub's Actions REST API for one repository, in memory."""

    def __init__(
        self,
        repo: str = "hypha-labs/hypha",
        token: str = "ghp_testtoken",
        *,
        per_page_max: int = 100,
        search_cap: int = 1000,
        clock_start: datetime | None = None,
        rate_limit: int = 5000,
        link_style: str = "repos",
    ) -> None:
        if link_style not in ("repos", "repositories"):
            raise ValueError("link_style is 'repos' or 'repositories'")
        self.repo, self.token = repo, token
        self.owner, self.name = repo.split("/")
        self.per_page_max, self.search_cap = per_page_max, search_cap
        self.rate_limit, self.link_style = rate_limit, link_style
        self.now: datetime = aware(clock_start or datetime.now(UTC))
        self.requests: list[httpx.Request] = []
        self.billable = 0
        self.repo_id = 600_000_000 + int(sha1_hex(repo)[:7], 16) % 100_000_000
        self.owner_id = 100_000_000 + int(sha1_hex(self.owner)[:7], 16) % 50_000_000
        self._used = 0
        self._reset = self._epoch() + RATE_WINDOW
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        self._counter = 0
        self._runs: dict[int, Run] = {}
        self._jobs: dict[int, Json] = {}
        self._artifacts: dict[int, Json] = {}
        self._workflows: dict[int, Json] = {}
        self._run_numbers: dict[int, int] = {}
        self._cache_usage = (0, 0)
        self._repository = self._repository_object()
        self._users: dict[str, Json] = {}
        self._request_id = _request_id(0)
        self.grants: dict[str, Grant] = {token: Grant()}
        self.private, self.default_branch = False, "main"
        self.actions_enabled, self.allowed_actions = True, "all"
        self.files: dict[str, bytes] = {}  # the default branch's files, by path

    # ------------------------------------------------------------ ids and shared objects

    def _next(self, base: int, stride: int) -> int:
        self._counter += 1
        return base + self._counter * stride

    @property
    def api_repo(self) -> str:
        return f"{API}/repos/{self.repo}"

    def _repository_object(self) -> Json:
        repository: Json = rewrite(template(RUN_FILE, "repository"), TEMPLATE_REPO, self.repo)
        repository.update(
            id=self.repo_id,
            node_id=node_id("R", self.repo_id),
            name=self.name,
            full_name=self.repo,
            private=False,
            description=f"{self.name}: test repository served by FakeGitHub",
            fork=False,
            owner=self._user(self.owner, self.owner_id, "Organization"),
        )
        return repository

    def _user(self, login: str, user_id: int, kind: str = "User") -> Json:
        user: Json = rewrite(template(RUN_FILE, "actor"), TEMPLATE_LOGIN, login)
        user.update(
            id=user_id,
            node_id=legacy_node_id(kind, user_id),
            avatar_url=f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
            type=kind,
        )
        return user

    def _actor(self, login: str) -> Json:
        if login not in self._users:
            self._users[login] = self._user(login, 40_000_000 + len(self._users) * 7919)
        return self._users[login]

    # ------------------------------------------------------------ building state

    def add_workflow(self, name: str, path: str, state: str = "active") -> Json:
        workflow_id = 70_000_000 + len(self._workflows) * 1013 + 1
        created = self.now - timedelta(days=400)
        workflow: Json = template(WORKFLOWS_FILE, "workflows", 0)
        workflow.update(
            id=workflow_id,
            node_id=legacy_node_id("Workflow", workflow_id),
            name=name,
            path=path,
            state=state,
            created_at=iso_workflow(created),
            updated_at=iso_workflow(created),
            url=f"{self.api_repo}/actions/workflows/{workflow_id}",
            html_url=f"{WEB}/{self.repo}/blob/main/{path}",
            badge_url=f"{WEB}/{self.repo}/workflows/{quote(name)}/badge.svg",
        )
        self._workflows[workflow_id] = workflow
        return workflow

    def _workflow(self, key: str) -> Json | None:
        for workflow in self._workflows.values():
            if key in (workflow["name"], workflow["path"], str(workflow["id"])):
                return workflow
            if key == workflow["path"].rsplit("/", 1)[-1]:
                return workflow
        return None

    def _workflow_for(self, key: str) -> Json:
        found = self._workflow(key)
        if found is not None:
            return found
        slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-") or "workflow"
        return self.add_workflow(key, f".github/workflows/{slug}.yml")

    def add_run(
        self,
        *,
        workflow: str,
        created_at: datetime,
        status: str = "completed",
        conclusion: str | None = "success",
        jobs: int = 4,
        head_branch: str = "main",
        head_sha: str | None = None,
        event: str = "push",
        runner_labels: list[str] | None = None,
        actor: str = "hypha-dev",
    ) -> Json:
        """Add a run (attempt 1) and its jobs; returns the run as GET .../runs/{id} shows it."""
        if status == "completed" and conclusion is None:
            raise ValueError("a completed run needs a conclusion")
        with self._lock:
            created = aware(created_at)
            wf = self._workflow_for(workflow)
            run = Run(
                self._next(13_000_000_000, 7919), created, wf, runner_labels or ["ubuntu-latest"]
            )
            rng = random.Random(f"{self.repo}:{run.id}")
            sha = head_sha or sha1_hex(f"{self.repo}:{run.id}")
            payload = self._run_payload(run, rng, head_branch, sha, event, actor)
            if conclusion == "startup_failure":
                jobs = 0
            plans = [self._plan(run, i, rng) for i in range(jobs)]
            run.attempts.append(Attempt(1, created, payload, plans))
            self._runs[run.id] = run
            self._render(run, run.attempts[-1], status, conclusion, None)
            return payload

    def _run_payload(
        self, run: Run, rng: random.Random, branch: str, sha: str, event: str, actor: str
    ) -> Json:
        wf = run.workflow
        number = self._run_numbers.get(wf["id"], 0) + 1
        self._run_numbers[wf["id"]] = number
        suite_id = 36_000_000_000 + run.id % 1_000_000_000 * 3
        commit = self._head_commit(run, rng, sha, actor)
        title = commit["message"].splitlines()[0]
        if event in ("schedule", "workflow_dispatch"):
            title = wf["name"]
        url = f"{self.api_repo}/actions/runs/{run.id}"
        payload: Json = dict(load(RUN_FILE))  # the real object's keys, in its order
        payload.update(
            id=run.id,
            name=wf["name"],
            node_id=node_id("WFR", self.repo_id, run.id),
            head_branch=branch,
            head_sha=sha,
            path=wf["path"],
            display_title=title,
            run_number=number,
            event=event,
            workflow_id=wf["id"],
            check_suite_id=suite_id,
            check_suite_node_id=node_id("CS", self.repo_id, suite_id),
            url=url,
            html_url=f"{WEB}/{self.repo}/actions/runs/{run.id}",
            pull_requests=[],
            created_at=iso(run.created_at),
            actor=self._actor(actor),
            run_attempt=1,
            referenced_workflows=[],
            run_started_at=iso(run.created_at),
            triggering_actor=self._actor(actor),
            jobs_url=f"{url}/jobs",
            logs_url=f"{url}/logs",
            check_suite_url=f"{self.api_repo}/check-suites/{suite_id}",
            artifacts_url=f"{url}/artifacts",
            cancel_url=f"{url}/cancel",
            rerun_url=f"{url}/rerun",
            previous_attempt_url=None,
            workflow_url=wf["url"],
            head_commit=commit,
            repository=self._repository,
            head_repository=self._repository,
        )
        return payload

    def _head_commit(self, run: Run, rng: random.Random, sha: str, actor: str) -> Json:
        user = self._actor(actor)
        commit: Json = template(RUN_FILE, "head_commit")
        commit.update(
            id=sha,
            tree_id=sha1_hex(f"tree:{sha}"),
            message=f"{rng.choice(COMMIT_MESSAGES)} (#{rng.randint(100, 999)})",
            timestamp=iso(run.created_at - timedelta(seconds=rng.randint(5, 3600))),
        )
        commit["author"].update(name=actor, email=f"{user['id']}+{actor}@users.noreply.github.com")
        return commit

    def _plan(self, run: Run, index: int, rng: random.Random) -> JobPlan:
        kind, body = JOB_KINDS[index % len(JOB_KINDS)]
        name = kind if index < len(JOB_KINDS) else f"{kind} #{index // len(JOB_KINDS) + 1}"
        return JobPlan(
            job_id=self._next(60_000_000_000, 104_729),
            name=name,
            steps=self._steps(body, rng),
            queue_seconds=rng.choice([2, 3, 4, 6, 9, 14, 25, 48, 95, 170]),
            runner=self._runner(run.labels, rng),
        )

    def _steps(self, body: list[str], rng: random.Random) -> list[Step]:
        """3-6 steps numbered as GitHub numbers them: posts and 'Complete job' after 2m slots."""
        total = rng.randint(3, 6)
        checkout = total >= 5
        mains = ["Set up job"] + ([CHECKOUT] if checkout else [])
        mains += body[-(total - 2 - (2 if checkout else 0)) :]
        posts = [f"Post {CHECKOUT}"] if checkout else []
        m = len(mains)
        steps = [
            Step(label, i + 1, self._step_seconds(label, rng), "setup" if i == 0 else "main")
            for i, label in enumerate(mains)
        ]
        steps += [
            Step(label, 2 * m + 1 - len(posts) + i, rng.randint(0, 2), "post")
            for i, label in enumerate(posts)
        ]
        steps.append(Step("Complete job", 2 * m + 1, rng.randint(0, 1), "complete"))
        return steps

    @staticmethod
    def _step_seconds(label: str, rng: random.Random) -> int:
        if label.startswith(("Run pytest", "Run mypy", "Build")):
            return rng.randint(25, 420)
        if label == "Set up job":
            return rng.randint(1, 4)
        return rng.randint(1, 40)

    def _runner(self, labels: list[str], rng: random.Random) -> tuple[int, str, int, str]:
        if "self-hosted" in labels:
            runner_id = rng.randint(1, 40)
            return runner_id, f"{self.name}-runner-{runner_id:02d}", 1, "Default"
        runner_id = rng.randint(1_000_000_000, 1_000_099_999)
        return runner_id, f"GitHub Actions {runner_id}", 0, "GitHub Actions"

    def finish_run(
        self, run_id: int, conclusion: str = "success", *, at: datetime | None = None
    ) -> None:
        """Complete the latest attempt (and its jobs); updated_at becomes `at` if given."""
        with self._lock:
            run = self._runs[run_id]
            self._render(run, run.attempts[-1], "completed", conclusion, at)

    def rerun(
        self, run_id: int, *, at: datetime, conclusion: str = "success", status: str = "completed"
    ) -> None:
        """Add attempt N+1 (new job ids, same job and step names); earlier attempts stay."""
        with self._lock:
            run = self._runs[run_id]
            previous = run.attempts[-1]
            number = previous.number + 1
            started = aware(at)
            rng = random.Random(f"{self.repo}:{run.id}:{number}")
            plans = [self._replan(run, plan, rng) for plan in previous.plans]
            payload = dict(previous.payload)
            payload.update(
                run_attempt=number,
                run_started_at=iso(started),
                previous_attempt_url=f"{payload['url']}/attempts/{previous.number}",
            )
            run.attempts.append(Attempt(number, started, payload, plans))
            self._render(run, run.attempts[-1], status, conclusion, None)

    def _replan(self, run: Run, plan: JobPlan, rng: random.Random) -> JobPlan:
        steps = [
            Step(s.name, s.number, max(0, s.seconds + rng.randint(-2, 5)), s.kind)
            for s in plan.steps
        ]
        return JobPlan(
            self._next(60_000_000_000, 104_729),
            plan.name,
            steps,
            rng.choice([2, 4, 7, 12, 30]),
            self._runner(run.labels, rng),
        )

    def add_artifact(
        self,
        run_id: int,
        name: str,
        size_in_bytes: int,
        *,
        created_at: datetime | None = None,
        expired: bool = False,
    ) -> Json:
        with self._lock:
            run = self._runs[run_id]
            artifact_id = self._next(2_000_000_000, 31)
            created = aware(created_at) if created_at else self._parse(run.payload["updated_at"])
            expires = created + ARTIFACT_RETENTION
            if expired:
                expires = min(expires, max(created, self.now - timedelta(minutes=1)))
            artifact = self._artifact_payload(run, artifact_id, name, size_in_bytes, created)
            artifact.update(expired=expired, expires_at=iso(expires))
            run.artifacts.append(artifact)
            self._artifacts[artifact_id] = artifact
            return artifact

    def _artifact_payload(
        self, run: Run, artifact_id: int, name: str, size: int, created: datetime
    ) -> Json:
        real = template(ARTIFACTS_FILE, "artifacts", 0)
        url = f"{self.api_repo}/actions/artifacts/{artifact_id}"
        real.update(
            id=artifact_id,
            node_id=legacy_node_id("Artifact", artifact_id),
            name=name,
            size_in_bytes=size,
            url=url,
            archive_download_url=f"{url}/zip",
            created_at=iso(created),
            updated_at=iso(created + timedelta(seconds=2)),
        )
        real["workflow_run"].update(
            id=run.id,
            repository_id=self.repo_id,
            head_repository_id=self.repo_id,
            head_branch=run.payload["head_branch"],
            head_sha=run.payload["head_sha"],
        )
        digest = "sha256:" + hashlib.sha256(f"{artifact_id}:{name}:{size}".encode()).hexdigest()
        artifact: Json = {}
        for key, value in real.items():  # GitHub's docs place digest right after updated_at
            artifact[key] = value
            if key == "updated_at":
                artifact["digest"] = digest
        return artifact

    def set_cache_usage(self, count: int, size_in_bytes: int) -> None:
        self._cache_usage = (count, size_in_bytes)

    # ------------------------------------------------------------ rendering jobs

    def _render(
        self, run: Run, attempt: Attempt, status: str, conclusion: str | None, at: datetime | None
    ) -> None:
        if status == "completed" and conclusion is None:
            raise ValueError("a completed run needs a conclusion")
        limit = aware(at) if at else None
        if limit is not None and limit < attempt.created_at:
            raise ValueError("a run cannot finish before its attempt was created")
        rng = random.Random(f"{self.repo}:{run.id}:{attempt.number}:outcome")
        states = self._job_states(status, conclusion, len(attempt.plans), rng)
        rendered = [
            self._job(run, attempt, plan, job_status, job_conclusion, limit)
            for plan, (job_status, job_conclusion) in zip(attempt.plans, states, strict=True)
        ]
        attempt.jobs = [job for job, _ in rendered]
        for job in attempt.jobs:
            self._jobs[job["id"]] = job
        ends = [end for _, end in rendered]
        settle = timedelta(seconds=2 if status == "completed" else 1)
        updated = limit or (max(ends) + settle if ends else attempt.created_at + settle)
        attempt.payload.update(
            status=status,
            conclusion=conclusion if status == "completed" else None,
            updated_at=iso(updated),
        )

    @staticmethod
    def _job_states(
        status: str, conclusion: str | None, count: int, rng: random.Random
    ) -> list[tuple[str, str | None]]:
        if status in WAITING_STATUSES:
            job_status = "waiting" if status == "waiting" else "queued"
            return [(job_status, None)] * count
        if status != "completed":
            return [
                ("completed", "success") if i == 0 < count - 1 else (status, None)
                for i in range(count)
            ]
        states: list[tuple[str, str | None]] = [("completed", "success")] * count
        if conclusion in ("failure", "timed_out") and count:
            states[rng.randrange(count)] = ("completed", conclusion)
        elif conclusion == "cancelled":
            states = [
                ("completed", "success" if i == 0 < count - 1 else "cancelled")
                for i in range(count)
            ]
        elif conclusion != "success":
            states = [("completed", conclusion)] * count
        return states

    def _job(
        self,
        run: Run,
        attempt: Attempt,
        plan: JobPlan,
        status: str,
        conclusion: str | None,
        limit: datetime | None,
    ) -> tuple[Json, datetime]:
        created = attempt.created_at + timedelta(seconds=2)
        started = created + timedelta(seconds=plan.queue_seconds)
        runner: tuple[int | None, str | None, int | None, str | None] = plan.runner
        steps: list[Json]
        if status in ("queued", "waiting") or conclusion == "skipped":
            started, steps, end, runner = created, [], created, (None, None, None, None)
        elif status == "completed":
            if limit is not None:
                started = max(created, min(started, limit - timedelta(seconds=2)))
            steps, end = self._completed_steps(plan, started, conclusion, limit)
        else:
            steps, end = self._running_steps(plan, started)
        run_payload = attempt.payload
        job: Json = dict(load(JOBS_FILE)["jobs"][0])  # the real object's keys, in its order
        job.update(
            id=plan.job_id,
            run_id=run.id,
            workflow_name=run.workflow["name"],
            head_branch=run_payload["head_branch"],
            run_url=run_payload["url"],
            run_attempt=attempt.number,
            node_id=node_id("CR", self.repo_id, plan.job_id),
            head_sha=run_payload["head_sha"],
            url=f"{self.api_repo}/actions/jobs/{plan.job_id}",
            html_url=f"{WEB}/{self.repo}/actions/runs/{run.id}/job/{plan.job_id}",
            status=status,
            conclusion=conclusion if status == "completed" else None,
            created_at=iso(created),
            started_at=iso(started),
            completed_at=iso(end) if status == "completed" else None,
            name=plan.name,
            steps=steps,
            check_run_url=f"{self.api_repo}/check-runs/{plan.job_id}",
            labels=list(run.labels),
            runner_id=runner[0],
            runner_name=runner[1],
            runner_group_id=runner[2],
            runner_group_name=runner[3],
        )
        return job, end

    @staticmethod
    def _step(
        step: Step,
        status: str,
        conclusion: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> Json:
        payload: Json = dict(load(JOBS_FILE)["jobs"][0]["steps"][0])
        payload.update(
            name=step.name,
            status=status,
            conclusion=conclusion,
            number=step.number,
            started_at=iso_step(start) if start else None,
            completed_at=iso_step(end) if end else None,
        )
        return payload

    def _completed_steps(
        self, plan: JobPlan, started: datetime, conclusion: str | None, limit: datetime | None
    ) -> tuple[list[Json], datetime]:
        seconds = [step.seconds for step in plan.steps]
        if limit is not None:
            room = max(0, int((limit - started).total_seconds()) - 2)
            if sum(seconds) > room:
                seconds = [s * room // sum(seconds) for s in seconds]
        mains = [i for i, step in enumerate(plan.steps) if step.kind == "main"]
        broken = mains[-1] if mains and conclusion in ("failure", "cancelled", "timed_out") else -1
        step_outcome = {"failure": "failure"}.get(conclusion or "", "cancelled")
        steps, clock = [], started
        for i, (step, length) in enumerate(zip(plan.steps, seconds, strict=True)):
            outcome = "success"
            if i == broken:
                outcome = step_outcome
            elif broken >= 0 and i > broken and step.kind == "main":
                outcome, length = "skipped", 0
            end = clock + timedelta(seconds=length)
            steps.append(self._step(step, "completed", outcome, clock, end))
            clock = end
        return steps, clock + timedelta(seconds=1 if limit is None or clock < limit else 0)

    def _running_steps(self, plan: JobPlan, started: datetime) -> tuple[list[Json], datetime]:
        done = len(plan.steps) // 2
        steps, clock = [], started
        for step in plan.steps[:done]:
            end = clock + timedelta(seconds=step.seconds)
            steps.append(self._step(step, "completed", "success", clock, end))
            clock = end
        steps.append(self._step(plan.steps[done], "in_progress", None, clock, None))
        steps += [self._step(step, "queued", None, None, None) for step in plan.steps[done + 1 :]]
        return steps, clock

    # ------------------------------------------------------------ faults

    def _queue(self, prefix: str, times: int, respond: Callable[[httpx.Request], Any]) -> None:
        with self._lock:
            self._faults.append(Fault(prefix, times, respond))

    def fail(
        self,
        path_prefix: str,
        *,
        status: int = 502,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` requests whose URL path starts with `path_prefix` get `status`."""
        content = body if body is not None else {"message": httpx.codes.get_reason_phrase(status)}
        self._queue(
            path_prefix,
            times,
            lambda request: self._finish(request, status, dumps(content), headers or {}, True),
        )

    def disconnect(self, path_prefix: str, *, times: int = 1) -> None:
        """The next `times` requests under `path_prefix` get no response.

        Through the transport httpx raises ConnectError; through serve() the server hangs up
        without answering, which httpx reports as RemoteProtocolError. Not billable.
        """

        def drop(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("[Errno 104] Connection reset by peer", request=request)

        self._queue(path_prefix, times, drop)

    def primary_rate_limit(
        self, path_prefix: str, *, reset_in: int = 30, status: int = 429
    ) -> None:
        def respond(request: httpx.Request) -> httpx.Response:
            body = {
                "message": f"API rate limit exceeded for user ID {self.owner_id}.",
                "documentation_url": RATE_DOCS,
            }
            headers = {
                "x-ratelimit-remaining": "0",
                "x-ratelimit-used": str(self.rate_limit),
                "x-ratelimit-reset": str(self._epoch() + reset_in),
            }
            return self._finish(request, status, dumps(body), headers, True)

        self._queue(path_prefix, 1, respond)

    def secondary_rate_limit(self, path_prefix: str, *, retry_after: int = 7) -> None:
        def respond(request: httpx.Request) -> httpx.Response:
            body = {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                "before you try again. If you reach out to GitHub Support for help, please "
                f"include the request ID {self._request_id}.",
                "documentation_url": SECONDARY_DOCS,
            }
            headers = {"retry-after": str(retry_after)}
            return self._finish(request, 403, dumps(body), headers, True)

        self._queue(path_prefix, 1, respond)

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if path.startswith(fault.prefix):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # ------------------------------------------------------------ transport

    def handler(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            self._request_id = _request_id(len(self.requests))
            fault = self._take_fault(request.url.path)
            if fault is not None:
                return fault.respond(request)
            return self._handle(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """A real HTTP server on 127.0.0.1 answering from this fake; yields its base URL."""
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._http_handler_class())
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="fake-github", daemon=True
        )
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()

    def _http_handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle's
                # algorithm and delayed ACKs add ~40 ms to every answer.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                fake._serve_one(self)

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def _serve_one(self, exchange: http.server.BaseHTTPRequestHandler) -> None:
        length = int(exchange.headers.get("Content-Length") or 0)
        body = exchange.rfile.read(length) if length else b""
        host = exchange.headers.get("Host") or "127.0.0.1"
        request = httpx.Request(
            exchange.command,
            f"http://{host}{exchange.path}",
            headers=list(exchange.headers.items()),
            content=body,
        )
        try:
            response = self.handler(request)
        except httpx.TransportError:
            exchange.close_connection = True  # hang up without answering
            return
        exchange.send_response(response.status_code)
        for key, value in response.headers.multi_items():
            if key.lower() not in ("content-length", "date", "server"):
                exchange.send_header(key, value)
        content = response.content
        if response.status_code != 304:
            exchange.send_header("Content-Length", str(len(content)))
        exchange.end_headers()
        if exchange.command != "HEAD" and response.status_code != 304:
            exchange.wfile.write(content)

    # ------------------------------------------------------------ inspection

    def count(self, path_contains: str = "") -> int:
        """How many requests had `path_contains` in their path and query (as sent)."""
        with self._lock:
            return sum(path_contains in r.url.raw_path.decode() for r in self.requests)

    # ------------------------------------------------------------ HTTP handling

    def _epoch(self) -> int:
        return int(self.now.timestamp())

    def _finish(
        self,
        request: httpx.Request,
        status: int,
        content: bytes,
        headers: dict[str, str],
        is_fault: bool = False,
    ) -> httpx.Response:
        """Charge the request to the rate limit and attach GitHub's headers."""
        if self._epoch() >= self._reset:
            self._used, self._reset = 0, self._epoch() + RATE_WINDOW
        if status != 304:
            self.billable += 1
            if self._used >= self.rate_limit and not is_fault:
                status, headers = 403, {}
                content = dumps(
                    {
                        "message": f"API rate limit exceeded for user ID {self.owner_id}.",
                        "documentation_url": RATE_DOCS,
                    }
                )
            self._used = min(self.rate_limit, self._used + 1)
        base = {
            "content-type": "application/json; charset=utf-8",
            "cache-control": "private, max-age=60, s-maxage=60",
            "x-github-media-type": "github.v3; format=json",
            "x-github-api-version-selected": "2022-11-28",
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(self.rate_limit - self._used),
            "x-ratelimit-reset": str(self._reset),
            "x-ratelimit-used": str(self._used),
            "x-ratelimit-resource": "core",
            "x-github-request-id": self._request_id,
        }
        return httpx.Response(status, headers={**base, **headers}, content=content)

    def _authorized(self, request: httpx.Request) -> bool:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() in ("bearer", "token") and credential.strip() in self.grants

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return self._finish(request, 401, dumps(BAD_CREDENTIALS), {})
        token = self._token_headers(request)
        try:
            page = self._account_route(request) or self._route(request)
        except HttpError as error:
            return self._finish(request, error.status, dumps(error.body), token | error.headers)
        content = dumps(page.body)
        etag = f'W/"{hashlib.sha256(content).hexdigest()}"'
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return self._finish(request, 304, b"", {"etag": etag} | token)
        headers = {"etag": etag} | ({"link": page.link} if page.link else {})
        return self._finish(request, 200, content, headers | token)

    def _local_path(self, path: str) -> str:
        """The part of the path after /repos/{owner}/{name} (or /repositories/{id})."""
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if match and f"{match[1]}/{match[2]}".lower() == self.repo.lower():
            return match[3] or ""
        match = re.fullmatch(r"/repositories/(\d+)(/.*)?", path)
        if match and int(match[1]) == self.repo_id:
            return match[2] or ""
        raise _not_found()

    def _route(self, request: httpx.Request) -> Page:
        if request.method not in ("GET", "HEAD"):
            raise _not_found()
        local = self._local_path(request.url.path).rstrip("/")
        self._check_access(request, local)
        for pattern, action in self._routes():
            match = re.fullmatch(pattern, local)
            if match:
                return action(request, *match.groups())
        raise _not_found()

    def _routes(self) -> list[tuple[str, Callable[..., Page]]]:
        return [
            (r"/actions/runs", self._list_runs),
            (r"/actions/runs/(\d+)", self._get_run),
            (r"/actions/runs/(\d+)/attempts/(\d+)", self._get_attempt),
            (r"/actions/runs/(\d+)/jobs", self._list_jobs),
            (r"/actions/runs/(\d+)/attempts/(\d+)/jobs", self._list_attempt_jobs),
            (r"/actions/runs/(\d+)/artifacts", self._list_run_artifacts),
            (r"/actions/jobs/(\d+)", self._get_job),
            (r"/actions/artifacts", self._list_artifacts),
            (r"/actions/artifacts/(\d+)", self._get_artifact),
            (r"/actions/workflows", self._list_workflows),
            (r"/actions/workflows/([^/]+)", self._get_workflow),
            (r"/actions/workflows/([^/]+)/runs", self._list_workflow_runs),
            (r"/actions/cache/usage", self._cache_usage_page),
            (r"", self._get_repository),
            (r"/actions/permissions", self._actions_permissions),
            (r"/contents/(.+)", self._contents),
        ]

    # ------------------------------------------------------------ endpoints

    def _run_or_error(self, run_id: int | str) -> Run:
        run = self._runs.get(int(run_id))
        if run is None:
            raise _not_found()
        return run

    def _list_runs(self, request: httpx.Request, workflow_id: int | None = None) -> Page:
        params = request.url.params
        runs = [r for r in self._runs.values() if workflow_id in (None, r.workflow["id"])]
        runs = self._filter_runs(runs, params)
        runs.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        capped = any(params.get(name) for name in RUN_FILTERS)
        page = self._paginate(request, runs, capped=capped)
        body = {"total_count": len(runs), "workflow_runs": [r.payload for r in page.body]}
        return Page(body, page.link)

    def _filter_runs(self, runs: list[Run], params: httpx.QueryParams) -> list[Run]:
        if params.get("created"):
            try:
                low, high = parse_created(params["created"])
            except BadFilter as error:
                raise HttpError(
                    422,
                    {"message": f"Invalid created filter: {error}", "documentation_url": DOCS},
                ) from error
            runs = [
                r
                for r in runs
                if (low is None or r.created_at >= low) and (high is None or r.created_at <= high)
            ]
        checks: list[tuple[str, Callable[[Json], list[Any]]]] = [
            ("status", lambda p: [p["status"], p["conclusion"]]),
            ("event", lambda p: [p["event"]]),
            ("branch", lambda p: [p["head_branch"]]),
            ("actor", lambda p: [p["actor"]["login"]]),
            ("head_sha", lambda p: [p["head_sha"]]),
            ("check_suite_id", lambda p: [str(p["check_suite_id"])]),
        ]
        for name, values in checks:
            wanted = params.get(name)
            if wanted:
                runs = [r for r in runs if wanted in values(r.payload)]
        return runs

    def _get_run(self, request: httpx.Request, run_id: str) -> Page:
        return Page(self._run_or_error(run_id).payload, None)

    def _attempt(self, run_id: str, number: str) -> Attempt:
        run = self._run_or_error(run_id)
        if not 1 <= int(number) <= len(run.attempts):
            raise _not_found()
        return run.attempts[int(number) - 1]

    def _get_attempt(self, request: httpx.Request, run_id: str, number: str) -> Page:
        attempt = self._attempt(run_id, number)
        view = dict(attempt.payload)
        view.update(
            created_at=iso(attempt.created_at),
            jobs_url=f"{view['url']}/attempts/{attempt.number}/jobs",
            logs_url=f"{view['url']}/attempts/{attempt.number}/logs",
        )
        return Page(view, None)

    def _jobs_page(self, request: httpx.Request, jobs: list[Json]) -> Page:
        page = self._paginate(request, jobs, capped=False)
        return Page({"total_count": len(jobs), "jobs": page.body}, page.link)

    def _list_jobs(self, request: httpx.Request, run_id: str) -> Page:
        run = self._run_or_error(run_id)
        if request.url.params.get("filter") == "all":
            jobs = [job for attempt in run.attempts for job in attempt.jobs]
        else:
            jobs = run.attempts[-1].jobs
        return self._jobs_page(request, jobs)

    def _list_attempt_jobs(self, request: httpx.Request, run_id: str, number: str) -> Page:
        return self._jobs_page(request, self._attempt(run_id, number).jobs)

    def _get_job(self, request: httpx.Request, job_id: str) -> Page:
        job = self._jobs.get(int(job_id))
        if job is None:
            raise _not_found()
        return Page(job, None)

    def _artifacts_page(self, request: httpx.Request, artifacts: list[Json]) -> Page:
        name = request.url.params.get("name")
        if name:
            artifacts = [a for a in artifacts if a["name"] == name]
        page = self._paginate(request, artifacts, capped=False)
        body = {"total_count": len(artifacts), "artifacts": page.body}
        return Page(body, page.link)

    def _list_run_artifacts(self, request: httpx.Request, run_id: str) -> Page:
        artifacts = sorted(self._run_or_error(run_id).artifacts, key=lambda a: a["id"])
        return self._artifacts_page(request, artifacts)

    def _list_artifacts(self, request: httpx.Request) -> Page:
        newest = sorted(
            self._artifacts.values(), key=lambda a: (a["created_at"], a["id"]), reverse=True
        )
        return self._artifacts_page(request, newest)

    def _get_artifact(self, request: httpx.Request, artifact_id: str) -> Page:
        artifact = self._artifacts.get(int(artifact_id))
        if artifact is None:
            raise _not_found()
        return Page(artifact, None)

    def _list_workflows(self, request: httpx.Request) -> Page:
        workflows = sorted(self._workflows.values(), key=lambda w: w["id"])
        page = self._paginate(request, workflows, capped=False)
        body = {"total_count": len(workflows), "workflows": page.body}
        return Page(body, page.link)

    def _get_workflow(self, request: httpx.Request, key: str) -> Page:
        workflow = self._workflow(key)
        if workflow is None:
            raise _not_found()
        return Page(workflow, None)

    def _list_workflow_runs(self, request: httpx.Request, key: str) -> Page:
        workflow = self._workflow(key)
        if workflow is None:
            raise _not_found()
        return self._list_runs(request, workflow["id"])

    def _cache_usage_page(self, request: httpx.Request) -> Page:
        count, size = self._cache_usage
        body = {
            "full_name": self.repo,
            "active_caches_size_in_bytes": size,
            "active_caches_count": count,
        }
        return Page(body, None)

    # ------------------------------------------------------------ doctor: tokens and access

    def add_token(self, token: str, grant: Grant) -> None:
        """Another token the fake accepts, with what it is and may do."""
        if grant.kind not in TOKEN_KINDS:
            raise ValueError(f"kind is one of {TOKEN_KINDS}")
        self.grants[token] = grant

    def set_workflow_state(self, key: str, state: str) -> Json:
        """Disable or enable a workflow (by name, path, file name or id) as GitHub does."""
        if state not in WORKFLOW_STATES:
            raise ValueError(f"state is one of {WORKFLOW_STATES}")
        workflow = self._workflow(key)
        if workflow is None:
            raise KeyError(key)
        workflow.update(state=state, updated_at=iso_workflow(self.now))
        return workflow

    def _grant(self, request: httpx.Request) -> Grant:
        credential = request.headers.get("authorization", "").partition(" ")[2].strip()
        return self.grants[credential]

    def _token_headers(self, request: httpx.Request) -> dict[str, str]:
        """X-OAuth-Scopes (a classic token's scopes) and X-Accepted-OAuth-Scopes, as
        GitHub sends them on every answer to a classic token; nothing for the others."""
        grant = self._grant(request)
        if grant.kind != "classic":
            return {}
        accepted = "repo" if request.url.path.startswith(("/repos/", "/repositories/")) else ""
        return {"x-oauth-scopes": ", ".join(grant.scopes), "x-accepted-oauth-scopes": accepted}

    def _forbidden(self, grant: Grant, permission: str, docs: str) -> HttpError:
        body = {
            "message": _FORBIDDEN_BY_KIND[grant.kind],
            "documentation_url": f"{_REST}/{docs}",
            "status": "403",
        }
        return HttpError(
            403, body, {"x-accepted-github-permissions": permission} if permission else {}
        )

    def _check_access(self, request: httpx.Request, local: str) -> None:
        """GitHub's answers to a token that may not see the repository (404, as if it
        did not exist) or lacks the permission for its Actions (403)."""
        grant = self._grant(request)
        hidden = grant.repos is not None and self.repo.lower() not in {
            r.lower() for r in grant.repos
        }
        if hidden or (self.private and grant.kind == "classic" and "repo" not in grant.scopes):
            raise _not_found()
        actions = local.startswith("/actions/") and local != "/actions/permissions"
        if actions and grant.kind != "classic" and "actions" not in grant.permissions:
            raise self._forbidden(grant, "actions=read", "actions/workflows")
        contents = local.startswith("/contents/")
        if contents and grant.kind != "classic" and "contents" not in grant.permissions:
            raise self._forbidden(grant, "contents=read", "repos/contents")

    def _account_route(self, request: httpx.Request) -> Page | None:
        """GET /user and GET /installation/repositories: who the token is."""
        path = request.url.path.rstrip("/")
        grant = self._grant(request)
        if request.method != "GET" or path not in ("/user", "/installation/repositories"):
            return None
        if path == "/user":
            if grant.kind == "installation":
                raise self._forbidden(grant, "", "users/users#get-the-authenticated-user")
            return Page(self._authenticated_user(), None)
        if grant.kind != "installation":
            raise _not_found()
        visible = grant.repos is None or self.repo.lower() in {r.lower() for r in grant.repos}
        listed = [self._full_repository()] if visible else []
        body = {"total_count": len(listed), "repository_selection": "selected",
                "repositories": listed}  # fmt: skip
        return Page(body, None)

    def _authenticated_user(self) -> Json:
        login = "hypha-dev"
        user: Json = rewrite(template(USER_FILE), "ahmad88me", login)
        actor = self._actor(login)
        user.update(id=actor["id"], node_id=actor["node_id"], avatar_url=actor["avatar_url"])
        return user

    def _full_repository(self) -> Json:
        full: Json = rewrite(template(REPOSITORY_FILE), "PyGithub/PyGithub", self.repo)
        full = rewrite(full, "PyGithub", self.owner)
        for key in ("id", "node_id", "name", "full_name", "description", "fork", "owner"):
            full[key] = self._repository[key]
        full["organization"] = self._repository["owner"]
        full.update(
            private=self.private,
            visibility="private" if self.private else "public",
            default_branch=self.default_branch,
        )
        return full

    def _get_repository(self, request: httpx.Request) -> Page:
        return Page(self._full_repository(), None)

    def _contents(self, request: httpx.Request, path: str) -> Page:
        """GET .../contents/{directory}: its entries as GitHub lists them (files and
        subdirectories, sorted by name; a file's sha is its git blob SHA). Only
        directories are served; a missing one is GitHub's 404."""
        path = path.strip("/")
        ref = request.url.params.get("ref") or self.default_branch
        inside = sorted(p for p in self.files if p.startswith(f"{path}/"))
        if ref != self.default_branch or not inside:
            docs = f"{_REST}/repos/contents#get-repository-content"
            body = {"message": "Not Found", "documentation_url": docs, "status": "404"}
            raise HttpError(404, body)
        names: dict[str, str] = {}
        for full in inside:
            first = full[len(path) + 1 :].split("/", 1)
            names.setdefault(first[0], "file" if len(first) == 1 else "dir")
        return Page([self._content_entry(f"{path}/{n}", kind, ref) for n, kind in names.items()],
                    None)  # fmt: skip

    def _content_entry(self, path: str, kind: str, ref: str) -> Json:
        if kind == "file":
            content = self.files[path]
            sha = hashlib.sha1(
                f"blob {len(content)}\0".encode() + content, usedforsecurity=False
            ).hexdigest()
            git = f"{self.api_repo}/git/blobs/{sha}"
            html = f"{WEB}/{self.repo}/blob/{ref}/{path}"
            raw: str | None = f"https://raw.githubusercontent.com/{self.repo}/{ref}/{path}"
            size = len(content)
        else:
            sha = sha1_hex(f"tree:{path}")
            git, raw, size = f"{self.api_repo}/git/trees/{sha}", None, 0
            html = f"{WEB}/{self.repo}/tree/{ref}/{path}"
        url = f"{self.api_repo}/contents/{quote(path)}?ref={ref}"
        return {
            "name": path.rsplit("/", 1)[-1], "path": path, "sha": sha, "size": size,
            "url": url, "html_url": html, "git_url": git, "download_url": raw, "type": kind,
            "_links": {"self": url, "git": git, "html": html},
        }  # fmt: skip

    def _actions_permissions(self, request: httpx.Request) -> Page:
        grant = self._grant(request)
        docs = "actions/permissions#get-github-actions-permissions-for-a-repository"
        if grant.kind == "classic" and not grant.admin:
            body = {"message": "Must have admin rights to Repository.",
                    "documentation_url": f"{_REST}/{docs}", "status": "403"}  # fmt: skip
            raise HttpError(403, body)
        if grant.kind != "classic" and "administration" not in grant.permissions:
            raise self._forbidden(grant, "administration=read", docs)
        body: Json = {"enabled": self.actions_enabled}
        if self.actions_enabled:
            body["allowed_actions"] = self.allowed_actions
            if self.allowed_actions == "selected":
                body["selected_actions_url"] = (
                    f"{self.api_repo}/actions/permissions/selected-actions"
                )
            body["sha_pinning_required"] = False
        return Page(body, None)

    # ------------------------------------------------------------ pagination

    def _paginate(self, request: httpx.Request, items: list[Any], *, capped: bool) -> Page:
        params = request.url.params
        per_page = _int(params.get("per_page"), 30)
        per_page = min(per_page if per_page >= 1 else 30, self.per_page_max)
        page = max(1, _int(params.get("page"), 1))
        reachable = min(len(items), self.search_cap) if capped else len(items)
        last = max(1, math.ceil(reachable / per_page))
        start = (page - 1) * per_page
        chunk = items[start : min(start + per_page, reachable)] if start < reachable else []
        return Page(chunk, self._link(request, page, last))

    def _link(self, request: httpx.Request, page: int, last: int) -> str | None:
        """GitHub's Link header: prev, next, last, first, as they apply to this page."""
        rels: list[tuple[int, str]] = []
        if page > 1:
            rels.append((page - 1, "prev"))
        if page < last:
            rels += [(page + 1, "next"), (last, "last")]
        if page > 1:
            rels.append((1, "first"))
        if not rels:
            return None
        base = self._link_base(request)
        items = request.url.params.multi_items()
        return ", ".join(
            f'<{base}?{_with_page(items, number)}>; rel="{rel}"' for number, rel in rels
        )

    def _link_base(self, request: httpx.Request) -> str:
        path = request.url.path
        if self.link_style == "repositories":
            path = re.sub(r"^/repos/[^/]+/[^/]+", f"/repositories/{self.repo_id}", path)
        return f"{request.url.scheme}://{request.url.netloc.decode('ascii')}{path}"

    @staticmethod
    def _parse(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp)


def _request_id(sequence: int) -> str:
    """An id shaped like GitHub's x-github-request-id, e.g. 'C0DE:2A4F:1B7E3:2C9A1:6763A1F0'."""
    digest = hashlib.sha256(str(sequence).encode()).hexdigest().upper()
    return f"{digest[:4]}:{digest[4:8]}:{digest[8:13]}:{digest[13:18]}:{sequence:08X}"


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _with_page(items: list[tuple[str, str]], page: int) -> str:
    """The query with page set to `page`, in place if it was there, appended if not."""
    if any(key == "page" for key, _ in items):
        updated = [(key, str(page) if key == "page" else value) for key, value in items]
    else:
        updated = [*items, ("page", str(page))]
    return urlencode(updated)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    tags = [tag.strip() for tag in header.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == wanted for tag in tags)


# ================================================================ workflow_dispatch (ci run)
#
# A separate block (issue 16, `pilothouse ci run`): DispatchGitHub adds what triggering and
# watching a run needs, on top of FakeGitHub, without touching its routes:
# - POST /repos/{o}/{r}/actions/workflows/{id or file}/dispatches: 204 No Content, or with
#   `return_run_details: true` 200 and {"workflow_run_id", "run_url", "html_url"} (GitHub's
#   answer since 2026-02-19); 422 "Workflow does not have 'workflow_dispatch' trigger" when
#   the workflow file has none, 422 "No ref found for: X" for an unknown branch, 422
#   "Unexpected inputs provided: [...]" for an input the file does not declare; 404 for an
#   unknown workflow. `old_server=True` answers 422 to `return_run_details`, as a GitHub
#   Enterprise Server that predates it does (its message names the parameter).
# - the run it starts appears in run listings only after `hidden_listings` listings (GitHub
#   takes a few seconds to create it) and moves queued -> in_progress -> completed, one
#   state per `polls_per_state` GETs of /actions/runs/{id}: the jobs listing shows the same
#   state, so polling it is what a watcher sees.
# - GET /repos/{o}/{r}: the doctor block's repository, default_branch the first of
#   `branches`; GET /contents/{path}?ref=: a
#   workflow file as the contents API serves it (base64 in `content`, 60 columns a line).

DISPATCH_DOCS = "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event"
CONTENTS_DOCS = "https://docs.github.com/rest/repos/contents#get-repository-content"


@dataclass
class Script:
    """Where a dispatched run is in its life: the states still to show, and how many polls
    the current one has had."""

    states: list[tuple[str, str | None]]
    polls: int = 0


class DispatchGitHub(FakeGitHub):
    """FakeGitHub that also takes workflow_dispatch events and plays out the runs they start."""

    def __init__(
        self,
        *args: Any,
        hidden_listings: int = 1,
        polls_per_state: int = 2,
        old_server: bool = False,
        branches: tuple[str, ...] = ("main",),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.hidden_listings, self.polls_per_state = hidden_listings, polls_per_state
        self.old_server, self.branches = old_server, branches
        self.default_branch = branches[0]  # GET /repos/{o}/{r} (the doctor block) says so
        self.files: dict[str, str] = {}
        self.dispatches: list[Json] = []
        self.outcome: str = "success"  # the conclusion the next dispatched run ends with
        self.jobs_per_run = 3
        self.uploads: list[tuple[str, dict[str, bytes]]] = []  # artifacts every run uploads
        self.zips: dict[int, bytes] = {}
        self._scripts: dict[int, Script] = {}
        self._hidden: dict[int, int] = {}

    def add_workflow_file(self, name: str, path: str, text: str, state: str = "active") -> Json:
        """A registered workflow and its file's content (served by the contents API)."""
        self.files[path] = text
        return self.add_workflow(name, path, state)

    # ------------------------------------------------------------ routes

    def _handle(self, request: httpx.Request) -> httpx.Response:
        storage = re.fullmatch(r"/_storage/artifacts/(\d+)\.zip", request.url.path)
        if storage is not None:  # the signed blob URL: no token, and none is needed
            if request.headers.get("authorization"):
                return self._finish(request, 400, b"token sent to the storage host", {})
            data = self.zips.get(int(storage[1]))
            if data is None:
                return self._finish(request, 404, b"", {})
            return self._finish(request, 200, data, {"content-type": "application/zip"})
        zip_match = re.fullmatch(
            r"/repos/[^/]+/[^/]+/actions/artifacts/(\d+)/zip", request.url.path
        )
        if zip_match is not None and int(zip_match[1]) in self.zips and self._authorized(request):
            base = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
            location = f"{base}/_storage/artifacts/{zip_match[1]}.zip?sig=secret-signature"
            return self._finish(request, 302, b"", {"location": location})
        match = re.fullmatch(
            r"/repos/[^/]+/[^/]+/actions/workflows/([^/]+)/dispatches", request.url.path
        )
        if request.method != "POST" or match is None:
            return super()._handle(request)
        if not self._authorized(request):
            return self._finish(request, 401, dumps(BAD_CREDENTIALS), {})
        try:
            self._local_path(request.url.path)
            return self._dispatch(request, match[1])
        except HttpError as error:
            return self._finish(request, error.status, dumps(error.body), {})

    def _routes(self) -> list[tuple[str, Callable[..., Page]]]:
        return [
            (r"", self._get_repository),
            (r"/contents/(.+)", self._get_contents),
            *super()._routes(),
        ]

    # ------------------------------------------------------------ dispatch

    @staticmethod
    def _unprocessable(message: str) -> HttpError:
        return HttpError(422, {"message": message, "documentation_url": DISPATCH_DOCS})

    def _dispatch(self, request: httpx.Request, key: str) -> httpx.Response:
        workflow = self._workflow(key)
        if workflow is None:
            raise _not_found()
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            raise HttpError(
                400, {"message": "Problems parsing JSON", "documentation_url": DISPATCH_DOCS}
            ) from None
        if not isinstance(body, dict) or not body.get("ref"):
            raise self._unprocessable('Invalid request.\n\n"ref" wasn\'t supplied.')
        details = body.get("return_run_details")
        if details is not None and self.old_server:
            raise self._unprocessable(
                'Invalid request.\n\nNo subschema in "anyOf" matched.\n'
                '"return_run_details" is not a permitted key.'
            )
        declared = _dispatch_inputs(self.files.get(workflow["path"], ""))
        if declared is None:
            raise self._unprocessable("Workflow does not have 'workflow_dispatch' trigger")
        ref = str(body["ref"]).removeprefix("refs/heads/")
        if ref not in self.branches:
            raise self._unprocessable(f"No ref found for: {body['ref']}")
        unexpected = sorted(set(body.get("inputs") or {}) - set(declared))
        if unexpected:
            raise self._unprocessable(f"Unexpected inputs provided: {json.dumps(unexpected)}")
        self.dispatches.append(body)
        run = self.add_run(
            workflow=workflow["name"],
            created_at=self.now,
            status="queued",
            conclusion=None,
            jobs=self.jobs_per_run,
            head_branch=ref,
            event="workflow_dispatch",
        )
        self._scripts[run["id"]] = Script([("in_progress", None), ("completed", self.outcome)])
        self._hidden[run["id"]] = self.hidden_listings
        for name, files in self.uploads:
            self.add_artifact_zip(run["id"], name, files)
        if not details:
            return self._finish(request, 204, b"", {})
        answer = {
            "workflow_run_id": run["id"],
            "run_url": run["url"],
            "html_url": run["html_url"],
        }
        return self._finish(request, 200, dumps(answer), {})

    def add_artifact_zip(self, run_id: int, name: str, files: dict[str, bytes]) -> Json:
        """An artifact of the run whose zip (GET .../artifacts/{id}/zip, a 302 to storage)
        holds *files*."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file_name, data in files.items():
                archive.writestr(file_name, data)
        artifact = self.add_artifact(run_id, name, len(buffer.getvalue()))
        self.zips[artifact["id"]] = buffer.getvalue()
        return artifact

    # ------------------------------------------------------------ playing a run out

    def _advance(self, run_id: int) -> None:
        script = self._scripts.get(run_id)
        if script is None or not script.states:
            return
        script.polls += 1
        if script.polls < self.polls_per_state:
            return
        status, conclusion = script.states.pop(0)
        script.polls = 0
        run = self._runs[run_id]
        self._render(run, run.attempts[-1], status, conclusion, None)

    def _get_run(self, request: httpx.Request, run_id: str) -> Page:
        self._advance(int(run_id))
        return super()._get_run(request, run_id)

    def _list_runs(self, request: httpx.Request, workflow_id: int | None = None) -> Page:
        hidden = {run_id for run_id, left in self._hidden.items() if left > 0}
        for run_id in hidden:
            self._hidden[run_id] -= 1
        shown = self._runs
        self._runs = {k: v for k, v in shown.items() if k not in hidden}
        try:
            return super()._list_runs(request, workflow_id)
        finally:
            self._runs = shown

    # ------------------------------------------------------------ repository and contents

    def _get_contents(self, request: httpx.Request, path: str) -> Page:
        ref = request.url.params.get("ref") or self.branches[0]
        if path not in self.files or ref.removeprefix("refs/heads/") not in self.branches:
            raise HttpError(
                404, {"message": "Not Found", "documentation_url": CONTENTS_DOCS, "status": "404"}
            )
        data = self.files[path].encode()
        encoded = base64.b64encode(data).decode()
        content = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n"
        sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        url = f"{self.api_repo}/contents/{path}?ref={ref}"
        body = {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "size": len(data),
            "url": url,
            "html_url": f"{WEB}/{self.repo}/blob/{ref}/{path}",
            "git_url": f"{self.api_repo}/git/blobs/{sha}",
            "download_url": f"https://raw.githubusercontent.com/{self.repo}/{ref}/{path}",
            "type": "file",
            "content": content,
            "encoding": "base64",
            "_links": {
                "self": url,
                "git": f"{self.api_repo}/git/blobs/{sha}",
                "html": f"{WEB}/{self.repo}/blob/{ref}/{path}",
            },
        }
        return Page(body, None)


def _dispatch_inputs(text: str) -> list[str] | None:
    """The inputs a workflow file's workflow_dispatch trigger declares; None without one.
    (GitHub reads `on:` as a key; PyYAML's YAML 1.1 reads it as True.)"""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    on = data.get("on", data.get(True)) if isinstance(data, dict) else None
    if on == "workflow_dispatch" or (isinstance(on, list) and "workflow_dispatch" in on):
        return []
    if isinstance(on, dict) and "workflow_dispatch" in on:
        trigger = on["workflow_dispatch"] or {}
        return list((trigger.get("inputs") or {}) if isinstance(trigger, dict) else {})
    return None


# ================================================================ self-hosted runners (issue 17)
# GET /repos/{owner}/{repo}/actions/runners and GET /orgs/{org}/actions/runners, shaped as
# https://docs.github.com/rest/actions/self-hosted-runners documents them: `total_count` and
# `runners`, each with id, name, os, status (online|offline), busy, ephemeral and labels
# ({id, name, type: read-only|custom}); org runners also carry runner_group_id. Listing needs
# admin rights: without them GitHub answers 403 "Resource not accessible by integration"
# (a repository) and 404 for an organisation the token cannot administer.

RUNNERS_DOCS = (
    "https://docs.github.com/rest/actions/self-hosted-runners"
    "#list-self-hosted-runners-for-a-repository"
)
NOT_ACCESSIBLE: Json = {
    "message": "Resource not accessible by integration",
    "documentation_url": RUNNERS_DOCS,
    "status": "403",
}
# The labels GitHub gives every self-hosted runner (type read-only), by runner OS.
DEFAULT_RUNNER_LABELS = {"linux": ["self-hosted", "Linux", "X64"],
                         "macos": ["self-hosted", "macOS", "ARM64"],
                         "windows": ["self-hosted", "Windows", "X64"]}  # fmt: skip


class FakeGitHubRunners(FakeGitHub):
    """FakeGitHub that also lists self-hosted runners of the repository and of
    organisations (`add_org` first). `runner_admin` False: the repository's listing
    answers 403, as it does for a token without admin rights."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runner_admin = True
        self._repo_runners: list[Json] = []
        self._org_runners: dict[str, list[Json]] = {}
        self._label_ids: dict[str, int] = {}

    def add_org(self, org: str) -> None:
        self._org_runners.setdefault(org, [])

    def add_runner(
        self,
        name: str,
        custom_labels: list[str],
        *,
        os: str = "linux",
        status: str = "online",
        busy: bool = False,
        org: str | None = None,
    ) -> Json:
        """A registered runner with GitHub's default labels for its OS and *custom_labels*."""
        runner: Json = {
            "id": self._next(1, 1),
            "name": name,
            "os": os,
            "status": status,
            "busy": busy,
            "ephemeral": False,
            "labels": [self._label(label, "read-only") for label in DEFAULT_RUNNER_LABELS[os]]
            + [self._label(label, "custom") for label in custom_labels],
        }
        if org is not None:
            runner = {"id": runner["id"], "runner_group_id": 1} | runner
            self._org_runners[org].append(runner)
        else:
            self._repo_runners.append(runner)
        return runner

    def set_runner(self, name: str, *, status: str, busy: bool) -> None:
        for runner in [*self._repo_runners, *(r for rs in self._org_runners.values() for r in rs)]:
            if runner["name"] == name:
                runner.update(status=status, busy=busy)

    def remove_runner(self, name: str) -> None:
        self._repo_runners = [r for r in self._repo_runners if r["name"] != name]

    def _label(self, name: str, kind: str) -> Json:
        ident = self._label_ids.setdefault(name, len(self._label_ids) + 1)
        return {"id": ident, "name": name, "type": kind}

    def _route(self, request: httpx.Request) -> Page:
        path = request.url.path.rstrip("/")
        org = re.fullmatch(r"/orgs/([^/]+)/actions/runners", path)
        if org is not None and request.method == "GET":
            if org[1] not in self._org_runners:
                raise _not_found()
            return self._runners_page(request, self._org_runners[org[1]])
        if request.method == "GET" and self._local_path(path) == "/actions/runners":
            if not self.runner_admin:
                raise HttpError(403, dict(NOT_ACCESSIBLE))
            return self._runners_page(request, self._repo_runners)
        return super()._route(request)

    def _runners_page(self, request: httpx.Request, runners: list[Json]) -> Page:
        page = self._paginate(request, runners, capped=False)
        return Page({"total_count": len(runners), "runners": page.body}, page.link)
