"""Real git repositories for the release tests: made with the git binary in tmp_path,
with fixed dates so shas are stable, and rebuilt from the histories under
shared/data/git-history with git fast-import."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

HISTORIES = Path(__file__).parent / "data" / "git-history"
BASE_TIME = 1_700_000_000


def git(
    path: Path, *args: str, env: dict[str, str] | None = None, input: bytes | None = None
) -> str:
    done = subprocess.run(
        ["git", "-C", str(path), *args],
        capture_output=True,
        check=True,
        env={**os.environ, "LC_ALL": "C", **(env or {})},
        input=input,
    )
    return done.stdout.decode("utf-8", "replace").strip()


@dataclass
class GitRepo:
    """A repository made commit by commit; ``commit`` returns the new sha."""

    path: Path
    ticks: int = 0

    @classmethod
    def create(cls, path: Path, remote: str | None = "git@github.com:acme/rocket.git") -> GitRepo:
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", "main")
        if remote:
            git(path, "remote", "add", "origin", remote)
        return cls(path)

    def commit(
        self,
        message: str,
        files: dict[str, str] | None = None,
        *,
        author: tuple[str, str] = ("Ada", "ada@example.org"),
    ) -> str:
        for name, text in (files or {}).items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            git(self.path, "add", name)
        self.ticks += 1
        stamp = f"{BASE_TIME + self.ticks * 60} +0000"
        env = {
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": author[0],
            "GIT_COMMITTER_EMAIL": author[1],
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        git(self.path, "commit", "-q", "--allow-empty", "-m", message, env=env)
        return git(self.path, "rev-parse", "HEAD")

    def tag(self, name: str, *, annotated: bool = False) -> None:
        if annotated:
            git(
                self.path,
                "tag",
                "-a",
                name,
                "-m",
                name,
                env={"GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.org"},
            )
        else:
            git(self.path, "tag", name)

    def merge(self, branch: str, message: str) -> str:
        self.ticks += 1
        stamp = f"{BASE_TIME + self.ticks * 60} +0000"
        env = {
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
            "GIT_AUTHOR_NAME": "Ada",
            "GIT_AUTHOR_EMAIL": "ada@example.org",
            "GIT_COMMITTER_NAME": "Ada",
            "GIT_COMMITTER_EMAIL": "ada@example.org",
        }
        git(self.path, "merge", "-q", "--no-ff", "-m", message, branch, env=env)
        return git(self.path, "rev-parse", "HEAD")


# -- histories rebuilt with git fast-import -------------------------------------------------


def _data(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"data %d\n" % len(raw) + raw + b"\n"


def _when(iso: str) -> str:
    moment = datetime.fromisoformat(iso)
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"{int(moment.timestamp())} {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def read_export(name: str) -> tuple[list[dict[str, object]], list[tuple[str, str]]]:
    """The commits (newest first, as exported) and (tag, commit) pairs of one history."""
    folder = HISTORIES / name
    text = (folder / "commits.ndjson").read_text(encoding="utf-8")
    commits = [json.loads(line) for line in text.splitlines()]
    tags = []
    for line in (folder / "tags.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        tag, commit, *_ = line.split("\t")
        tags.append((tag, commit))
    return commits, tags


def _stream(commits: list[dict[str, object]], tags: list[tuple[str, str]]) -> Iterator[bytes]:
    """A fast-import stream: every commit with an empty tree, marks in parent order.

    Shas differ from the originals (trees and committers differ), so commits are known by
    marks; `rebuild` maps them back with `git fast-import --export-marks`.
    """
    marks = {str(c["sha"]): i + 1 for i, c in enumerate(reversed(commits))}
    for commit in reversed(commits):  # oldest first: parents before children
        sha = str(commit["sha"])
        message = str(commit["subject"])
        if commit["body"]:
            message += "\n\n" + str(commit["body"])
        name, email = commit["author_name"], commit["author_email"]
        yield b"commit refs/heads/main\n"
        yield f"mark :{marks[sha]}\n".encode()
        yield f"author {name} <{email}> {_when(str(commit['author_date']))}\n".encode()
        yield f"committer {name} <{email}> {_when(str(commit['committer_date']))}\n".encode()
        yield _data(message)
        parents = [p for p in commit["parents"] if p in marks]  # type: ignore[attr-defined]
        if parents:
            yield f"from :{marks[parents[0]]}\n".encode()
        else:
            yield b"deleteall\n"
        for parent in parents[1:]:
            yield f"merge :{marks[parent]}\n".encode()
    for tag, commit_sha in tags:
        if commit_sha in marks:
            yield f"reset refs/tags/{tag}\nfrom :{marks[commit_sha]}\n\n".encode()
    yield f"reset refs/heads/main\nfrom :{marks[str(commits[0]['sha'])]}\n\n".encode()


def rebuild(name: str, path: Path) -> dict[str, str]:
    """Rebuild history *name* as a repository at *path*; the new sha of each original."""
    commits, tags = read_export(name)
    git_path = path
    git_path.mkdir(parents=True, exist_ok=True)
    git(git_path, "init", "-q", "-b", "main")
    remote = {"git-cliff": "orhun/git-cliff", "commitizen": "commitizen-tools/commitizen"}
    git(
        git_path,
        "remote",
        "add",
        "origin",
        f"https://github.com/{remote.get(name, 'googleapis/' + name)}.git",
    )
    marks_file = path / ".git" / "marks"
    git(
        git_path,
        "fast-import",
        "--quiet",
        f"--export-marks={marks_file}",
        input=b"".join(_stream(commits, tags)),
    )
    git(git_path, "reset", "-q", "--hard", "main")
    by_mark = dict(line.split() for line in marks_file.read_text().splitlines())
    originals = [str(c["sha"]) for c in reversed(commits)]
    return {sha: by_mark[f":{i + 1}"] for i, sha in enumerate(originals)}
