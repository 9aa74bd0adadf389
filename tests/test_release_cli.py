"""`pilothouse release notes|bump|changelog` on real git repositories made in tmp_path."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.gitrepo import GitRepo, git

BOB = ("Bob", "12345+bob@users.noreply.github.com")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    made = GitRepo.create(tmp_path / "rocket")
    made.commit("chore: init", {"README.md": "rocket\n"})
    made.tag("v1.2.3")
    return made


def _run(cli, repo: GitRepo, *args: str):
    return cli("release", *args, "--repo", str(repo.path))


def _json(cli, repo: GitRepo, *args: str):
    code, out, err = _run(cli, repo, *args)
    assert code == 0, err
    return json.loads(out)


def test_notes_group_link_and_credit(sqlite_cli, repo):
    repo.commit("feat(api): add widgets (#12)")
    fix = repo.commit("fix: crash on empty input\n\nCloses #7\nFixes acme/other#3")
    bang = repo.commit("feat!: drop Python 3.8", author=BOB)
    repo.commit("update stuff")
    repo.commit("perf: faster\n\nCo-authored-by: Cy <cy@example.org>")
    code, out, err = _run(sqlite_cli, repo, "notes")
    assert code == 0, err
    assert out.startswith(
        "## [2.0.0](https://github.com/acme/rocket/compare/v1.2.3...v2.0.0) - 2023-11-14\n"
    )
    headings = [line for line in out.splitlines() if line.startswith("### ")]
    assert headings == [
        "### Breaking changes",
        "### Features",
        "### Bug fixes",
        "### Performance",
        "### Other",
        "### Contributors",
    ]
    breaking = out.split("### Breaking changes\n\n")[1].split("\n")[0]
    assert breaking.startswith(
        f"- drop Python 3.8 ([{bang[:7]}](https://github.com/acme/rocket/commit/"
    )
    assert "- **api:** add widgets ([#12](https://github.com/acme/rocket/pull/12), " in out
    assert f"[{fix[:7]}]" in out
    assert "closes [#7](https://github.com/acme/rocket/issues/7)" in out
    assert "closes [acme/other#3](https://github.com/acme/other/issues/3)" in out
    assert "First-time contributors: @bob, Cy" in out
    assert "- Ada" in out


def test_notes_json_shape(sqlite_cli, repo):
    sha = repo.commit("FEAT(Api)!: new API\n\nBREAKING CHANGE: v1 removed\nRefs: #4")
    data = _json(sqlite_cli, repo, "notes", "--format", "json")
    assert set(data) >= {"previous", "version", "bump", "date", "commits", "contributors"}
    assert (data["previous"], data["version"], data["bump"]) == ("v1.2.3", "v2.0.0", "major")
    (commit,) = data["commits"]
    assert {k: commit[k] for k in ("sha", "type", "scope", "breaking", "group")} == {
        "sha": sha, "type": "feat", "scope": "api", "breaking": True, "group": "Features"
    }  # fmt: skip
    assert commit["breaking_description"] == "v1 removed"
    assert commit["conventional"] is True
    assert data["contributors"] == [
        {"name": "Ada", "email": "ada@example.org", "login": None, "new": False}
    ]


def test_bump_json_and_plain(sqlite_cli, repo):
    repo.commit("docs: readme")
    fix = repo.commit("fix: a")
    assert _json(sqlite_cli, repo, "bump", "--json") == {
        "package": None, "current": "v1.2.3", "next": "v1.2.4", "bump": "patch",
        "because": [fix],
    }  # fmt: skip
    feat = repo.commit("feat: b")
    code, out, _ = _run(sqlite_cli, repo, "bump")
    assert (code, out) == (0, "v1.3.0\n")
    assert _json(sqlite_cli, repo, "bump", "--json")["because"] == [feat]


def test_nothing_to_release(sqlite_cli, repo):
    repo.commit("docs: readme")
    code, out, err = _run(sqlite_cli, repo, "bump")
    assert (code, out) == (0, "v1.2.3\n")
    assert "nothing to release since v1.2.3" in err
    assert _json(sqlite_cli, repo, "bump", "--json")["next"] is None


def test_first_release_uses_initial_version(sqlite_cli, tmp_path):
    fresh = GitRepo.create(tmp_path / "new", remote=None)
    fresh.commit("feat: everything")
    assert _json(sqlite_cli, fresh, "bump", "--json")["next"] == "v0.1.0"
    (tmp_path / "pilothouse.toml").write_text('[release]\ninitial_version = "1.0.0"\n')
    assert _json(sqlite_cli, fresh, "bump", "--json")["next"] == "v1.0.0"
    code, out, _ = _run(sqlite_cli, fresh, "notes")
    assert out.startswith("## [1.0.0] - ") and "### Features" in out


def test_zero_version_policy_from_config(sqlite_cli, tmp_path):
    zero = GitRepo.create(tmp_path / "zero")
    zero.commit("chore: init")
    zero.tag("0.4.2")  # no v: the next tag keeps that form
    zero.commit("feat!: break")
    assert _json(sqlite_cli, zero, "bump", "--json")["next"] == "1.0.0"
    (tmp_path / "pilothouse.toml").write_text(
        '[release]\nbreaking_on_zero = "minor"\nfeat_on_zero = "patch"\n'
    )
    assert _json(sqlite_cli, zero, "bump", "--json")["next"] == "0.5.0"
    zero.commit("feat: more")
    assert _json(sqlite_cli, zero, "bump", "--json")["next"] == "0.5.0"


def test_pre_releases_count_up_then_graduate(sqlite_cli, repo):
    repo.commit("feat: a")
    assert _json(sqlite_cli, repo, "bump", "--json", "--pre", "rc")["next"] == "v1.3.0-rc.1"
    repo.tag("v1.3.0-rc.1", annotated=True)
    repo.commit("fix: b")
    assert _json(sqlite_cli, repo, "bump", "--json", "--pre", "rc")["next"] == "v1.3.0-rc.2"
    final = _json(sqlite_cli, repo, "notes", "--format", "json")
    assert (final["previous"], final["version"]) == ("v1.2.3", "v1.3.0")
    assert [c["description"] for c in final["commits"]] == ["b", "a"]


def test_release_as_footer(sqlite_cli, repo):
    repo.commit("fix: a\n\nRelease-As: 3.0.0")
    assert _json(sqlite_cli, repo, "bump", "--json")["next"] == "v3.0.0"


def test_notes_of_a_tag_and_ranges(sqlite_cli, repo):
    repo.commit("feat: one")
    repo.tag("v1.3.0")
    repo.commit("fix: two")
    repo.tag("v1.3.1")
    repo.commit("fix: three")
    tagged = _json(sqlite_cli, repo, "notes", "--format", "json", "--to", "v1.3.0")
    assert (tagged["previous"], tagged["version"], tagged["bump"]) == ("v1.2.3", "v1.3.0", "minor")
    assert [c["description"] for c in tagged["commits"]] == ["one"]
    unreleased = _json(sqlite_cli, repo, "notes", "--format", "json", "--unreleased")
    assert (unreleased["previous"], unreleased["version"]) == ("v1.3.1", None)
    code, out, _ = _run(sqlite_cli, repo, "notes", "--unreleased")
    assert out.startswith("## [Unreleased](https://github.com/acme/rocket/compare/v1.3.1...HEAD)")
    ranged = _json(sqlite_cli, repo, "notes", "--format", "json", "--from", "v1.2.3")
    assert [c["description"] for c in ranged["commits"]] == ["three", "two", "one"]
    head = _json(sqlite_cli, repo, "notes", "--format", "json", "--to", "HEAD~1")
    assert head["version"] == "v1.3.1"  # a tagged commit gives that release's notes


def test_merges_skipped_and_reverts_cancel(sqlite_cli, repo):
    git(repo.path, "checkout", "-q", "-b", "topic")
    repo.commit("feat: on a branch")
    git(repo.path, "checkout", "-q", "main")
    repo.merge("topic", "Merge branch 'topic'")
    bad = repo.commit("feat: shiny")
    repo.commit(f'Revert "feat: shiny"\n\nThis reverts commit {bad}.')
    gone = repo.commit("fix: oops")
    repo.commit(f"revert: fix: oops\n\nRefs: {gone[:9]}")
    repo.commit("revert: feat: never in range")
    data = _json(sqlite_cli, repo, "notes", "--format", "json")
    assert [c["description"] for c in data["commits"]] == ["feat: never in range", "on a branch"]
    assert data["commits"][0]["group"] == "Reverts"
    assert data["version"] == "v1.3.0"


def test_hide_other(sqlite_cli, repo, tmp_path):
    repo.commit("tweak things")
    repo.commit("fix: a")
    assert "### Other" in _run(sqlite_cli, repo, "notes")[1]
    (tmp_path / "pilothouse.toml").write_text("[release]\nhide_other = true\n")
    assert "### Other" not in _run(sqlite_cli, repo, "notes")[1]


def test_template(sqlite_cli, repo, tmp_path):
    repo.commit("feat: a (#5)")
    template = tmp_path / "notes.j2"
    template.write_text(
        "{{ version }} after {{ previous }}\n"
        "{% for c in commits %}{{ c.type }}|{{ c.description }}|{{ c.prs[0].number }}\n{% endfor %}"
    )
    code, out, err = _run(sqlite_cli, repo, "notes", "--template", str(template))
    assert (code, out) == (0, "v1.3.0 after v1.2.3\nfeat|a (#5)|5\n"), err
    template.write_text("{{ nope }}")
    code, _, err = _run(sqlite_cli, repo, "notes", "--template", str(template))
    assert code == 1 and "notes.j2: template error: 'nope' is undefined" in err
    template.write_text("{% for %}")
    code, _, err = _run(sqlite_cli, repo, "notes", "--template", str(template))
    assert code == 1 and "notes.j2:1: template error" in err


def test_errors_are_one_line(sqlite_cli, repo, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    code, _, err = sqlite_cli("release", "notes", "--repo", str(plain))
    assert (
        code == 1
        and err == f"pilothouse: error: {plain}: not a git repository (pass --repo PATH to one)\n"
    )
    code, _, err = _run(sqlite_cli, repo, "notes", "--to", "v9.9.9")
    assert code == 1 and "unknown ref 'v9.9.9'" in err
    code, _, err = _run(sqlite_cli, repo, "notes", "--tag-pattern", "v1")
    assert code == 2 and "{version}" in err
    code, _, err = _run(sqlite_cli, repo, "bump", "--pre", "rc.1")
    assert code == 2


def test_shallow_clone_is_named(sqlite_cli, repo, tmp_path):
    for n in range(3):
        repo.commit(f"fix: {n}")
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "2", f"file://{repo.path}", str(clone)], check=True
    )
    code, _, err = sqlite_cli("release", "notes", "--repo", str(clone))
    assert code == 1
    assert "shallow clone" in err and "git fetch --unshallow --tags" in err


def test_release_never_creates_a_store(sqlite_cli, repo, tmp_path):
    repo.commit("fix: a")
    assert _run(sqlite_cli, repo, "bump")[0] == 0
    assert not (tmp_path / "store.db").exists()


def test_config_shows_the_release_booleans(sqlite_cli, tmp_path):
    (tmp_path / "pilothouse.toml").write_text("[release]\ninclude_merges = true\n")
    sqlite_cli.env["COLUMNS"] = "200"
    code, out, _ = sqlite_cli("config")
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if "release." in line}
    assert "false" in lines["release.hide_other"] and "true" in lines["release.include_merges"]
    values = {s["key"]: s["value"] for s in sqlite_cli.json("config")["settings"]}
    assert values["release.hide_other"] is False and values["release.include_merges"] is True
