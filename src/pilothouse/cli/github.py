"""The GitHub REST client as every command builds it: the token from $GITHUB_TOKEN or
$GH_TOKEN, the sync's retry and rate-limit policy, the command's clock; and the
`--api-url` check. Imports stay inside the functions: `--help` needs none of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from pilothouse.cli.state import State

if TYPE_CHECKING:
    from pilothouse.sources.github import GitHubApi


def checked_api_url(value: str) -> str:
    """--api-url must be an http(s) URL: checked while parsing (exit 2), never retried."""
    from pilothouse.sources.github import GitHubError, check_api_url

    try:
        return check_api_url(value)
    except GitHubError as exc:
        raise typer.BadParameter(str(exc), param_hint="--api-url") from None


@contextmanager
def github_api(
    state: State, *, api_url: str, max_wait: float, notify: Callable[[str], None]
) -> Iterator[GitHubApi]:
    """An API client for the length of the block (*notify*: rate-limit waits, retries)."""
    import httpx

    from pilothouse.sources.github import GitHubApi, Policy, token_from_environment

    with httpx.Client(timeout=30.0, follow_redirects=True) as client:
        yield GitHubApi(
            client,
            token_from_environment(state.env),
            api_url=api_url,
            policy=Policy(max_wait_seconds=max_wait),
            clock=state.now,
            notify=notify,
        )
