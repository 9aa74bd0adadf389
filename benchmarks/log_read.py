"""Reading job logs: the cache-line reader against the physical limit of a bare readline loop.

Generates a GitHub Actions job log of --mb megabytes (build output with the runner's
timestamps, cache steps every few thousand lines), then times, on the same file:

- a bare loop of `readline()` over the bytes (what any line reader must at least do),
- `sources.logs.read_log` (decode, strip timestamps, match the pattern table),

and prints MB/s, the ratio, and the reader's peak traced memory at the full size and at
a fifth of it (it must not grow with the log). Timings are noisy on a shared machine:
each is the best of --repeat runs.

    .venv/bin/python benchmarks/log_read.py [--mb 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from pilothouse.sources.logs import LogStats, read_log_file

STAMP = "2026-11-26T09:12:33.1234567Z "
STEP = (
    "##[group]Run actions/cache@v4\nwith:\n  path: target\n  key: Linux-cargo-{h}\n"
    "  restore-keys: Linux-cargo-\n##[endgroup]\nCache hit for: Linux-cargo-{h}\n"
    "Cache Size: ~700 MB (734003200 B)\nCache restored successfully\n"
    "Cache restored from key: Linux-cargo-{h}\n"
)
OUTPUT = (
    "   Compiling hypha-core v0.1.0 (/home/runner/work/hypha/hypha/crates/hypha-core)",
    "warning: unused variable: `count`",
    "  --> crates/hypha-core/src/lib.rs:12:9",
    "test store::tests::round_trips_large_batch_7 ... ok",
    "\x1b[32m     PASS\x1b[0m [   0.013s] hypha-db api::tests::signs_bad_token_3",
)


def write_log(path: Path, megabytes: int) -> int:
    target = megabytes * 2**20
    chunk = "".join(f"{STAMP}{OUTPUT[i % len(OUTPUT)]}\n" for i in range(4000))
    written = 0
    with path.open("w", encoding="utf-8") as out:
        n = 0
        while written < target:
            step = "".join(f"{STAMP}{line}\n" for line in STEP.format(h=f"{n:064x}").splitlines())
            written += out.write(step) + out.write(chunk)
            n += 1
    return n


def bare(path: Path) -> int:
    lines = 0
    with path.open("rb") as stream:
        while stream.readline():
            lines += 1
    return lines


def reader(path: Path) -> int:
    return sum(1 for _event in read_log_file(path, LogStats()))


def best(function, path: Path, repeat: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    times, result = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(path)
        times.append(time.perf_counter() - start)
    return min(times), result


def peak(path: Path) -> int:
    tracemalloc.start()
    try:
        reader(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path, small = Path(folder) / "job.log", Path(folder) / "small.log"
        steps = write_log(path, args.mb)
        write_log(small, max(args.mb // 5, 1))
        size = path.stat().st_size / 2**20
        bare_s, lines = best(bare, path, args.repeat)
        read_s, events = best(reader, path, args.repeat)
        print(f"log: {size:.0f} MiB, {lines:,} lines, {steps:,} cache steps")
        print(f"bare readline loop: {bare_s:6.2f} s  {size / bare_s:7.1f} MiB/s")
        print(f"read_log:           {read_s:6.2f} s  {size / read_s:7.1f} MiB/s  "
              f"({events:,} events)")  # fmt: skip
        print(f"ratio read_log / bare readline: {read_s / bare_s:.1f}x")
        full, fifth = peak(path), peak(small)
        print(f"peak traced memory: {full / 2**20:.2f} MiB at {size:.0f} MiB, "
              f"{fifth / 2**20:.2f} MiB at {size / 5:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
