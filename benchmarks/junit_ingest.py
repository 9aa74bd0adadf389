"""Benchmark: how fast, and in how much memory, pilothouse ingests a large JUnit report.

One synthetic report shaped like cargo-nextest output (500,000 testcases by default,
~200 suites, ~1% failures, ~0.5% skips, a few flaky tests) is written to a temporary
directory, then three readers are timed on that same file, each as its own child
process, whole-process (interpreter start-up included):

* pilothouse -- the real CLI, ``python -m pilothouse --db sqlite:///... ingest junit
  REPORT --json``, into a fresh SQLite store every repetition;
* bare iterparse -- the floor: an lxml ``iterparse`` loop that only counts testcases and
  frees them as it goes;
* junitparser -- ``JUnitXml.fromfile`` plus a walk over every suite and testcase.

Wall time is taken with ``time.perf_counter`` around each child, and peak RSS from that
child's own rusage (``os.wait4``). The best of ``--repeat`` runs gives each rate; the
peak RSS shown is the largest seen over the repetitions. Pilothouse is then run on a
report one fifth the size to check that its peak memory does not grow with the file.

The readers take turns (one run of each, then again), so a burst of load on this
shared machine hits them alike; CPU time (user + sys, from the same rusage) is shown
beside wall time as the figure load disturbs least. A 5-testcase report gives
pilothouse's fixed cost (interpreter, imports, creating the store).

Goals (informational; the script exits 0 whether they are met or not):
pilothouse rate / bare iterparse rate >= 0.3, pilothouse rate / junitparser rate >= 1.2,
peak RSS at N / peak RSS at N/5 close to 1.0.

Where a rate goal misses, the script says why with a floor of its own: the rows the store's
design writes per testcase (a result, its test, its day's rollup and its duration bin; the
`tests`, `test_results`, `test_days` and `test_day_bins` tables with their keys), inserted
with bare `sqlite3` executemany from tuples made in advance, in one transaction. No parsing
and no Python per row: what any ingest into these tables costs at least, beside the budget
per testcase the goal leaves.

Run from the project root::

    .venv/bin/python benchmarks/junit_ingest.py            # full size (a few minutes)
    .venv/bin/python benchmarks/junit_ingest.py --quick    # small smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

DEFAULT_CASES = 500_000
QUICK_CASES = 20_000
SUITES = 200
IPARSE_GOAL = 0.3
JUNITPARSER_GOAL = 1.2
MEMORY_TOLERANCE = 1.25  # "close to 1.0": peak RSS may grow by at most this factor

BARE_ITERPARSE = """\
import sys
from lxml import etree
count = 0
for _, el in etree.iterparse(sys.argv[1], events=("end",), tag="testcase"):
    count += 1
    el.clear()
    while el.getprevious() is not None:
        del el.getparent()[0]
print(count)
"""

JUNITPARSER_READ = """\
import sys
from junitparser import JUnitXml
xml = JUnitXml.fromfile(sys.argv[1])
n = 0
for suite in xml:
    for case in suite:
        n += 1
