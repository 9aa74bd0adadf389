"""Links for a repository's web host: PRs ``(#123)``, issue refs, commits, compares.

Works from the remote URL alone (no API): github.com and GitHub Enterprise hosts, in
their https, ssh and scp forms.

>>> Remote.from_url("git@github.example.com:acme/rocket.git").base
'https://github.example.com/acme/rocket'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SCP = re.compile(r"(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)")
_URL = re.compile(r"(?:https?|ssh|git)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<path>.+)")
_PR = re.compile(r"\(#(?P<number>\d+)\)")
_ISSUE = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b:?\s+"
    r"(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)?#(?P<number>\d+)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Remote:
    """A repository on a GitHub (or GitHub Enterprise) web host."""

    host: str
    owner: str
    name: str

    @classmethod
    def from_url(cls, url: str) -> Remote | None:
        """The remote of a git URL, or None when it does not name OWNER/NAME on a host."""
        text = url.strip()
        match = _URL.fullmatch(text) or _SCP.fullmatch(text)
        if match is None:
            return None
        parts = match["path"].strip("/").removesuffix(".git").split("/")
        if len(parts) != 2 or not all(parts):
            return None
        return cls(match["host"].lower(), parts[0], parts[1])

    @property
    def base(self) -> str:
        return f"https://{self.host}/{self.owner}/{self.name}"

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"

    def pull(self, number: int) -> str:
        return f"{self.base}/pull/{number}"

    def issue(self, number: int, repository: str | None = None) -> str:
        owner_name = repository or self.slug
        return f"https://{self.host}/{owner_name}/issues/{number}"

    def commit(self, sha: str) -> str:
        return f"{self.base}/commit/{sha}"

    def compare(self, old: str, new: str) -> str:
        return f"{self.base}/compare/{old}...{new}"

    def tree(self, ref: str) -> str:
        return f"{self.base}/tree/{ref}"


def pull_numbers(header: str) -> list[int]:
    """PR numbers in a header, ``(#123)`` as GitHub's squash merges write them."""
    return [int(m["number"]) for m in _PR.finditer(header)]


def issue_refs(text: str) -> list[tuple[str | None, int]]:
    """Issues a message closes (``Closes #12``, ``Fixes owner/repo#3``), first mention
    first, each once."""
    seen: dict[tuple[str | None, int], None] = {}
    for match in _ISSUE.finditer(text):
        seen.setdefault((match["repo"], int(match["number"])), None)
    return list(seen)
