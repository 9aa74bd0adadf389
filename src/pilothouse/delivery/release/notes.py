"""From commits to a release: entries by group, reverts cancelled, links, contributors.

`analyse` turns git's records into entries; `release_json` is the one shape every output
(markdown, JSON, a Jinja2 template) renders from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pilothouse.delivery.release.commits import Message, parse_message
from pilothouse.delivery.release.links import Remote, issue_refs, pull_numbers
from pilothouse.delivery.release.policy import Policy, commit_level
from pilothouse.delivery.release.semver import Level, highest

BREAKING_GROUP = "Breaking changes"
OTHER_GROUP = "Other"
# Group titles by type, in the order the notes show them (after Breaking changes).
GROUPS: dict[str, str] = {
    "feat": "Features",
    "fix": "Bug fixes",
    "perf": "Performance",
    "revert": "Reverts",
    "refactor": "Refactoring",
    "docs": "Documentation",
    "test": "Tests",
    "build": "Build",
    "ci": "CI",
    "chore": "Chores",
    "style": "Styles",
}
GROUP_ORDER = [BREAKING_GROUP, *dict.fromkeys(GROUPS.values()), OTHER_GROUP]
_NOREPLY = re.compile(r"(?:\d+\+)?(?P<login>[^@]+)@users\.noreply\.github\.com", re.IGNORECASE)
_PERSON = re.compile(r"(?P<name>.*?)\s*<(?P<email>[^<>]+)>")


@dataclass(frozen=True, slots=True)
class CommitRecord:
    """One commit as git tells it."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    date: str  # committer date, ISO 8601 with offset
    message: str


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str

    @property
    def key(self) -> str:
        return self.email.strip().casefold()

    @property
    def login(self) -> str | None:
        match = _NOREPLY.fullmatch(self.email.strip())
        return match["login"] if match else None


@dataclass(frozen=True, slots=True)
class Entry:
    """A commit in a release."""

    commit: CommitRecord
    message: Message
    level: Level
    authors: tuple[Person, ...]

    @property
    def group(self) -> str:
        if not self.message.conventional or self.message.type is None:
            return OTHER_GROUP
        return GROUPS.get(self.message.type, OTHER_GROUP)


@dataclass(frozen=True, slots=True)
class Options:
    """What `analyse` keeps."""

    include_merges: bool = False
    hide_other: bool = False
    policy: Policy = field(default_factory=Policy)


def authors_of(commit: CommitRecord, message: Message) -> tuple[Person, ...]:
    """The author and ``Co-authored-by`` trailers, each email once."""
    people = [Person(commit.author_name, commit.author_email)]
    for value in message.footer_values("Co-authored-by"):
        match = _PERSON.fullmatch(value.strip())
        if match is not None:
            people.append(Person(match["name"], match["email"]))
    seen: dict[str, Person] = {}
    for person in people:
        seen.setdefault(person.key, person)
    return tuple(seen.values())


def _entries(commits: Iterable[CommitRecord], options: Options) -> list[Entry]:
    entries = []
    for commit in commits:
        if len(commit.parents) > 1 and not options.include_merges:
            continue
        message = parse_message(commit.message)
        level = commit_level(message, options.policy)
        entries.append(Entry(commit, message, level, authors_of(commit, message)))
    return entries


def cancel_reverts(entries: list[Entry]) -> list[Entry]:
    """*entries* (newest first) without each revert whose reverted commit is among them,
    nor that commit (a revert of a revert restores the original)."""
    kept: dict[str, Entry] = {}
    for entry in reversed(entries):  # oldest first: a revert follows what it reverts
        shas, header = entry.message.reverted()
        target = _target(kept, shas, header)
        if target is None:
            kept[entry.commit.sha] = entry
        else:
            del kept[target]
    return [e for e in entries if e.commit.sha in kept]