print(n)
"""


# --- report generation -------------------------------------------------------------------


def _outcome_xml(index: int) -> str:
    """The body of testcase *index*: empty for a pass, else its failure/skip/flaky children."""
    if index % 100 == 7:  # ~1% failures
        return (
            '<failure type="test failure">'
            "thread 'main' panicked at src/lib.rs:"
            f"{index % 900 + 10}:5: assertion `left == right` failed</failure>"
        )
    if index % 200 == 42:  # ~0.5% skipped
        return "<skipped/>"
    if index % 9973 == 5000:  # a few flaky tests: failed once, then passed
        return (
            '<flakyFailure type="test failure" message="code=101">'
            "<system-out>running 1 test</system-out>"
            "<system-err>thread panicked: timed out</system-err></flakyFailure>"
        )
    return ""


def _testcase_xml(index: int, crate: str) -> str:
    name = f"module_{index % 37}::tests::test_{index}"
    duration = f"{(index * 7919 % 100_000) / 1_000_000:.4f}"
    head = f'    <testcase name="{name}" classname="{crate}" time="{duration}"'
    body = _outcome_xml(index)
    return f"{head}/>\n" if not body else f"{head}>{body}</testcase>\n"


def _suite_sizes(cases: int, suites: int) -> Iterator[tuple[int, int]]:
    """(first index, count) of each suite, spreading *cases* as evenly as possible."""
    suites = max(1, min(suites, cases))
    base, extra = divmod(cases, suites)
    start = 0
    for k in range(suites):
        count = base + (1 if k < extra else 0)
        yield start, count
        start += count


def _write_suite(out: IO[str], k: int, start: int, count: int) -> None:
    """Write one suite as a single chunk (a few hundred KiB at most)."""
    crate = f"crate-{k}"
    lines = [_testcase_xml(i, crate) for i in range(start, start + count)]
    failures = sum(1 for line in lines if "<failure" in line)
    skipped = sum(1 for line in lines if "<skipped" in line)
    out.write(
        f'  <testsuite name="{crate}" tests="{count}" disabled="{skipped}" errors="0" '
        f'failures="{failures}">\n'
    )
    out.write("".join(lines))
    out.write("  </testsuite>\n")


def write_report(path: Path, cases: int, suites: int = SUITES) -> None:
    """Stream a nextest-style JUnit report with *cases* testcases to *path*."""
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        failures = len(range(7, cases, 100))  # the indexes _outcome_xml makes failures
        out.write(
            f'<testsuites name="nextest-run" tests="{cases}" failures="{failures}" errors="0">\n'
        )
        for k, (start, count) in enumerate(_suite_sizes(cases, suites)):
            _write_suite(out, k, start, count)
        out.write("</testsuites>\n")


# --- measuring child processes -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One child process: its wall time, peak RSS and standard output."""

    seconds: float
    cpu_seconds: float
    peak_rss_kib: int
    stdout: str


@dataclass(frozen=True, slots=True)
class Result:
    """The best time and largest peak RSS over the repetitions of one reader."""

    label: str
    cases: int
    seconds: float
    cpu_seconds: float
    peak_rss_kib: int

    @property
    def rate(self) -> float:
        return self.cases / self.seconds

    @property
    def cpu_rate(self) -> float:
        return self.cases / self.cpu_seconds

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_kib / 1024


