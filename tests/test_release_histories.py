"""Proof on real histories: git-cliff, commitizen and release-please-action rebuilt with git
fast-import (tests/gitrepo.py), checked against git-cliff and the projects' own changelogs
and released versions (benchmarks/release_versions.py prints the whole table)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pilothouse.delivery.release.git import Repository
from pilothouse.delivery.release.history import Request, plan
from pilothouse.delivery.release.notes import release_json
from pilothouse.delivery.release.tags import TagPattern
from tests.gitrepo import HISTORIES, rebuild
from tests.release_compare import (
    PROJECT_POLICIES,
    PROJECTS,
    classify_git_cliff,
    classify_pilothouse,
    pilothouse_next,
    release_pairs,
)

# Every commit where pilothouse and git-cliff classify differently, by original sha, with
# the rule of Conventional Commits 1.0.0 that decides it for pilothouse.
DECIDED = {
    "4d36bdf01823": "rules 8 and 12: a breaking footer is BREAKING CHANGE, a colon, a space and "
    "a description; 'BREAKING CHANGE:' alone on its line with '#82' two lines down is none "
    "(git-cliff: breaking)",
}


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("histories")
    return {name: (root / name, rebuild(name, root / name)) for name in PROJECTS}


def test_rebuilt_histories_are_whole(histories):
    for name, (path, shas) in histories.items():
        lines = (HISTORIES / name / "commits.ndjson").read_text(encoding="utf-8").splitlines()
        assert len(shas) == len(lines)
        assert len(Repository.open(path).log("HEAD")) == len(lines)


@pytest.mark.parametrize("name", PROJECTS)
def test_classification_agrees_with_git_cliff_but_where_the_spec_decides(histories, name, tmp_path):
    path, shas = histories[name]
    original = {new: old[:12] for old, new in shas.items()}
    ours, theirs = classify_pilothouse(path), classify_git_cliff(path, tmp_path)
    assert set(theirs) <= set(ours)
    differ = {original[sha] for sha in theirs if ours[sha] != theirs[sha]}
    assert differ == {sha for sha in DECIDED if any(o.startswith(sha) for o in shas)}
    assert sum(c[0] for c in ours.values()) > len(ours) / 2  # mostly conventional histories


def _level_step(old: str, new: str) -> bool:
    """Whether *new* is the next major, minor or patch after *old* (no number skipped)."""
    a, b = [tuple(map(int, v.split("."))) for v in (old, new)]
    return b in ((a[0] + 1, 0, 0), (a[0], a[1] + 1, 0), (a[0], a[1], a[2] + 1))


def test_release_please_action_versions(histories):
    """It releases itself with release-please, whose default strategy is the spec's: every
    release that skipped no number is the version pilothouse computes."""
    repo = Repository.open(histories["release-please-action"][0])
    pairs = list(release_pairs(repo, TagPattern("v{version}")))
    assert len(pairs) == 134
    wrong = []
    for previous, release in pairs:
        ours = pilothouse_next(repo, previous, release)[0]
        if ours != str(release.version):
            wrong.append((previous.tag, release.tag, ours))
    assert wrong == [("v2.17.0", "v2.18.1", "2.18.0"), ("v2.29.0", "v2.29.2", "2.29.1")]
    assert not any(_level_step(p.removeprefix("v"), r.removeprefix("v")) for p, r, _ in wrong)


def test_commitizen_versions_with_its_own_bump_map(histories):
    repo = Repository.open(histories["commitizen"][0])
    pairs = list(release_pairs(repo, TagPattern("v{version}")))
    policy = PROJECT_POLICIES["commitizen"]
    plain = sum(pilothouse_next(repo, p, r)[0] == str(r.version) for p, r in pairs)
    configured = sum(pilothouse_next(repo, p, r, policy)[0] == str(r.version) for p, r in pairs)
    assert (len(pairs), plain, configured) == (288, 252, 266)


# -- notes against the projects' own CHANGELOG.md --------------------------------------------

_HEADING = re.compile(r"^## \[?v?(?P<version>\d+\.\d+\.\d+)\b")
_SHORT_SHA = re.compile(r"\[([0-9a-f]{7})\]\(")
_SCOPE = re.compile(r"^\*\*[^*]+\*\*:? ")
_PR = re.compile(r"\s*\(\[?#\d+\]?(\([^)]*\))?\)")


def changelog_sections(text: str) -> dict[str, list[tuple[str, str]]]:
    """version -> [(group, entry line)] of a Keep a Changelog-like file."""
    sections: dict[str, list[tuple[str, str]]] = {}
    version, group = None, ""
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            version, group = heading["version"], ""
            sections.setdefault(version, [])
        elif line.startswith("### "):
            group = line[4:].strip()
        elif version and line.startswith(("* ", "- ")):
            sections[version].append((group, line[2:].strip()))
    return sections


def _notes(path: Path, tag: str) -> dict:
    return release_json(plan(Repository.open(path), Request(to=tag)).release)


# git-cliff's and release-please's group titles, and the type groups pilothouse gives them.
GROUPS = {
    "Features": "Features", "Bug Fixes": "Bug fixes", "Documentation": "Documentation",
    "Performance": "Performance", "Refactor": "Refactoring", "Styling": "Styles",
    "Testing": "Tests", "Miscellaneous Tasks": ("Chores", "CI"), "Revert": "Reverts",
    "Build": "Build",
}  # fmt: skip


def _group(title: str) -> tuple[str, ...] | None:
    plain = re.sub(r"[^A-Za-z ]", "", title).strip()
    found = GROUPS.get(plain)
    return (found,) if isinstance(found, str) else found


@pytest.mark.parametrize("name", ["release-please-action", "git-cliff"])
def test_newest_notes_list_the_changelogs_commits_in_the_same_groups(histories, name):
    path, shas = histories[name]
    short = {old[:7]: new for old, new in shas.items()}
    sections = changelog_sections((HISTORIES / name / "CHANGELOG.md").read_text(encoding="utf-8"))
    tags = {t for t, _ in Repository.open(path).tags()}
    newest = [v for v in sections if f"v{v}" in tags][:5]
    assert len(newest) == 5
    for version in newest:
        notes = _notes(path, f"v{version}")
        ours = {c["sha"]: c for c in notes["commits"]}
        for group, line in sections[version]:
            for sha in _SHORT_SHA.findall(line):
                commit = ours[short[sha]]  # the changelog's commit is in pilothouse's notes
                expected = _group(group)
                if expected is not None:
                    assert commit["group"] in expected, (version, line)
                elif "BREAKING" in group.upper():
                    assert commit["breaking"], (version, group, line)


def test_newest_commitizen_notes_hold_its_changelog_entries(histories):
    path, _ = histories["commitizen"]
    sections = changelog_sections((HISTORIES / "commitizen" / "CHANGELOG.md").read_text("utf-8"))
    cz_groups = {"Fix": "Bug fixes", "Feat": "Features", "Refactor": "Refactoring",
                 "Perf": "Performance"}  # fmt: skip
    checked = 0
    for version in list(sections)[:5]:
        notes = _notes(path, f"v{version}")
        ours = {(_PR.sub("", c["description"]).strip(), c["group"]) for c in notes["commits"]}
        for group, line in sections[version]:
            text = _PR.sub("", _SCOPE.sub("", line)).strip()
            assert (text, cz_groups[group]) in ours, (version, line)
            checked += 1
    assert checked >= 5