def _target(kept: dict[str, Entry], shas: tuple[str, ...], header: str | None) -> str | None:
    for prefix in shas:
        for sha in kept:
            if sha.startswith(prefix):
                return sha
    if header is None:
        return None
    for sha, entry in reversed(kept.items()):  # the latest commit with that header
        if entry.message.header == header:
            return sha
    return None


def analyse(commits: Sequence[CommitRecord], options: Options) -> list[Entry]:
    """Entries of *commits* (newest first), merges and cancelled reverts left out, and
    non-conventional ones too when ``hide_other``."""
    entries = cancel_reverts(_entries(commits, options))
    if options.hide_other:
        entries = [e for e in entries if e.message.conventional]
    return entries


def level_of(entries: Iterable[Entry]) -> Level:
    return highest([e.level for e in entries])


def because(entries: Iterable[Entry], level: Level) -> list[str]:
    """Shas of the commits that ask for *level*."""
    return [e.commit.sha for e in entries if level != "none" and e.level == level]


def release_as(entries: Iterable[Entry]) -> str | None:
    """The newest ``Release-As`` footer among *entries*."""
    return next((e.message.release_as for e in entries if e.message.release_as), None)


def contributors(entries: Sequence[Entry], known: frozenset[str]) -> list[dict[str, Any]]:
    """Everyone who wrote or co-wrote an entry, oldest first, once per email; ``new`` when
    their email is not among *known* (authors of earlier commits)."""
    people: dict[str, Person] = {}
    for entry in reversed(entries):
        for person in entry.authors:
            people.setdefault(person.key, person)
    return [
        {"name": p.name, "email": p.email, "login": p.login, "new": key not in known}
        for key, p in people.items()
    ]


def _issue(remote: Remote | None, repository: str | None, number: int) -> dict[str, Any]:
    url = remote.issue(number, repository) if remote is not None else None
    return {"number": number, "repository": repository, "url": url}


def entry_json(entry: Entry, remote: Remote | None) -> dict[str, Any]:
    message, sha = entry.message, entry.commit.sha
    prs = [
        {"number": n, "url": remote.pull(n) if remote else None}
        for n in pull_numbers(message.header)
    ]
    text = entry.commit.message.partition("\n")[2]  # body and footers
    return {
        "sha": sha,
        "type": message.type,
        "scope": message.scope,
        "breaking": message.breaking,
        "breaking_description": message.breaking_description,
        "description": message.description,
        "group": entry.group,
        "prs": prs,
        "issues": [_issue(remote, repo, number) for repo, number in issue_refs(text)],
        "authors": [{"name": p.name, "email": p.email, "login": p.login} for p in entry.authors],
        "conventional": message.conventional,
        "bump": entry.level,
        "url": remote.commit(sha) if remote else None,
    }


@dataclass(frozen=True, slots=True)
class Release:
    """One release's notes: what `release_json` renders."""

    previous: str | None
    version: str | None  # the tag; None for the unreleased section
    bump: Level
    date: str | None
    entries: tuple[Entry, ...]
    known_emails: frozenset[str] = frozenset()
    remote: Remote | None = None
    package: str | None = None
    name: str | None = None  # the version without the tag's prefix
    dependencies: tuple[str, ...] = ()  # workspace crates whose release brings this one


def release_json(release: Release) -> dict[str, Any]:
    """The release as JSON (the context of templates, and `notes --format json`)."""
    remote = release.remote
    compare = None
    if remote is not None and release.previous is not None:
        compare = remote.compare(release.previous, release.version or "HEAD")
    return {
        "package": release.package,
        "previous": release.previous,
        "version": release.version,
        "name": release.name,
        "bump": release.bump,
        "date": release.date,
        "compare_url": compare,
        "repository": remote.base if remote else None,
        "commits": [entry_json(e, remote) for e in release.entries],
        "contributors": contributors(release.entries, release.known_emails),
        "dependencies": list(release.dependencies),
    }