def _read_all(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode("utf-8", errors="replace")


def run_child(argv: Sequence[str], cwd: Path) -> Sample:
    """Run *argv*, timing it and reading its own peak RSS with os.wait4."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PILOTHOUSE_"))}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout, stderr = _read_all(out), _read_all(err)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited {proc.returncode}:\n{stderr[-2000:]}")
    # Linux reports ru_maxrss in KiB.
    cpu = usage.ru_utime + usage.ru_stime
    return Sample(seconds, cpu, peak_rss_kib=int(usage.ru_maxrss), stdout=stdout)


def _fresh_db(tmpdir: Path) -> str:
    for suffix in ("", "-wal", "-shm", "-journal"):
        (tmpdir / f"bench.db{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{tmpdir}/bench.db"


def pilothouse_argv(report: Path, tmpdir: Path) -> list[str]:
    db = _fresh_db(tmpdir)
    command = ["ingest", "junit", str(report), "--json"]
    return [sys.executable, "-m", "pilothouse", "--db", db, *command]


def _count_of(label: str, sample: Sample) -> int:
    if label == "pilothouse":
        return int(json.loads(sample.stdout)["tests"])
    return int(sample.stdout.strip())


def measure_once(label: str, report: Path, cases: int, tmpdir: Path) -> Sample:
    """One run of one reader; checks it saw every testcase."""
    if label == "pilothouse":
        argv = pilothouse_argv(report, tmpdir)
    else:
        code = BARE_ITERPARSE if label == "bare iterparse" else JUNITPARSER_READ
        argv = [sys.executable, "-c", code, str(report)]
    sample = run_child(argv, tmpdir)
    seen = _count_of(label, sample)
    if seen != cases:
        raise RuntimeError(f"{label}: read {seen} testcases, expected {cases}")
    return sample


def best(label: str, cases: int, samples: Sequence[Sample]) -> Result:
    return Result(
        label=label,
        cases=cases,
        seconds=min(s.seconds for s in samples),
        cpu_seconds=min(s.cpu_seconds for s in samples),
        peak_rss_kib=max(s.peak_rss_kib for s in samples),
    )


def measure_in_turns(
    runs: Sequence[tuple[str, Path, int]], repeat: int, tmpdir: Path
) -> list[Result]:
    """Best of *repeat* for each (label, report, testcases), the readers taking turns."""
    samples: list[list[Sample]] = [[] for _ in runs]
    for _ in range(repeat):
        for (label, report, cases), found in zip(runs, samples, strict=True):
            found.append(measure_once(label, report, cases, tmpdir))
    return [best(label, cases, s) for (label, _r, cases), s in zip(runs, samples, strict=True)]


# --- reporting -----------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(results: Sequence[Result]) -> None:
    print(
        f"{'reader':<16} {'testcases':>10} {'best s':>8} {'CPU s':>7} {'testcases/s':>13} "
        f"{'peak RSS':>12}"
    )
    for r in results:
        print(
            f"{r.label:<16} {r.cases:>10,} {r.seconds:>8.2f} {r.cpu_seconds:>7.2f} "
            f"{r.rate:>13,.0f} {r.peak_rss_mib:>8.1f} MiB"
        )


def print_goals(pilothouse: Result, bare: Result, junitparser: Result, fixed: Result) -> None:
    print()
    for other, goal in ((bare, IPARSE_GOAL), (junitparser, JUNITPARSER_GOAL)):
        wall = pilothouse.rate / other.rate
        cpu = pilothouse.cpu_rate / other.cpu_rate
        print(
            f"pilothouse / {other.label + ' rate:':<21} {wall:5.2f} wall, {cpu:5.2f} CPU   "
            f"goal >= {goal}  {_verdict(wall >= goal)} (wall), {_verdict(cpu >= goal)} (CPU)"
        )
    print(
        f"pilothouse fixed cost (5 testcases, fresh store): {fixed.seconds:.2f} s wall, "
        f"{fixed.cpu_seconds:.2f} s CPU; per testcase after it: "
        f"{(pilothouse.cpu_seconds - fixed.cpu_seconds) / pilothouse.cases * 1e6:.1f} us CPU "
        f"(bare iterparse: {bare.cpu_seconds / bare.cases * 1e6:.1f} us)"
    )


FLOOR_SCHEMA = """
CREATE TABLE tests (id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, classname TEXT,
                    name TEXT NOT NULL, file TEXT);
CREATE TABLE test_results (id INTEGER PRIMARY KEY, report_id INTEGER NOT NULL,
                           test_id INTEGER NOT NULL, outcome TEXT NOT NULL, duration REAL,
                           message TEXT);
CREATE INDEX ix_results ON test_results (report_id, test_id);
CREATE TABLE test_days (day DATE NOT NULL, test_id INTEGER NOT NULL, runs INTEGER,
                        failures INTEGER, skips INTEGER, seconds REAL,
                        PRIMARY KEY (day, test_id));
CREATE TABLE test_day_bins (day DATE NOT NULL, test_id INTEGER NOT NULL, bin INTEGER NOT NULL,
                            count INTEGER, PRIMARY KEY (day, test_id, bin));
"""


def store_floor(cases: int, tmpdir: Path) -> float:
    """CPU seconds bare sqlite3 takes to insert the design's rows for *cases* new tests."""
    import hashlib
    import sqlite3

    path = tmpdir / "floor.db"
    path.unlink(missing_ok=True)
    tests, results, days, bins = [], [], [], []
    for i in range(cases):
        name = f"module_{i % 37}::tests::test_{i}"
        crate = f"crate-{i % SUITES}"
        key = hashlib.sha256(f"{crate}\x1f{name}".encode()).digest()[:16]
        seconds = (i * 7919 % 100_000) / 1_000_000
        tests.append((i + 1, key, crate, name, None))
        results.append((1, i + 1, "passed", seconds, None))
        days.append(("2026-12-01", i + 1, 1, 0, 0, seconds))
        bins.append(("2026-12-01", i + 1, int(seconds * 1000).bit_length(), 1))
    connection = sqlite3.connect(path, isolation_level=None)
    connection.executescript(FLOOR_SCHEMA)
    start = time.process_time()
    connection.execute("BEGIN")
    connection.executemany("INSERT INTO tests VALUES (?, ?, ?, ?, ?)", tests)
    connection.executemany(
        "INSERT INTO test_results (report_id, test_id, outcome, duration, message) "
        "VALUES (?, ?, ?, ?, ?)",
        results,
    )
    connection.executemany("INSERT INTO test_days VALUES (?, ?, ?, ?, ?, ?)", days)
    connection.executemany("INSERT INTO test_day_bins VALUES (?, ?, ?, ?)", bins)
    connection.execute("COMMIT")
    seconds = time.process_time() - start
    connection.close()
    return seconds


def print_floor(pilothouse: Result, bare: Result, fixed: Result, floor_cpu: float) -> None:
    """Why a rate goal misses: the store's floor beside the budget the goal leaves."""
    per_case = floor_cpu / pilothouse.cases * 1e6
    ours = (pilothouse.cpu_seconds - fixed.cpu_seconds) / pilothouse.cases * 1e6
    bare_case = bare.cpu_seconds / bare.cases * 1e6
    budget = bare_case / IPARSE_GOAL
    print()
    print(
        f"store floor: {per_case:.1f} us CPU per testcase (bare sqlite3 executemany of the "
        f"4 rows the design writes per new test, tuples made in advance); pilothouse's "
        f"{ours:.1f} us is {ours / per_case:.2f} x the floor"
    )
    print(
        f"  the {IPARSE_GOAL} x iterparse goal leaves {budget:.1f} us per testcase for reading "
        f"AND storing; reading alone (bare iterparse) takes {bare_case:.1f} us"
    )
    left = budget - bare_case
    verdict = "fits" if per_case <= left else "does NOT fit"
    print(
        f"  left for storing: {left:.1f} us; the floor {verdict} ({per_case / left:.2f} x of it)"
        if left > 0
        else "  nothing left for storing"
    )


def print_memory(large: Result, small: Result) -> None:
    ratio = large.peak_rss_kib / small.peak_rss_kib
    print()
    print("pilothouse peak RSS vs report size:")
    print(f"  {small.cases:>10,} testcases: {small.peak_rss_mib:8.1f} MiB")
    print(f"  {large.cases:>10,} testcases: {large.peak_rss_mib:8.1f} MiB")
    print(
        f"  ratio {ratio:.2f}   goal close to 1.0 (<= {MEMORY_TOLERANCE})  "
        f"{_verdict(ratio <= MEMORY_TOLERANCE)}"
    )


# --- entry point ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=None, help=f"default {DEFAULT_CASES:,}")
    parser.add_argument("--repeat", type=int, default=None, help="runs per reader (default 3)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small smoke run: {QUICK_CASES:,} testcases, one repetition",
    )
    args = parser.parse_args(argv)
    if args.cases is None:
        args.cases = QUICK_CASES if args.quick else DEFAULT_CASES
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.cases < 5 or args.repeat < 1:
        parser.error("--cases must be >= 5 and --repeat >= 1")
    return args


def _generate(path: Path, cases: int) -> None:
    start = time.perf_counter()
    write_report(path, cases)
    seconds = time.perf_counter() - start
    size = path.stat().st_size / (1 << 20)
    print(f"wrote {path.name}: {cases:,} testcases, {size:.1f} MiB in {seconds:.1f}s")


def run_benchmark(cases: int, repeat: int, tmpdir: Path) -> None:
    report = tmpdir / "nextest-large.xml"
    small_report = tmpdir / "nextest-small.xml"
    tiny_report = tmpdir / "nextest-tiny.xml"
    _generate(report, cases)
    _generate(small_report, cases // 5)
    write_report(tiny_report, 5)
    print(f"best of {repeat} run(s) each, whole process, Python {sys.version.split()[0]}\n")
    pilothouse, bare, junitparser, small, fixed = measure_in_turns(
        [
            ("pilothouse", report, cases),
            ("bare iterparse", report, cases),
            ("junitparser", report, cases),
            ("pilothouse", small_report, cases // 5),
            ("pilothouse", tiny_report, 5),
        ],
        repeat,
        tmpdir,
    )
    print_table([pilothouse, bare, junitparser])
    print_goals(pilothouse, bare, junitparser, fixed)
    print_floor(pilothouse, bare, fixed, store_floor(cases, tmpdir))
    print_memory(pilothouse, small)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pilothouse-bench-") as tmp:
        try:
            run_benchmark(args.cases, args.repeat, Path(tmp))
        except RuntimeError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
