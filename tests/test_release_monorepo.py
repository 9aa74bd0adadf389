"""Monorepos: `--path` with per-package tags, and `--workspace` for a Cargo workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilothouse.delivery.release.workspace import (
    Crate,
    crate_of,
    dependants_bumped,
    member_directories,
)
from tests.gitrepo import GitRepo

ROOT = """[workspace]
members = ["crates/*", "tools/cli"]
exclude = ["crates/old"]

[workspace.package]
version = "0.3.0"

[workspace.dependencies]
core = { path = "crates/core" }
"""
CLI_MANIFEST = """[package]
name = "rocket"
version.workspace = true

[dependencies]
core.workspace = true
util = { path = "../../crates/util" }
serde = "1"
"""
UTIL_DEP = 'util = { path = "../../crates/util" }\n'


def _manifest(name: str, version: str = "0.3.0", deps: str = "") -> str:
    return f'[package]\nname = "{name}"\nversion = "{version}"\n\n[dependencies]\n{deps}'


def test_member_directories_and_crates():
    files = [
        "Cargo.toml",
        "crates/core/Cargo.toml",
        "crates/util/Cargo.toml",
        "crates/old/Cargo.toml",
        "tools/cli/Cargo.toml",
        "tools/other/Cargo.toml",
        "crates/core/src/lib.rs",
    ]
    import tomllib

    root = tomllib.loads(ROOT)
    assert member_directories(root, files) == ["crates/core", "crates/util", "tools/cli"]
    cli = crate_of("tools/cli", tomllib.loads(CLI_MANIFEST), root)
    assert cli == Crate("rocket", "tools/cli", "0.3.0", ("crates/core", "crates/util"))


def test_dependants_are_bumped_transitively():
    crates = [
        Crate("core", "crates/core", "0.3.0", ()),
        Crate("util", "crates/util", "0.3.0", ("crates/core",)),
        Crate("cli", "tools/cli", "0.3.0", ("crates/util",)),
        Crate("lone", "crates/lone", "0.3.0", ()),
    ]
    assert dependants_bumped(crates, {"core"}) == {"util": ["core"], "cli": ["util"]}
    assert dependants_bumped(crates, {"util"}) == {"cli": ["util"]}
    assert dependants_bumped(crates, {"lone"}) == {}


@pytest.fixture
def mono(tmp_path: Path) -> GitRepo:
    repo = GitRepo.create(tmp_path / "mono")
    repo.commit(
        "chore: workspace",
        {
            "Cargo.toml": ROOT,
            "crates/core/Cargo.toml": _manifest("core"),
            "crates/util/Cargo.toml": _manifest("util", deps='core = { path = "../core" }\n'),
            "tools/cli/Cargo.toml": _manifest("rocket", deps=UTIL_DEP),
            "crates/lone/Cargo.toml": _manifest("lone", "1.4.0"),
        },
    )
    for name in ("core", "util", "rocket"):
        repo.tag(f"{name}-v0.3.0")
    repo.tag("lone-v1.4.0")
    return repo


def _json(cli, repo: GitRepo, *args: str):
    code, out, err = cli("release", *args, "--repo", str(repo.path))
    assert code == 0, err
    return json.loads(out)


def test_path_and_tag_pattern(sqlite_cli, mono):
    mono.commit("feat(core): faster", {"crates/core/src/lib.rs": "fn a() {}\n"})
    mono.commit("fix(lone): edge", {"crates/lone/src/lib.rs": "fn b() {}\n"})
    core = _json(
        sqlite_cli,
        mono,
        "bump",
        "--json",
        "--path",
        "crates/core",
        "--tag-pattern",
        "core-v{version}",
    )
    assert (core["current"], core["next"], core["bump"]) == ("core-v0.3.0", "core-v0.4.0", "minor")
    lone = _json(
        sqlite_cli,
        mono,
        "notes",
        "--format",
        "json",
        "--path",
        "crates/lone",
        "--tag-pattern",
        "lone-v{version}",
    )
    assert (lone["previous"], lone["version"]) == ("lone-v1.4.0", "lone-v1.4.1")
    assert [c["description"] for c in lone["commits"]] == ["edge"]
    # several packages' tags on one commit: each pattern finds only its own (git-cliff #149)
    util = _json(
        sqlite_cli,
        mono,
        "bump",
        "--json",
        "--path",
        "crates/util",
        "--tag-pattern",
        "util-v{version}",
    )
    assert (util["current"], util["next"]) == ("util-v0.3.0", None)


def test_workspace(sqlite_cli, mono):
    mono.commit("feat(core): faster", {"crates/core/src/lib.rs": "fn a() {}\n"})
    found = {b["package"]: b for b in _json(sqlite_cli, mono, "bump", "--json", "--workspace")}
    assert {name: b["next"] for name, b in found.items()} == {
        "core": "core-v0.4.0",
        "lone": None,
        "util": "util-v0.3.1",  # depends on core
        "rocket": "rocket-v0.3.1",  # depends on util
    }
    code, out, err = sqlite_cli("release", "notes", "--workspace", "--repo", str(mono.path))
    assert code == 0, err
    headings = [line for line in out.splitlines() if line.startswith("## ")]
    assert [h.split(" - ")[0] for h in headings] == [
        "## core [0.4.0](https://github.com/acme/rocket/compare/core-v0.3.0...core-v0.4.0)",
        "## util [0.3.1](https://github.com/acme/rocket/compare/util-v0.3.0...util-v0.3.1)",
        "## rocket [0.3.1](https://github.com/acme/rocket/compare/rocket-v0.3.0...rocket-v0.3.1)",
    ]
    assert "- Released with its dependencies: core" in out
    every = _json(sqlite_cli, mono, "notes", "--workspace", "--format", "json")
    assert [r["package"] for r in every] == ["core", "lone", "util", "rocket"]
    assert every[1]["version"] is None and every[2]["dependencies"] == ["core"]
    code, _, err = sqlite_cli("release", "changelog", "--workspace", "--repo", str(mono.path))
    changelog = (mono.path / "CHANGELOG.md").read_text(encoding="utf-8")
    assert [line.split("]")[0] for line in changelog.splitlines() if line.startswith("## ")] == [
        "## core [0.4.0", "## util [0.3.1", "## rocket [0.3.1"
    ]  # fmt: skip


def test_workspace_changelog_with_nothing_to_release(sqlite_cli, mono):
    mono.commit("docs: top level only", {"README.md": "mono\n"})
    code, _, err = sqlite_cli("release", "changelog", "--workspace", "--repo", str(mono.path))
    assert code == 0 and "nothing to release" in err
    assert not (mono.path / "CHANGELOG.md").exists()
    code, _, err = sqlite_cli(
        "release", "changelog", "--workspace", "--all", "--repo", str(mono.path)
    )
    assert code == 2 and "--path" in err


def test_workspace_first_release_starts_from_the_manifest(sqlite_cli, tmp_path):
    repo = GitRepo.create(tmp_path / "fresh")
    repo.commit(
        "feat: start",
        {"Cargo.toml": '[workspace]\nmembers = ["a"]\n', "a/Cargo.toml": _manifest("a", "2.1.0")},
    )
    (only,) = _json(sqlite_cli, repo, "bump", "--json", "--workspace")
    assert only["next"] == "a-v2.1.0"


def test_workspace_errors(sqlite_cli, tmp_path):
    repo = GitRepo.create(tmp_path / "none")
    repo.commit("feat: start", {"README": "x\n"})
    code, _, err = sqlite_cli("release", "bump", "--workspace", "--repo", str(repo.path))
    assert code == 1 and "no Cargo.toml at the repository's root" in err
    repo.commit("chore: pkg", {"Cargo.toml": '[package]\nname = "x"\n'})
    code, _, err = sqlite_cli("release", "bump", "--workspace", "--repo", str(repo.path))
    assert code == 1 and "no [workspace] table" in err
    repo.commit("chore: bad", {"Cargo.toml": "[workspace\n"})
    code, _, err = sqlite_cli("release", "bump", "--workspace", "--repo", str(repo.path))
    assert code == 1 and "Cargo.toml: invalid TOML" in err
