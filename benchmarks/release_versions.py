"""Benchmark: the versions pilothouse and git-cliff compute against what was really released.

For three real histories (tests/data/git-history: git-cliff, commitizen and
release-please-action, rebuilt as repositories with `git fast-import`), every stable release
tag with an earlier stable release in its history is one case: the commits since that
previous release go through

* pilothouse (defaults: breaking -> major, feat -> minor, fix -> patch; 0.x breaking ->
  1.0.0), in-process;
* `git-cliff --unreleased --bumped-version` with its default configuration, in a scratch
  clone whose HEAD is the release's commit and whose tags are the releases before it;

and each computed version is compared with the tag the maintainers pushed. Then the speed:
notes for the whole commitizen history (2,541 commits), pilothouse's analysis (parse,
group, reverts, contributors, markdown) timed apart from git's `log`, beside
`git-cliff --context` on the same repository.

Informational: prints the table and ratios, asserts nothing. Run from the project root:

    .venv/bin/python benchmarks/release_versions.py [--project NAME]... [--no-git-cliff]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.gitrepo import rebuild  # noqa: E402
from tests.release_compare import (  # noqa: E402
    PROJECT_POLICIES,
    PROJECTS,
    GitCliffBumps,
    Released,
    git_cliff,
    pilothouse_next,
    release_pairs,
)

from pilothouse.delivery.release.git import Repository  # noqa: E402
from pilothouse.delivery.release.notes import Options, Release, analyse, release_json  # noqa: E402
from pilothouse.delivery.release.render import markdown  # noqa: E402
from pilothouse.delivery.release.tags import TagPattern, versions  # noqa: E402


def compare(name: str, work: Path, *, with_git_cliff: bool) -> tuple[list[Released], float]:
    """Every case of one project, and pilothouse's total analysis seconds."""
    repo = Repository.open(work / name)
    pattern = TagPattern("v{version}")
    tagged = versions(repo.tags(), pattern)
    bumps = GitCliffBumps(work / name, work / f"{name}-scratch") if with_git_cliff else None
    cases, analysis = [], 0.0
    for previous, release in release_pairs(repo, pattern):
        ours, count, took = pilothouse_next(repo, previous, release)
        analysis += took
        policy = PROJECT_POLICIES.get(name)
        configured = pilothouse_next(repo, previous, release, policy)[0] if policy else ours
        theirs = None
        if bumps is not None:
            earlier = [t for t in tagged if t.version < release.version]
            theirs = bumps.next(previous, release, earlier)
        released = str(release.version)
        cases.append(Released(release.tag, previous.tag, released, ours, theirs, configured, count))
    return cases, analysis


def _share(hits: int, total: int) -> str:
    return f"{hits:4d}/{total:<4d} {100 * hits / total:5.1f} %" if total else "   -"


def _row(name: str, counts: list[int], with_git_cliff: bool) -> str:
    n, ours, configured, theirs, both = counts
    cliff = _share(theirs, n) if with_git_cliff else "   (skipped)"
    joint = _share(both, n) if with_git_cliff else ""
    return (
        f"{name:<22} {n:>8}  {_share(ours, n):<17} {_share(configured, n):<17} {cliff:<17} {joint}"
    )


def print_table(results: dict[str, list[Released]], *, with_git_cliff: bool) -> None:
    print(f"{'project':<22} {'releases':>8}  {'pilothouse':<17} {'+ project rules':<17} "
          f"{'git-cliff':<17} both (defaults)")  # fmt: skip
    totals = [0, 0, 0, 0, 0]
    for name, cases in results.items():
        counts = [
            len(cases),
            sum(c.pilothouse == c.released for c in cases),
            sum(c.configured == c.released for c in cases),
            sum(c.git_cliff == c.released for c in cases),
            sum(c.pilothouse == c.released == c.git_cliff for c in cases),
        ]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        print(_row(name, counts, with_git_cliff))
    print(_row("all", totals, with_git_cliff))


def print_disagreements(results: dict[str, list[Released]], limit: int = 8) -> None:
    for name, cases in results.items():
        wrong = [c for c in cases if c.pilothouse != c.released]
        print(f"\n{name}: pilothouse differs on {len(wrong)} releases (first {limit}):")
        for c in wrong[:limit]:
            print(f"  {c.previous} -> {c.tag}: pilothouse {c.pilothouse or 'no release'}, "
                  f"git-cliff {c.git_cliff or 'no release'} ({c.commits} commits)")  # fmt: skip


def speed(work: Path, *, with_git_cliff: bool, rounds: int = 5) -> None:
    """Notes for the whole commitizen history: git's log, pilothouse's analysis, git-cliff."""
    path = work / "commitizen"
    repo = Repository.open(path)
    git_times, analysis_times = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        commits = repo.log("HEAD")
        known = repo.emails_before(None)
        git_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        entries = analyse(commits, Options())
        release = Release(None, None, "none", None, tuple(entries), known, None)
        text = markdown(release_json(release))
        analysis_times.append(time.perf_counter() - start)
    print(f"\nspeed: notes for the whole commitizen history ({len(commits)} commits, "
          f"{len(text.splitlines())} lines of markdown), best of {rounds}:")  # fmt: skip
    print(f"  git log (git's own time):         {min(git_times) * 1000:8.1f} ms")
    print(f"  pilothouse analysis + markdown:   {min(analysis_times) * 1000:8.1f} ms "
          f"({min(analysis_times) / len(commits) * 1e6:.1f} us a commit)")  # fmt: skip
    if with_git_cliff:
        cliff_times = []
        for _ in range(max(1, rounds // 2)):
            start = time.perf_counter()
            subprocess.run(
                [git_cliff(), "--context", "--repository", str(path)],
                capture_output=True,
                check=True,
            )
            cliff_times.append(time.perf_counter() - start)
        best = min(cliff_times)
        ours = min(git_times) + min(analysis_times)
        print(f"  git-cliff --context (whole run):  {best * 1000:8.1f} ms")
        print(f"  ratio git-cliff / pilothouse (git + analysis): {best / ours:.1f}x")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", action="append", choices=PROJECTS)
    parser.add_argument("--no-git-cliff", action="store_true", help="pilothouse only")
    args = parser.parse_args(argv)
    with_git_cliff = not args.no_git_cliff
    with tempfile.TemporaryDirectory(prefix="release-bench-") as temporary:
        work = Path(temporary)
        results: dict[str, list[Released]] = {}
        for name in args.project or PROJECTS:
            start = time.perf_counter()
            rebuild(name, work / name)
            built = time.perf_counter() - start
            cases, analysis = compare(name, work, with_git_cliff=with_git_cliff)
            results[name] = cases
            note = f"{name}: rebuilt with git fast-import in {built:.2f} s; {len(cases)} releases"
            print(f"{note}; pilothouse analysis {analysis * 1000:.1f} ms", file=sys.stderr)
        print("Released versions: how often each tool computes the version the maintainers "
              "released\n")  # fmt: skip
        print_table(results, with_git_cliff=with_git_cliff)
        print_disagreements(results)
        if "commitizen" in results:
            speed(work, with_git_cliff=with_git_cliff)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
