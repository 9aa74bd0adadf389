"""`release publish` against a loopback fake of GitHub's Releases API."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from pilothouse.delivery.release.github import Releases, Wanted
from pilothouse.sources.github import GitHubApi, GitHubError, Policy, Token
from tests.github_fake import dumps, load
from tests.gitrepo import GitRepo
from tests.release_fake import RELEASE_FILE, FakeReleases

REPO = "acme/rocket"
TOKEN = "ghp_releasetoken123"


@pytest.fixture
def fake() -> FakeReleases:
    return FakeReleases(REPO, TOKEN, clock_start=datetime(2026, 11, 30, 12, tzinfo=UTC))


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    path = tmp_path / "notes.md"
    path.write_text("### Features\n\n- rockets\n", encoding="utf-8")
    return path


def _publish(cli, url: str, *args: str):
    cli.env["GITHUB_TOKEN"] = TOKEN
    code, out, err = cli("release", "publish", "--repo", REPO, "--api-url", url, *args)
    assert TOKEN not in out + err
    return code, out, err


def test_fake_release_has_the_real_keys(fake):
    made = fake.add_release("v1.0.0", name="v1.0.0", body="x")
    assert list(made) == list(load(RELEASE_FILE))


def test_create_then_unchanged_then_update(sqlite_cli, fake, notes):
    with fake.serve() as url:
        code, out, err = _publish(sqlite_cli, url, "--tag", "v1.3.0", "--notes-file", str(notes))
        assert code == 0, err
        assert out == f"created https://github.com/{REPO}/releases/tag/v1.3.0\n"
        again = _publish(sqlite_cli, url, "--tag", "v1.3.0", "--notes-file", str(notes), "--json")
        assert json.loads(again[1])["action"] == "unchanged"
        notes.write_text("### Bug fixes\n\n- fins\n", encoding="utf-8")
        code, out, _ = _publish(sqlite_cli, url, "--tag", "v1.3.0", "--notes-file", str(notes))
        assert out.startswith("updated ")
    (release,) = fake.releases.values()
    assert (release["tag_name"], release["name"], release["body"]) == (
        "v1.3.0", "v1.3.0", "### Bug fixes\n\n- fins\n"
    )  # fmt: skip
    posts = [r for r in fake.requests if r.method == "POST"]
    assert len(posts) == 1
    assert json.loads(posts[0].content) == {
        "tag_name": "v1.3.0", "name": "v1.3.0", "body": "### Features\n\n- rockets\n",
        "draft": False, "prerelease": False,
    }  # fmt: skip


def test_a_draft_is_found_by_listing_and_published(sqlite_cli, fake, notes):
    for n in range(3):
        fake.add_release(f"v0.{n}.0", body="old")
    draft = fake.add_release("v1.3.0", draft=True, body="draft text")
    fake.per_page_max = 2  # the listing takes two pages
    with fake.serve() as url:
        code, out, err = _publish(sqlite_cli, url, "--tag", "v1.3.0", "--notes-file", str(notes))
    assert code == 0, err
    assert out.startswith("updated ")
    assert len(fake.releases) == 4
    assert draft["draft"] is False and draft["body"] == "### Features\n\n- rockets\n"
    assert draft["html_url"].endswith("/releases/tag/v1.3.0") and draft["published_at"]


def test_a_post_that_landed_before_a_502_is_not_duplicated(fake):
    def landed_then_failed(request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return fake._handle(request)
        fake._create(json.loads(request.content))
        return fake._finish(request, 502, dumps({"message": "Bad Gateway"}), {}, True)

    fake._queue(f"/repos/{REPO}/releases", 3, landed_then_failed)
    waits: list[float] = []
    with httpx.Client(transport=fake.transport()) as client:
        api = GitHubApi(
            client, Token(TOKEN, "GITHUB_TOKEN"), sleep=waits.append, rng=random.Random(1)
        )
        done = Releases(api, REPO).publish(Wanted("v2.0.0", "v2.0.0", "body"))
    assert done.action == "unchanged" and len(fake.releases) == 1
    assert len(waits) == 1  # the 502 was retried with the sync's backoff


def test_rate_limits_are_waited_out_with_the_sync_policy(fake):
    fake.secondary_rate_limit(f"/repos/{REPO}/releases", retry_after=7)
    waits: list[float] = []
    with httpx.Client(transport=fake.transport()) as client:
        api = GitHubApi(client, Token(TOKEN, "GITHUB_TOKEN"), sleep=waits.append)
        done = Releases(api, REPO).publish(Wanted("v1.0.0", "One", "b", prerelease=True))
    assert (done.action, waits) == ("created", [7.0])
    assert done.release["prerelease"] is True
    fake.secondary_rate_limit(f"/repos/{REPO}/releases", retry_after=2000)
    with httpx.Client(transport=fake.transport()) as client:
        api = GitHubApi(client, Token(TOKEN, "GITHUB_TOKEN"), policy=Policy(max_wait_seconds=60))
        with pytest.raises(GitHubError, match="exceed the bound of 60 s"):
            Releases(api, REPO).publish(Wanted("v1.0.1", "x", "b"))


def test_notes_from_the_checkout_and_pre_release(sqlite_cli, fake, tmp_path):
    repo = GitRepo.create(tmp_path / "rocket")
    repo.commit("feat: first")
    repo.tag("v0.1.0")
    repo.commit("fix: crash (#9)")
    repo.tag("v0.1.1-rc.1")
    with fake.serve() as url:
        code, out, err = _publish(
            sqlite_cli, url, "--tag", "v0.1.1-rc.1", "--checkout", str(repo.path), "--json"
        )
    assert code == 0, err
    result = json.loads(out)
    assert (result["action"], result["prerelease"]) == ("created", True)
    (release,) = fake.releases.values()
    assert release["body"].startswith(
        "### Bug fixes\n\n- crash ([#9](https://github.com/acme/rocket/pull/9)"
    )
    code, _, err = _publish(
        sqlite_cli, "http://127.0.0.1:9", "--tag", "v9.9.9", "--checkout", str(repo.path)
    )
    assert code == 1 and "unknown ref 'v9.9.9'" in err


def test_errors(sqlite_cli, fake, notes):
    code, _, err = sqlite_cli(
        "release", "publish", "--repo", REPO, "--tag", "v1", "--notes-file", str(notes)
    )
    assert code == 1 and "no GitHub token" in err
    sqlite_cli.env["GITHUB_TOKEN"] = "ghp_wrong_token_value"
    with fake.serve() as url:
        code, out, err = sqlite_cli(
            "release",
            "publish",
            "--repo",
            REPO,
            "--tag",
            "v1",
            "--notes-file",
            str(notes),
            "--api-url",
            url,
        )
    assert code == 1 and "refused the token from $GITHUB_TOKEN" in err
    assert "ghp_wrong_token_value" not in out + err
    code, _, err = _publish(
        sqlite_cli,
        "http://127.0.0.1:9",
        "--tag",
        "v1",
        "--notes-file",
        str(notes),
        "--repo",
        "noslash",
    )
    assert code == 2 and "OWNER/NAME" in err
    code, _, err = _publish(sqlite_cli, "ftp://x", "--tag", "v1", "--notes-file", str(notes))
    assert code == 2 and "not an http(s) URL" in err
    code, _, err = _publish(
        sqlite_cli,
        "http://127.0.0.1:9",
        "--tag",
        "v1",
        "--notes-file",
        str(notes.with_name("missing.md")),
    )
    assert code == 1 and "missing.md: cannot read the notes" in err


def test_draft_then_publish_is_one_release(sqlite_cli, fake, notes):
    with fake.serve() as url:
        code, out, err = _publish(sqlite_cli, url, "--tag", "v2.0.0", "--notes-file", str(notes),
                                  "--draft", "--name", "Two", "--json")  # fmt: skip
        assert code == 0, err
        first = json.loads(out)
        assert (first["action"], first["draft"], first["name"]) == ("created", True, "Two")
        assert "/releases/tag/untagged-" in first["html_url"]
        code, out, err = _publish(sqlite_cli, url, "--tag", "v2.0.0", "--notes-file", str(notes),
                                  "--name", "Two", "--json")  # fmt: skip
    second = json.loads(out)
    assert (second["action"], second["draft"], second["id"]) == ("updated", False, first["id"])
    assert len(fake.releases) == 1
