"""GitHub Actions REST API: a careful client and the parsers of its payloads.

The client paginates by the Link header, retries 5xx and network errors with
exponential backoff and jitter, waits out primary and secondary rate limits
(saying so, within a bound), and sends conditional requests so that unchanged
pages cost no quota. It never prints, logs or stores the token.
"""

from __future__ import annotations

import enum
import random
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import httpx

from pilothouse.config import DEFAULT_GITHUB_API_URL
from pilothouse.errors import PilothouseError
from pilothouse.model import (
    ArtifactRecord,
    CacheUsage,
    JobRecord,
    RunAttempt,
    StepRecord,
    WorkflowRecord,
)

DEFAULT_API_URL = DEFAULT_GITHUB_API_URL
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")
PER_PAGE = 100
API_VERSION = "2022-11-28"


class GitHubError(PilothouseError):
    """The GitHub API refused or failed a request in a way the user must fix."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Token:
    """A token and the variable it came from (named in errors; the value never is)."""

    value: str
    variable: str

    def __repr__(self) -> str:
        return f"Token(variable={self.variable!r})"


def token_from_environment(env: Mapping[str, str]) -> Token:
    for variable in TOKEN_VARIABLES:
        if env.get(variable, "").strip():
            return Token(env[variable].strip(), variable)
    raise GitHubError(
        "no GitHub token: set GITHUB_TOKEN (or GH_TOKEN) to a token with actions:read"
    )


@dataclass(frozen=True, slots=True)
class Page:
    """One API answer: its JSON (None when 304 Not Modified), ETag and next page."""

    data: Any
    etag: str | None
    next_url: str | None
    not_modified: bool = False


@dataclass(frozen=True, slots=True)
class Answer:
    """One API answer as it came: status, headers, JSON (None when not JSON), URL shown."""

    status: int
    headers: Mapping[str, str]
    data: Any
    url: str
    next_url: str | None = None

    @property
    def message(self) -> str:
        body = self.data
        message = body.get("message") if isinstance(body, dict) else None
        return str(message) if message else f"HTTP {self.status}"


@dataclass
class Policy:
    """How patient the client is."""

    retries: int = 5
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 900.0  # in total, over all rate-limit and retry waits
    refused_retries: int = 2  # a refused connection: a couple of quick tries, then give up
    refused_backoff_seconds: float = 0.5


def check_api_url(url: str) -> str:
    """The API root if it is an http(s) URL with a host, else GitHubError: checked
    before any request, so a typo fails at once instead of being retried.

    >>> check_api_url("https://ghe.example/api/v3/")
    'https://ghe.example/api/v3'
    """
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise GitHubError(
            f"{url!r} is not an http(s) URL (the API root: {DEFAULT_API_URL}, "
            "or https://HOST/api/v3 for GitHub Enterprise Server)"
        )
    if parsed.userinfo or parsed.query or parsed.fragment:
        raise GitHubError(
            f"{parsed.scheme}://{parsed.host}/…: the API root takes no credentials, query or "
            "fragment (the token comes from $GITHUB_TOKEN)"
        )
    return str(parsed).rstrip("/")


class Failure(enum.Enum):
    """What a failed request is worth: retrying, a couple of quick tries, or nothing."""

    RETRY = "retry"  # timeouts, dropped connections, 5xx: may well succeed next time
    QUICK = "quick"  # connection refused: a server restarting, or nothing listening
    FINAL = "final"  # name resolution, unsupported scheme, TLS, proxy: will not heal


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def classify(exc: httpx.TransportError) -> tuple[Failure, str]:
    """How to treat a transport error, and one line saying what it was."""
    causes = list(_causes(exc))
    if any(isinstance(c, socket.gaierror) for c in causes):
        return Failure.FINAL, f"cannot resolve the host name ({exc})"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return Failure.QUICK, "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return Failure.RETRY, f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE" in str(exc).upper():
        return Failure.FINAL, f"TLS failure ({exc})"
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
        return Failure.RETRY, f"network error: {exc or type(exc).__name__}"
    return Failure.FINAL, f"{type(exc).__name__}: {exc}"


def _next_link(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    return link.get("url") if link else None


class GitHubApi:
    """A GitHub REST client for one repository.

    *client* carries the transport (tests hand in an ``httpx.MockTransport``);
    *sleep*, *clock* and *rng* are injected so waits are testable; *notify*
    receives one-line messages about waits.
    """

    def __init__(
        self,
        client: httpx.Client,
        token: Token,
        *,
        api_url: str = DEFAULT_API_URL,
        policy: Policy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        notify: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self.client = client
        self.token = token
        self.api_url = check_api_url(api_url)
        self.policy = policy or Policy()
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        self.notify = notify
        self.requests = 0
        self.waited = 0.0

    def url(self, path: str) -> str:
        """An API path made absolute; an absolute URL (a Link header's) must stay on the
        API's own host, since the token goes with it."""
        if not path.startswith(("http://", "https://")):
            return f"{self.api_url}{path}"
        if httpx.URL(path).netloc != httpx.URL(self.api_url).netloc:
            raise GitHubError(
                f"{httpx.URL(path).copy_with(query=None)}: refusing to send the token to a host "
                f"other than {httpx.URL(self.api_url).host}"
            )
        return path

    def get(
        self, path: str, params: Mapping[str, str | int] | None = None, *, etag: str | None = None
    ) -> Page:
        """GET one page, retrying what is worth retrying."""
        url = self.url(path)  # checks the host before the token goes anywhere
        headers = {
            "Authorization": f"Bearer {self.token.value}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        if etag:
            headers["If-None-Match"] = etag
        return self._page(self._send(url, params, headers), url)

    def answer(self, path: str, params: Mapping[str, str | int] | None = None) -> Answer:
        """GET one page and hand back whatever GitHub said (4xx included, not raised),
        with its headers: for callers that judge the status themselves (`doctor`).
        Retries, rate-limit waits and the host check are those of `get`."""
        url = self.url(path)
        headers = {
            "Authorization": f"Bearer {self.token.value}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        response = self._send(url, params, headers)
        try:
            data = response.json() if response.content else None
        except (ValueError, RecursionError):
            data = None
        return Answer(
            response.status_code, response.headers, data, _shown(url), _next_link(response)
        )

    def send(self, method: str, path: str, body: Mapping[str, Any], *, permission: str) -> Page:
        """One write (POST, PATCH) with the same retries and rate-limit waits as GET.
        *permission* is what a 403 says the token lacks (``contents:write``)."""
        url = self.url(path)
        headers = {
            "Authorization": f"Bearer {self.token.value}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        response = self._send(url, None, headers, method=method, body=body)
        return self._page(response, url, permission=permission)

    def _send(
        self,
        url: str,
        params: Mapping[str, str | int] | None,
        headers: Mapping[str, str],
        *,
        sink: IO[bytes] | None = None,
        method: str = "GET",
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """One request (a GET unless *method* says), retried while worth it. With *sink*
        (downloads), a redirect is not followed (the caller decides where the token may go)
        and a 200 answer's body is streamed into it."""
        failures = 0
        while True:
            try:
                self.requests += 1
                response = self._get_once(url, params, headers, sink, method, body)
            except httpx.TransportError as exc:
                failures += 1
                kind, what = classify(exc)
                self._retry_or_raise(failures, _shown(url), what, kind=kind)
                continue
            wait = self._rate_limit_wait(response)
            if wait is not None:
                self._wait(wait, _shown(url), why=_limit_reason(response))
                continue
            if response.status_code >= 500:
                failures += 1
                self._retry_or_raise(
                    failures, _shown(url), f"HTTP {response.status_code}", http=True
                )
                continue
            return response

    def _get_once(
        self,
        url: str,
        params: Mapping[str, str | int] | None,
        headers: Mapping[str, str],
        sink: IO[bytes] | None,
        method: str = "GET",
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        if sink is None:  # API answers: the client's own redirect policy, as ever
            return self.client.request(method, url, params=params, headers=headers, json=body)
        with self.client.stream(
            "GET", url, params=params, headers=headers, follow_redirects=False
        ) as response:
            if response.status_code == 200:
                sink.seek(0)
                sink.truncate()
                for chunk in response.iter_bytes():
                    sink.write(chunk)
            else:
                response.read()
            return response

    def download(self, path: str, sink: IO[bytes]) -> str:
        """GET an API path that answers with a redirect to a storage host (job logs), and
        stream the file into *sink*; the URL it came from, without its query.

        The token goes to the API only: the redirect is followed WITHOUT it (the
        storage URL is signed), and its query (the signature) is never printed or kept.
        404 or 410 (an expired log) raise GitHubError with that status.
        """
        url = self.url(path)
        headers = {
            "Authorization": f"Bearer {self.token.value}",
            "X-GitHub-Api-Version": API_VERSION,
        }
        response = self._send(url, None, headers, sink=sink)
        for _hop in range(5):
            location = response.headers.get("location")
            if response.status_code not in (301, 302, 303, 307, 308) or not location:
                break
            url = str(httpx.URL(url).join(location))
            response = self._send(url, None, {}, sink=sink)  # no token beyond the API
        if response.status_code in (404, 410):
            raise GitHubError(f"{_shown(url)}: gone ({response.status_code})", status=404)
        if response.status_code != 200:
            self._page(response, _shown(url))  # raises the usual errors
            raise GitHubError(
                f"{_shown(url)}: HTTP {response.status_code}", status=response.status_code
            )
        return _shown(url)

    def _page(
        self, response: httpx.Response, url: str, *, permission: str = "actions:read"
    ) -> Page:
        status = response.status_code
        if status == 304:
            return Page(None, response.headers.get("etag"), None, not_modified=True)
        if status == 204:  # No Content: a write that answers nothing (a dispatch)
            return Page(None, None, None)
        if status == 401:
            raise GitHubError(
                f"{url}: GitHub refused the token from ${self.token.variable} "
                "(401 Bad credentials): check that it is valid and not expired"
            )
        if status == 404:
            raise GitHubError(
                f"{url}: not found (404): the repository does not exist or the token "
                f"from ${self.token.variable} cannot see it",
                status=404,
            )
        if status == 403:
            raise GitHubError(
                f"{url}: forbidden (403): the token from ${self.token.variable} lacks "
                f"permission (needs {permission}): {_message(response)}",
                status=403,
            )
        if status >= 400:
            raise GitHubError(f"{url}: HTTP {status}: {_message(response)}", status=status)
        try:
            data = response.json()
        except (ValueError, RecursionError):  # nested too deeply: no API answer either
            raise GitHubError(f"{url}: answer is not JSON (HTTP {status})") from None
        return Page(data, response.headers.get("etag"), _next_link(response))

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying, or None if this is no rate-limit answer."""
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        retry_after = headers.get("retry-after")
        if retry_after is not None and retry_after.strip().isdigit():
            return float(retry_after)
        if headers.get("x-ratelimit-remaining") == "0":
            reset = headers.get("x-ratelimit-reset", "")
            if reset.strip().isdigit():
                return max(float(reset) - self.clock().timestamp(), 0.0) + 1.0
            return 60.0
        if "secondary rate limit" in _message(response).lower():
            return 60.0  # GitHub: without retry-after, wait at least a minute
        return None

    def _wait(self, seconds: float, url: str, *, why: str) -> None:
        if self.waited + seconds > self.policy.max_wait_seconds:
            raise GitHubError(
                f"{url}: {why}: waiting {seconds:.0f} s more would exceed the bound of "
                f"{self.policy.max_wait_seconds:.0f} s in total; try again later"
            )
        self.notify(f"GitHub {why}: waiting {seconds:.0f} s")
        self.waited += seconds
        self.sleep(seconds)

    def _retry_or_raise(
        self,
        failures: int,
        url: str,
        what: str,
        *,
        kind: Failure = Failure.RETRY,
        http: bool = False,
    ) -> None:
        """Wait before the next try (exponential backoff with jitter), or raise when
        the failure cannot heal or the tries or the time are used up."""
        quick = kind is Failure.QUICK
        retries = self.policy.refused_retries if quick else self.policy.retries
        first = self.policy.refused_backoff_seconds if quick else self.policy.backoff_seconds
        base = first * 2 ** (failures - 1)
        delay = base + self.rng.uniform(0, base)
        tries = f"after {failures} {'try' if failures == 1 else 'tries'}"
        if kind is Failure.FINAL:
            raise GitHubError(f"{url}: cannot reach GitHub ({what}); not retried")
        if failures > retries or self.waited + delay > self.policy.max_wait_seconds:
            if http:
                raise GitHubError(f"{url}: GitHub answered {what} {tries}")
            raise GitHubError(f"{url}: cannot reach GitHub ({what}) {tries}")
        self._wait(delay, url, why=f"{what}, retry {failures}")

    def pages(self, path: str, params: Mapping[str, str | int] | None = None) -> Iterator[Page]:
        """Every page of a listing, following the Link header."""
        page = self.get(path, params)
        yield page
        while page.next_url:
            page = self.get(page.next_url)
            yield page


def _shown(url: str) -> str:
    """A URL safe to print: no query (a signed storage URL carries its signature there)."""
    return str(httpx.URL(url).copy_with(query=None, fragment=None))


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return response.text[:200].strip()
    message = body.get("message") if isinstance(body, dict) else None
    return str(message) if message else response.reason_phrase


def _limit_reason(response: httpx.Response) -> str:
    if response.headers.get("retry-after") or "secondary" in _message(response).lower():
        return "secondary rate limit"
    return "rate limit exhausted"


# -- payload parsers (pure) ----------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """GitHub's ISO 8601 timestamps ("2023-01-10T08:24:19Z", with .000Z on steps)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _key(value: Any) -> str | None:
    return None if value is None else str(value)


def run_from_api(data: Mapping[str, Any]) -> RunAttempt:
    return RunAttempt(
        run_key=str(data["id"]),
        attempt=int(data.get("run_attempt") or 1),
        workflow=data.get("name"),
        workflow_key=_key(data.get("workflow_id")),
        run_number=data.get("run_number"),
        event=data.get("event"),
        branch=data.get("head_branch"),
        commit=data.get("head_sha"),
        status=data.get("status"),
        conclusion=data.get("conclusion"),
        created_at=parse_time(data.get("created_at")),
        started_at=parse_time(data.get("run_started_at")),
        updated_at=parse_time(data.get("updated_at")),
        html_url=data.get("html_url"),
    )


def step_from_api(data: Mapping[str, Any]) -> StepRecord:
    return StepRecord(
        number=int(data["number"]),
        name=str(data.get("name") or ""),
        status=data.get("status"),
        conclusion=data.get("conclusion"),
        started_at=parse_time(data.get("started_at")),
        finished_at=parse_time(data.get("completed_at")),
    )


def job_from_api(data: Mapping[str, Any]) -> JobRecord:
    return JobRecord(
        job_key=str(data["id"]),
        run_key=str(data["run_id"]),
        attempt=int(data.get("run_attempt") or 1),
        name=str(data.get("name") or ""),
        status=data.get("status"),
        conclusion=data.get("conclusion"),
        created_at=parse_time(data.get("created_at")),
        started_at=parse_time(data.get("started_at")),
        finished_at=parse_time(data.get("completed_at")),
        runner_labels=tuple(str(label) for label in data.get("labels") or ()),
        runner_name=data.get("runner_name"),
        steps=tuple(step_from_api(step) for step in data.get("steps") or ()),
    )


def artifact_from_api(data: Mapping[str, Any]) -> ArtifactRecord:
    run = data.get("workflow_run") or {}
    return ArtifactRecord(
        artifact_key=str(data["id"]),
        run_key=_key(run.get("id")),
        name=str(data.get("name") or ""),
        size_bytes=int(data.get("size_in_bytes") or 0),
        digest=data.get("digest"),
        expired=bool(data.get("expired")),
        created_at=parse_time(data.get("created_at")),
        expires_at=parse_time(data.get("expires_at")),
        updated_at=parse_time(data.get("updated_at")),
    )


def workflow_from_api(data: Mapping[str, Any]) -> WorkflowRecord:
    return WorkflowRecord(
        workflow_key=str(data["id"]),
        name=str(data.get("name") or ""),
        path=str(data.get("path") or ""),
        state=str(data.get("state") or ""),
        created_at=parse_time(data.get("created_at")),
        updated_at=parse_time(data.get("updated_at")),
    )


def cache_usage_from_api(data: Mapping[str, Any]) -> CacheUsage:
    return CacheUsage(
        active_caches_count=int(data.get("active_caches_count") or 0),
        active_caches_size_bytes=int(data.get("active_caches_size_in_bytes") or 0),
    )
