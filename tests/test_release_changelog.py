"""`release changelog`: prepend without rewriting older sections; --all rebuilds from tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from pilothouse.delivery.release.changelog import PREAMBLE, prepend, rebuild
from tests.gitrepo import GitRepo

OLD = """# Changelog

Hand-written intro, kept.

## [1.2.3] - 2023-01-01

### Bug fixes

- a *hand-edited* line that must survive
"""


def test_prepend_keeps_the_preamble_and_older_sections():
    section = "## [1.3.0] - 2023-11-14\n\n### Features\n\n- b\n"
    text = prepend(OLD, section)
    assert text.startswith("# Changelog\n\nHand-written intro, kept.\n\n## [1.3.0] - 2023-11-14\n")
    assert text.endswith(
        "\n## [1.2.3] - 2023-01-01\n\n### Bug fixes\n\n- a *hand-edited* line that must survive\n"
    )
    assert prepend(text, section) == text  # again: the same section is replaced, not added
    newer = prepend(text, "## [1.3.0] - 2023-11-15\n\n- c\n")
    assert newer.count("## [1.3.0]") == 1 and "- c\n" in newer and "- b\n" not in newer


def test_unreleased_is_replaced_by_the_release():
    with_unreleased = prepend(OLD, "## [Unreleased]\n\n- wip\n")
    released = prepend(with_unreleased, "## [1.3.0] - 2023-11-14\n\n- wip\n")
    assert "[Unreleased]" not in released and released.count("## [1.2.3]") == 1


def test_new_file_and_rebuild():
    assert prepend(None, "## [0.1.0] - 2023-11-14\n").startswith(PREAMBLE + "\n## [0.1.0]")
    assert rebuild(OLD, ["## [2]\n", "## [1]\n"]) == (
        "# Changelog\n\nHand-written intro, kept.\n\n## [2]\n\n## [1]\n"
    )


def test_packages_do_not_replace_each_other():
    one = prepend(None, "## core [0.2.0]\n\n- a\n")
    both = prepend(one, "## cli [0.2.0]\n\n- b\n")
    assert "## core [0.2.0]" in both and "## cli [0.2.0]" in both


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    made = GitRepo.create(tmp_path / "rocket")
    made.commit("feat: first")
    made.tag("v0.1.0")
    made.commit("fix: second")
    made.tag("v0.1.1", annotated=True)
    made.commit("feat: third")
    return made


def test_changelog_command_prepends(sqlite_cli, repo):
    changelog = repo.path / "CHANGELOG.md"
    changelog.write_text(OLD.replace("1.2.3", "0.1.1"), encoding="utf-8")
    code, _, err = sqlite_cli("release", "changelog", "--repo", str(repo.path))
    assert code == 0 and err == f"wrote {changelog}\n"
    text = changelog.read_text(encoding="utf-8")
    assert text.index(
        "## [0.2.0](https://github.com/acme/rocket/compare/v0.1.1...v0.2.0)"
    ) < text.index("## [0.1.1]")
    assert "- a *hand-edited* line that must survive" in text
    assert "- third (" in text and "- second" not in text
    assert sqlite_cli("release", "changelog", "--repo", str(repo.path))[0] == 0
    assert changelog.read_text(encoding="utf-8") == text  # idempotent


def test_changelog_all_and_output(sqlite_cli, repo, tmp_path):
    out = tmp_path / "out" / "CHANGES.md"
    out.parent.mkdir()
    code, _, err = sqlite_cli(
        "release", "changelog", "--repo", str(repo.path), "--all", "--output", str(out)
    )
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    headings = [line.split(" - ")[0] for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## [Unreleased](https://github.com/acme/rocket/compare/v0.1.1...HEAD)",
        "## [0.1.1](https://github.com/acme/rocket/compare/v0.1.0...v0.1.1)",
        "## [0.1.0]",
    ]
    assert text.startswith(PREAMBLE)
    assert not list(out.parent.glob(".CHANGES.md.*"))  # no temporary left behind


def test_changelog_unwritable_is_one_line(sqlite_cli, repo, tmp_path):
    code, _, err = sqlite_cli(
        "release", "changelog", "--repo", str(repo.path), "--output", str(tmp_path / "no" / "C.md")
    )
    assert code == 1 and "cannot write the changelog" in err
