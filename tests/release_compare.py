"""pilothouse against git-cliff on the real histories under tests/data/git-history.

Shared by tests/test_release_histories.py and benchmarks/release_versions.py:

- `classify_pilothouse` / `classify_git_cliff`: every commit's (conventional, breaking,
  scope, description), from pilothouse's parser and from `git-cliff --context` (with a
  config that keeps every commit and groups nothing away).
- `released_versions`: for each release tag, the version the maintainers released and the
  version each tool computes from the commits since the previous release.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pilothouse.delivery.release.commits import parse_message
from pilothouse.delivery.release.git import Repository
from pilothouse.delivery.release.notes import Options, analyse, level_of
from pilothouse.delivery.release.policy import Policy, next_version
from pilothouse.delivery.release.tags import TaggedVersion, TagPattern, previous_of, versions
from tests.gitrepo import git

PROJECTS = ("git-cliff", "commitizen", "release-please-action")
# git-cliff with every commit kept: conventional or not, no group skipping any.
KEEP_ALL = """\
[changelog]
body = ""
[git]
conventional_commits = true
filter_unconventional = false
split_commits = false
filter_commits = false
protect_breaking_commits = false
commit_parsers = [{ message = ".*", group = "all" }]
"""


def git_cliff() -> str:
    """The git-cliff binary pinned in pyproject's dev extra (beside this Python)."""
    beside = Path(sys.executable).with_name("git-cliff")
    found = str(beside) if beside.exists() else shutil.which("git-cliff")
    if found is None:
        raise RuntimeError("git-cliff is not installed: make .venv/.dev")
    return found


Classified = tuple[bool, bool, str | None, str]


def classify_pilothouse(repo: Path) -> dict[str, Classified]:
    """sha -> (conventional, breaking, scope, description) for every commit of HEAD."""
    commits = Repository.open(repo).log("HEAD")
    found = {}
    for commit in commits:
        m = parse_message(commit.message)
        found[commit.sha] = (m.conventional, m.breaking, m.scope, m.description)
    return found


def classify_git_cliff(repo: Path, scratch: Path) -> dict[str, Classified]:
    """The same from `git-cliff --context` (non-merge commits only: git-cliff drops merges)."""
    config = scratch / "keep-all.toml"
    config.write_text(KEEP_ALL, encoding="utf-8")
    out = subprocess.run(
        [git_cliff(), "--config", str(config), "--context", "--repository", str(repo)],
        capture_output=True,
        check=True,
    ).stdout
    found = {}
    for release in json.loads(out):
        for commit in release["commits"]:
            conventional = bool(commit.get("conventional"))
            scope = commit["scope"].lower() if conventional and commit.get("scope") else None
            description = (
                commit["message"] if conventional else commit["raw_message"].split("\n")[0]
            )
            found[commit["id"]] = (
                conventional,
                bool(commit.get("breaking")),
                scope,
                description.strip(),
            )
    return found


@dataclass(frozen=True)
class Released:
    """One release tag: what was released, and what each tool computes for it."""

    tag: str
    previous: str
    released: str
    pilothouse: str | None
    git_cliff: str | None
    configured: str | None  # pilothouse with the project's own bump rules
    commits: int


def release_pairs(
    repo: Repository, pattern: TagPattern
) -> Iterator[tuple[TaggedVersion, TaggedVersion]]:
    """(previous, release) for every stable release tag with a previous stable one in its
    history (pre-releases and the first release have nothing to compare)."""
    tagged = versions(repo.tags(), pattern)
    for release in tagged:
        if release.version.prerelease:
            continue
        inside = repo.ancestors_of(release.commit, [t.commit for t in tagged])
        candidates = [t for t in tagged if t.commit in inside]
        previous = previous_of(candidates, release.version, stable=True)
        if previous is not None:
            yield previous, release


# Each project's own bump rules, from its configuration: commitizen's BUMP_MAP (its
# pyproject sets no bump_map: commitizen/defaults.py) bumps patch for fix, refactor and perf;
# release-please (release-please-action releases itself with it) and git-cliff (versioned by
# hand, no [bump] table in its cliff.toml) are the defaults.
PROJECT_POLICIES = {"commitizen": Policy(patch_types=("fix", "refactor", "perf"))}


def pilothouse_next(
    repo: Repository,
    previous: TaggedVersion,
    release: TaggedVersion,
    policy: Policy | None = None,
) -> tuple[str | None, int, float]:
    """pilothouse's version for the commits previous..release, their count and analysis time."""
    commits = repo.log(release.commit, previous.commit)
    options = Options(policy=policy or Policy())
    start = time.perf_counter()
    entries = analyse(commits, options)
    found = next_version(previous.version, [level_of(entries)], options.policy).version
    took = time.perf_counter() - start
    return (str(found) if found else None), len(commits), took


class GitCliffBumps:
    """`git-cliff --bumped-version` for one release after another, in a scratch clone whose
    HEAD is the release's commit and whose tags are the releases before it."""

    def __init__(self, source: Path, scratch: Path) -> None:
        self.path = scratch
        subprocess.run(
            ["git", "clone", "-q", "--no-tags", "--no-checkout", str(source), str(scratch)],
            check=True,
        )
        git(scratch, "tag", "-l")

    def next(
        self, previous: TaggedVersion, release: TaggedVersion, earlier: list[TaggedVersion]
    ) -> str | None:
        wanted = {t.tag: t.commit for t in earlier}
        existing = git(self.path, "tag", "-l").split()
        commands = [f"delete refs/tags/{t}\n" for t in existing if t not in wanted]
        commands += [f"update refs/tags/{tag} {sha}\n" for tag, sha in wanted.items()]
        git(self.path, "update-ref", "--stdin", input="".join(commands).encode())
        git(self.path, "update-ref", "--no-deref", "HEAD", release.commit)
        done = subprocess.run(
            [git_cliff(), "--unreleased", "--bumped-version", "--repository", str(self.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        bumped = done.stdout.strip().removeprefix("v")
        if "nothing to bump" in done.stderr.lower() or bumped == str(previous.version):
            return None
        return bumped or None
