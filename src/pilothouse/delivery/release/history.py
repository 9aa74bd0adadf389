"""The release a repository's history asks for: previous tag, commits, next version.

Joins the git edge to the pure core; every git call goes through `Repository`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pilothouse.delivery.release.git import GitError, Repository, check_reaches
from pilothouse.delivery.release.links import Remote
from pilothouse.delivery.release.notes import (
    Entry,
    Options,
    Release,
    analyse,
    because,
    level_of,
    release_as,
)
from pilothouse.delivery.release.policy import Next, next_version
from pilothouse.delivery.release.semver import Level, Version
from pilothouse.delivery.release.tags import TaggedVersion, TagPattern, previous_of, versions


@dataclass(frozen=True, slots=True)
class Request:
    """What to read: the range, the paths, the tags, the policy."""

    to: str = "HEAD"
    since: str | None = None  # --from: a ref, instead of the previous tag
    unreleased: bool = False
    paths: tuple[str, ...] = ()
    pattern: TagPattern = field(default_factory=lambda: TagPattern("v{version}"))
    pre: str | None = None
    options: Options = field(default_factory=Options)
    package: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A release worked out: its notes, and the bump that gave its version."""

    release: Release
    current: TaggedVersion | None
    next: Next
    because: tuple[str, ...]


def reachable_versions(repo: Repository, commit: str, pattern: TagPattern) -> list[TaggedVersion]:
    """Version tags of *pattern* whose commits *commit* contains, lowest first."""
    tagged = versions(repo.tags(), pattern)
    inside = repo.ancestors_of(commit, [t.commit for t in tagged])
    return [t for t in tagged if t.commit in inside]


def _at(candidates: Sequence[TaggedVersion], commit: str, to: str) -> TaggedVersion | None:
    """The version tagged at *commit* (the one named *to*, if it is a tag), if any."""
    named = [t for t in candidates if t.tag == to]
    on_commit = [t for t in candidates if t.commit == commit]
    found = named or on_commit
    return found[-1] if found else None


def _entries(
    repo: Repository, request: Request, to_sha: str, since: str | None
) -> tuple[list[Entry], frozenset[str]]:
    commits = repo.log(to_sha, since, request.paths)
    check_reaches(repo, commits, since)
    return analyse(commits, request.options), repo.emails_before(since)


def plan(repo: Repository, request: Request) -> Plan:
    """The release from the previous version tag (or --from) to *request.to*."""
    to_sha = repo.resolve(request.to)
    candidates = reachable_versions(repo, to_sha, request.pattern)
    tagged = None if request.unreleased else _at(candidates, to_sha, request.to)
    if tagged is not None:
        return _tagged(repo, request, to_sha, candidates, tagged)
    newest = previous_of(candidates, None)
    stable_base = not (request.pre or request.unreleased)
    base = previous_of(candidates, None, stable=True) if stable_base else newest
    since = repo.resolve(request.since) if request.since else (base.commit if base else None)
    entries, known = _entries(repo, request, to_sha, since)
    level = level_of(entries)
    nxt = next_version(
        newest.version if newest else None,
        [level],
        request.options.policy,
        pre=request.pre,
        release_as=release_as(entries),
    )
    version = nxt.version
    tag = None
    if version is not None and not request.unreleased:
        tag = request.pattern.tag_for(version, previous=newest.tag if newest else None)
    release = Release(
        previous=base.tag if base else None,
        version=tag,
        bump=nxt.level if version is not None else "none",
        date=repo.date_of(to_sha) if tag else None,
        entries=tuple(entries),
        known_emails=known,
        remote=_remote(repo),
        package=request.package,
        name=str(version) if tag else None,
    )
    return Plan(release, newest, nxt, tuple(because(entries, level)))


def _tagged(
    repo: Repository,
    request: Request,
    to_sha: str,
    candidates: Sequence[TaggedVersion],
    tagged: TaggedVersion,
) -> Plan:
    """The notes of an existing release: from the version before it."""
    stable = not tagged.version.prerelease
    previous = previous_of(list(candidates), tagged.version, stable=stable)
    since = (
        repo.resolve(request.since) if request.since else (previous.commit if previous else None)
    )
    entries, known = _entries(repo, request, to_sha, since)
    level: Level = _level_between(previous.version if previous else None, tagged.version)
    release = Release(
        previous=previous.tag if previous else None,
        version=tagged.tag,
        bump=level,
        date=repo.date_of(to_sha),
        entries=tuple(entries),
        known_emails=known,
        remote=_remote(repo),
        package=request.package,
        name=str(tagged.version),
    )
    nxt = Next(tagged.version, level)
    return Plan(release, previous, nxt, tuple(because(entries, level_of(entries))))


def _level_between(old: Version | None, new: Version) -> Level:
    """The level of the step from *old* to *new* (what was released, not what commits say)."""
    if old is None or new.major != old.major:
        return "major" if old is not None else "none"
    if new.minor != old.minor:
        return "minor"
    return "patch" if new.core != old.core else "none"


def _remote(repo: Repository) -> Remote | None:
    url = repo.remote_url()
    return Remote.from_url(url) if url else None


def history(repo: Repository, request: Request) -> list[Plan]:
    """Every release tagged in *to*'s history, newest first, plus the unreleased commits
    after the newest tag when there are any (for `changelog --all`)."""
    to_sha = repo.resolve(request.to)
    candidates = reachable_versions(repo, to_sha, request.pattern)
    plans = []
    head = plan(repo, replace(request, unreleased=True))
    if head.release.entries:
        plans.append(head)
    for tagged in reversed(candidates):
        plans.append(_tagged(repo, replace(request, since=None), tagged.commit, candidates, tagged))
    return plans


__all__ = ["GitError", "Plan", "Request", "history", "plan", "reachable_versions"]
