"""Benchmark: `pilothouse artifacts inspect` against the compression passes alone.

A directory of mixed generated content (200 MB by default) is written to a temporary
directory, shaped like a build's artifact: incompressible blobs (media, already
compressed assets), text (logs, JSON, source maps: compressible), ELF binaries (a C
program compiled here with -g when a compiler exists, and the shared libraries of this
system), and duplicates of some of them. Two child processes are then timed on it, each
with its own rusage (os.wait4: CPU time includes every thread and objcopy):

* inspect -- the real CLI, ``python -m pilothouse artifacts inspect DIR --json`` with its
  default methods (zstd-19, zstd-3, xz-9, xz-6), which also hashes every file, strips every
  ELF with objcopy on a copy and reads its sections;
* raw pass -- the floor: the same directory as one tar file (written beforehand, not
  timed), compressed by the same libraries at the same levels, one method after another,
  streaming in 1 MiB chunks: the compression work alone, nothing else.

Printed: wall and CPU time of each, the ratio inspect / raw pass (wall and CPU), the
compressed sizes each found (they differ only by the tar headers), and inspect's peak
RSS. The machine is shared and its 2 cores are busy with other work: take the ratios,
measured in the same run, rather than the absolute times, and repeat.

Run from the project root::

    .venv/bin/python benchmarks/artifact_inspect.py             # 200 MB (several minutes)
    .venv/bin/python benchmarks/artifact_inspect.py --mb 20     # a quick look
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

METHODS = ("zstd-19", "zstd-3", "xz-9", "xz-6")
WORDS = (
    "error warning info debug request response cache hit miss build test crate compile link "
    "artifact upload download job step runner queue worker retry timeout ok failed passed"
).split()

RAW_PASS = r"""
import json, lzma, sys, zstandard
path, methods = sys.argv[1], sys.argv[2].split(",")
sizes = {}
for method in methods:
    family, level = method.split("-")
    if family == "xz":
        comp = lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=int(level))
    else:
        comp = zstandard.ZstdCompressor(level=int(level)).compressobj()
    total = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(1024 * 1024):
            total += len(comp.compress(chunk))
    sizes[method] = total + len(comp.flush())
print(json.dumps(sizes))
"""


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float
    peak_rss_mb: float
    output: str


def _run(argv: list[str]) -> Timing:
    """Run a child; its wall time, and CPU time and peak RSS from its own rusage."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        if proc.returncode:
            err.seek(0)
            sys.exit(f"{' '.join(argv[:5])} failed: {err.read().decode()}")
    return Timing(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.decode())


def _text(rng: random.Random, size: int) -> bytes:
    lines, total = [], 0
    while total < size:
        words = rng.choices(WORDS, k=12)
        line = f"{rng.randrange(10**9):09d} {' '.join(words)} id={rng.getrandbits(48):012x}\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def _compile_elf(folder: Path) -> Path | None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    source = folder / "prog.c"
    functions = "\n".join(
        f"struct s{i} {{ int a{i}; double b{i}; const char *c{i}; }};\n"
        f"int f{i}(struct s{i} *p, int n) {{ int t = 0; for (int k = 0; k < n; k++) "
        f"t += p->a{i} * k + (int)p->b{i}; return t; }}"
        for i in range(3000)
    )
    source.write_text(functions + "\nint main(void) { return 0; }\n")
    out = folder / "prog"
    subprocess.run([cc, "-g", "-O1", "-o", str(out), str(source)], check=True)
    source.unlink()
    return out


def generate(root: Path, total_mb: int, seed: int = 7) -> None:
    """Mixed artifact content of about *total_mb* MB under *root*."""
    rng = random.Random(seed)
    total = total_mb * 1_000_000
    (root / "assets").mkdir(parents=True)
    (root / "logs").mkdir()
    (root / "bin").mkdir()
    (root / "lib").mkdir()
    built = _compile_elf(root / "bin")
    libraries = sorted(glob.glob("/usr/lib/x86_64-linux-gnu/*.so*"))
    elf_budget, used = total // 5, sum(p.stat().st_size for p in (root / "bin").iterdir())
    for lib in libraries:
        size = os.path.getsize(lib)
        if os.path.islink(lib) or used + size > elf_budget:
            continue
        shutil.copyfile(lib, root / "lib" / os.path.basename(lib))
        used += size
    for i in range(int(total * 0.3 // 4_000_000)):
        (root / "assets" / f"blob-{i}.bin").write_bytes(rng.randbytes(4_000_000))
    text_total = int(total * 0.4)
    for i in range(text_total // 2_000_000):
        (root / "logs" / f"part-{i}.log").write_bytes(_text(rng, 2_000_000))
    copies = root / "copies"
    copies.mkdir()
    for i, blob in enumerate(sorted((root / "assets").iterdir())[:3]):
        shutil.copyfile(blob, copies / f"again-{i}.bin")
    if built is not None:
        for i in range(3):
            shutil.copyfile(built, copies / f"prog-{i}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the generated artifact")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as tmp:
        root = Path(tmp) / "artifact"
        generate(root, args.mb)
        tar_path = Path(tmp) / "artifact.tar"
        with tarfile.open(tar_path, "w") as tar:
            tar.add(root, arcname="artifact")
        files = sum(1 for p in root.rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        tar_mb = tar_path.stat().st_size / 1e6
        print(f"artifact: {files} files, {size / 1e6:.1f} MB; tar {tar_mb:.1f} MB")
        python = sys.executable
        inspect = _run([python, "-m", "pilothouse", "artifacts", "inspect", str(root), "--json"])
        raw = _run([python, "-c", RAW_PASS, str(tar_path), ",".join(METHODS)])
        report, raw_sizes = json.loads(inspect.output), json.loads(raw.output)
        found = {s["method"]: s for s in report["savings"]}
        print(f"{'':>10} {'wall s':>8} {'cpu s':>8} {'MB/s wall':>10}")
        for name, timing in (("inspect", inspect), ("raw pass", raw)):
            rate = size / 1e6 / timing.wall
            print(f"{name:>10} {timing.wall:8.1f} {timing.cpu:8.1f} {rate:10.2f}")
        print(
            f"ratio inspect / raw pass: wall {inspect.wall / raw.wall:.2f}, "
            f"cpu {inspect.cpu / raw.cpu:.2f} (goal: wall <= 1.0 on 2 free cores, cpu <= 1.2)"
        )
        print(f"inspect peak RSS {inspect.peak_rss_mb:.0f} MB")
        for method in METHODS:
            print(
                f"  {method:8} inspect {found[method]['bytes_after'] / 1e6:8.2f} MB "
                f"raw pass {raw_sizes[method] / 1e6:8.2f} MB"
            )
        for method in ("strip-debug", "strip-unneeded", "dedupe"):
            saving = found[method]
            print(
                f"  {method:15} saves {saving['saved'] / 1e6:8.2f} MB "
                f"({saving['saved_percent']:.1f}%, {saving['measured']})"
            )


if __name__ == "__main__":
    main()
