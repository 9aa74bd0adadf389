"""`pilothouse doctor`'s local checks against actionlint (the peer) on the same files.

Lays out the 20 real workflow and action files of tests/data/doctor COPIES times, then
times, best of REPEAT: the doctor's parse + rules alone, actionlint alone on the same
workflow files, and the doctor with actionlint (what `doctor --offline` does). Prints
files per second and the ratios; asserts nothing.

    .venv/bin/python benchmarks/doctor_local.py [--copies 10] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.doctor_corpus import ACTIONLINT_ARGS, CORPUS, place  # noqa: E402

from pilothouse.doctor.lint import find_actionlint  # noqa: E402
from pilothouse.doctor.local import check_local, workflow_files  # noqa: E402


def lay_out(root: Path, copies: int) -> None:
    for source in sorted(CORPUS.iterdir()):
        for n in range(copies):
            target = root / place(f"{source.stem}-{n}{source.suffix}")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    actionlint = find_actionlint()
    with tempfile.TemporaryDirectory(prefix="doctor-bench-") as folder:
        root = Path(folder)
        lay_out(root, args.copies)
        workflows = workflow_files(root)
        files = len(list(root.rglob("*.y*ml")))
        rules = best(args.repeat, lambda: check_local(root))
        print(f"{files} files ({len(workflows)} workflows), best of {args.repeat}")
        print(f"doctor rules:        {rules:7.3f} s  {files / rules:8.0f} files/s")
        if actionlint is None:
            print("actionlint is not installed: no peer to compare with")
            return
        command = [actionlint, "-no-color", "-format", "{{json .}}", *ACTIONLINT_ARGS]
        peer = best(args.repeat, lambda: subprocess.run(
            [*command, *workflows], cwd=root, capture_output=True, check=False
        ))  # fmt: skip
        both = best(args.repeat, lambda: check_local(
            root, actionlint=actionlint, actionlint_args=ACTIONLINT_ARGS
        ))  # fmt: skip
        print(f"actionlint alone:    {peer:7.3f} s  {len(workflows) / peer:8.0f} workflows/s")
        print(f"doctor + actionlint: {both:7.3f} s")
        print(f"rules / actionlint time: {rules / peer:.2f}x; doctor + actionlint / actionlint: "
              f"{both / peer:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
