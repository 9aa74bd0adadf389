"""Reading a repository with the ``git`` binary: commits, tags, the remote.

No shell: argument lists only, ``--end-of-options`` before refs, NUL-separated fields.
Errors name the repository and what to do: not a repository, an unknown ref, a shallow
clone whose history stops before the previous tag.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pilothouse.delivery.release.notes import CommitRecord
from pilothouse.errors import InputError

# Fields of one commit; with -z git ends each commit with a NUL too.
_FIELDS = ("%H", "%P", "%an", "%ae", "%cI", "%B")
_FORMAT = "%x00".join(_FIELDS)


class GitError(InputError):
    """git could not answer: not a repository, an unknown ref, history missing."""


@dataclass(frozen=True, slots=True)
class Repository:
    """A git work tree or bare repository, read through the git binary."""

    path: Path
    git: str = "git"

    @classmethod
    def open(cls, path: Path) -> Repository:
        """The repository at *path*; GitError when git is missing or it is none."""
        git = shutil.which("git")
        if git is None:
            raise GitError("git is not installed (pilothouse release reads history with it)")
        if not path.exists():
            raise GitError(f"{path}: no such directory")
        repo = cls(path, git)
        done = repo._run(["rev-parse", "--git-dir"], check=False)
        if done.returncode != 0:
            raise GitError(f"{path}: not a git repository (pass --repo PATH to one)")
        return repo

    def _run(self, args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat"}
        done = subprocess.run(
            [self.git, "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
            env=env,
            check=False,
        )
        if check and done.returncode != 0:
            message = done.stderr.strip().splitlines()
            raise GitError(f"{self.path}: git {args[0]} failed: {message[-1] if message else ''}")
        return done

    def resolve(self, ref: str) -> str:
        """The commit *ref* names; GitError when it names none."""
        done = self._run(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
            check=False,
        )
        if done.returncode != 0 or not done.stdout.strip():
            hint = " (the repository has no commits yet)" if ref == "HEAD" else ""
            raise GitError(f"{self.path}: unknown ref {ref!r}{hint}")
        return done.stdout.strip()

    def tags(self) -> list[tuple[str, str]]:
        """Every tag and the commit it points at (annotated tags peeled)."""
        out = self._run(
            [
                "for-each-ref",
                "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)",
                "refs/tags",
            ]
        ).stdout
        pairs = []
        for line in out.splitlines():
            name, obj, peeled = line.split("\0")
            pairs.append((name, peeled or obj))
        return pairs

    def ancestors_of(self, commit: str, candidates: Sequence[str]) -> set[str]:
        """Those of *candidates* (commits) reachable from *commit*, itself included."""
        if not candidates:
            return set()
        out = self._run(["rev-list", "--end-of-options", commit]).stdout
        reachable = set(out.split())
        return {c for c in candidates if c in reachable}

    def log(
        self, to: str, since: str | None = None, paths: Sequence[str] = ()
    ) -> list[CommitRecord]:
        """Commits reachable from *to* and not from *since*, newest first (topological),
        touching *paths* when given."""
        revs = [to] if since is None else [to, f"^{since}"]
        args = ["log", "-z", f"--format={_FORMAT}", "--topo-order", "--end-of-options", *revs]
        if paths:
            args += ["--", *paths]
        return parse_log(self._run(args).stdout)

    def date_of(self, commit: str) -> str:
        """The committer date of *commit* (ISO 8601 with its offset)."""
        return self._run(["log", "-1", "--format=%cI", "--end-of-options", commit]).stdout.strip()

    def emails_before(self, commit: str | None) -> frozenset[str]:
        """Author emails (case-folded) of *commit* and its ancestors."""
        if commit is None:
            return frozenset()
        out = self._run(["log", "--format=%ae", "--end-of-options", commit]).stdout
        return frozenset(line.strip().casefold() for line in out.splitlines() if line.strip())

    def remote_url(self, name: str = "origin") -> str | None:
        done = self._run(["config", "--get", f"remote.{name}.url"], check=False)
        return done.stdout.strip() or None

    def shallow_boundary(self) -> frozenset[str]:
        """Commits whose parents a shallow clone lacks (empty for a full clone)."""
        done = self._run(["rev-parse", "--git-path", "shallow"])
        shallow = Path(done.stdout.strip())
        if not shallow.is_absolute():
            shallow = self.path / shallow
        if not shallow.is_file():
            return frozenset()
        return frozenset(shallow.read_text(encoding="ascii").split())

    def touched(self, commit: str) -> list[str]:
        """Paths a commit changed (against its first parent)."""
        out = self._run(
            ["diff-tree", "--no-commit-id", "-r", "--name-only", "-z", "--root", commit]
        ).stdout
        return [p for p in out.split("\0") if p]

    def files(self, commit: str) -> list[str]:
        """Every file path in *commit*'s tree."""
        out = self._run(["ls-tree", "-r", "-z", "--name-only", "--end-of-options", commit]).stdout
        return [p for p in out.split("\0") if p]

    def show(self, commit: str, path: str) -> str | None:
        """A file's text at *commit*, or None when it is not there."""
        done = self._run(["show", f"{commit}:{path}"], check=False)
        return done.stdout if done.returncode == 0 else None


def parse_log(out: str) -> list[CommitRecord]:
    """Records of ``git log -z --format=<_FORMAT>`` output."""
    fields = out.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    count = len(_FIELDS)
    if len(fields) % count:
        raise GitError(f"unexpected git log output ({len(fields)} fields)")
    records = []
    for start in range(0, len(fields), count):
        sha, parents, name, email, date, message = fields[start : start + count]
        records.append(
            CommitRecord(sha.lstrip("\n"), tuple(parents.split()), name, email, date, message)
        )
    return records


def check_reaches(repo: Repository, commits: Sequence[CommitRecord], since: str | None) -> None:
    """GitError when the history read stops at a shallow clone's boundary: the previous
    tag (or, with none found, the first commit) is beyond what was fetched."""
    boundary = repo.shallow_boundary()
    if not any(c.sha in boundary for c in commits):
        return
    where = f"the previous tag's commit {since[:12]}" if since else "the previous version tag"
    raise GitError(
        f"{repo.path}: shallow clone: its history may stop before {where}; fetch the rest "
        "with git fetch --unshallow --tags (or actions/checkout with fetch-depth: 0)"
    )
