"""What `pilothouse provenance generate|verify` spends on hashing, against the limits.

Both commands read each artifact once for its SHA-256 and SHA-512. The limits: the same
two hashlib digests over the bytes already in memory (no I/O; one core computes both, so
their sum), and coreutils `sha256sum` plus `sha512sum` reading the file (two passes).
Prints seconds (CPU and wall) and ratios; asserts nothing.

    .venv/bin/python benchmarks/provenance_digest.py [--mib 256] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pilothouse.delivery.provenance.files import digests


def _timed(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best of *repeat*: (wall, CPU of this process and its children)."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        before = os.times()
        start = time.perf_counter()
        work()
        wall = time.perf_counter() - start
        after = os.times()
        cpu = sum(after[i] - before[i] for i in range(4))
        best = min(best, (wall, cpu))
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="provenance-bench-") as folder:
        path = Path(folder) / "artifact.bin"
        data = os.urandom(args.mib * 1024 * 1024)
        path.write_bytes(data)
        ours = _timed(lambda: digests(path), args.repeat)
        memory = _timed(
            lambda: (hashlib.sha256(data).digest(), hashlib.sha512(data).digest()), args.repeat
        )
        coreutils = _timed(
            lambda: [
                subprocess.run([tool, str(path)], check=True, capture_output=True)
                for tool in ("sha256sum", "sha512sum")
            ],
            args.repeat,
        )
    size = args.mib
    print(f"{size} MiB, best of {args.repeat}: wall s / CPU s / MiB/s (wall)")
    for name, (wall, cpu) in (
        ("pilothouse digests (one read)", ours),
        ("hashlib in memory (limit)", memory),
        ("sha256sum + sha512sum", coreutils),
    ):
        print(f"  {name:32} {wall:6.2f} {cpu:6.2f} {size / wall:8.0f}")
    print(
        f"ratio to the in-memory limit: {memory[0] / ours[0]:.2f} wall, "
        f"{memory[1] / ours[1]:.2f} CPU"
    )
    print(
        f"ratio to coreutils: {coreutils[0] / ours[0]:.2f} wall, {coreutils[1] / ours[1]:.2f} CPU"
    )


if __name__ == "__main__":
    main()
