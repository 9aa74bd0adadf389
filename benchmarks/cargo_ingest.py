"""Benchmark: `pilothouse ingest cargo` on a 100,000-line cargo JSON output against a bare
``json.loads`` loop over the same lines (the floor: every line must be parsed).

The output is built from the real cargo 1.95 messages of tests/data/cargo: compiler
artifacts of a 2,000-unit workspace (members and registry dependencies, fresh and
rebuilt), compiler messages (rendered warnings, the bulk of a real noisy build), build
scripts, and human lines mixed in as `2>&1` does. Each side runs as its own child
process, whole-process (interpreter start-up included), best of ``--repeat``; wall and
CPU (user + system) times and their ratio are printed. Informational: exit 0 always.

Run from the project root::

    .venv/bin/python benchmarks/cargo_ingest.py [--lines 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INDEX = "registry+https://github.com/rust-lang/crates.io-index"
DATA = Path(__file__).parent.parent / "tests" / "data" / "cargo"
FLOOR = """
import json, sys
count = 0
with open(sys.argv[1], "rb") as stream:
    for line in stream:
        if line.lstrip().startswith(b"{"):
            json.loads(line)
            count += 1
print(count)
"""


def _samples() -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
    """A real artifact, compiler message and build-script message."""
    found: dict[str, dict[str, object]] = {}
    for line in (DATA / "build_cold.jsonl").read_text().splitlines():
        message = json.loads(line)
        found.setdefault(str(message["reason"]), message)
    return found["compiler-artifact"], found["compiler-message"], found["build-script-executed"]


def write_output(path: Path, lines: int, seed: int = 7) -> None:
    """*lines* lines of cargo output for a workspace of 2,000 units."""
    rng = random.Random(seed)
    artifact, message, script = _samples()
    with path.open("w") as out:
        for number in range(lines):
            unit = number % 2000
            member = unit < 400
            package = f"{INDEX}#d{unit}@1.{unit}.0"
            if member:
                package = f"path+file:///w/crates/c{unit}#0.1.0"
            roll = rng.random()
            if number < 2000 or roll < 0.02:
                record = {**artifact, "package_id": package, "fresh": rng.random() < 0.7,
                          "features": ["default", "std"][: rng.randint(0, 2)]}  # fmt: skip
            elif roll < 0.04:
                record = {**script, "package_id": package}
            elif roll < 0.10:
                out.write(f"   Compiling c{unit} v0.1.0 (/w/crates/c{unit})\n")
                continue
            else:
                record = {**message, "package_id": package}
            out.write(json.dumps(record) + "\n")


def _time(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    if status:
        raise SystemExit(f"{command!r} failed ({status})")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "cargo.jsonl"
        write_output(output, args.lines)
        size = output.stat().st_size / 1e6
        floor = min(_time([sys.executable, "-c", FLOOR, str(output)]) for _ in range(args.repeat))
        runs = []
        for attempt in range(args.repeat):
            db = f"sqlite:///{folder}/store{attempt}.db"
            runs.append(_time([sys.executable, "-m", "pilothouse", "--db", db, "ingest", "cargo",
                               str(output), "--run-id", "1", "--json"]))  # fmt: skip
        ingest = min(runs)
    print(f"{args.lines} lines, {size:.1f} MB, best of {args.repeat} (noisy on a shared machine)")
    print(f"bare json.loads loop: wall {floor[0]:.2f} s, cpu {floor[1]:.2f} s")
    print(f"pilothouse ingest cargo: wall {ingest[0]:.2f} s, cpu {ingest[1]:.2f} s")
    print(f"ratio: wall {ingest[0] / floor[0]:.2f}x, cpu {ingest[1] / floor[1]:.2f}x")


if __name__ == "__main__":
    main()
