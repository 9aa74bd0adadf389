"""Writes canary-good.csv and canary-bad.csv, the example series of docs/canary.md: 30 steps
of a checkout service's baseline and canary (seeded, so the files are reproducible).

    .venv/bin/python docs/examples/canary_data.py
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
STEPS = 30


def rows(seed: int, *, bad: bool) -> list[tuple[str, str, str, object]]:
    """Errors, success rate, p99 latency and CPU per step; a bad canary has more errors
    and a third of its steps slower."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    out: list[tuple[str, str, str, object]] = []
    for scope in ("baseline", "canary"):
        worse = bad and scope == "canary"
        errors = rng.poisson(0.1, STEPS)
        if worse:
            errors = rng.poisson(0.6, STEPS)
        success = 100 - rng.gamma(1.0, 0.05, STEPS)
        latency = rng.lognormal(np.log(180), 0.12, STEPS)
        if worse:
            latency = np.where(rng.random(STEPS) < 0.3, latency * 1.9, latency)
        cpu = rng.normal(0.42, 0.03, STEPS)
        for i in range(STEPS):
            stamp = (start + timedelta(minutes=i)).isoformat().replace("+00:00", "Z")
            missed = scope == "baseline" and i == 17  # a scrape that did not answer
            out.append(("http_5xx", scope, stamp, int(errors[i])))
            out.append(("success_rate", scope, stamp, round(float(success[i]), 3)))
            value = "" if missed else round(float(latency[i]), 1)
            out.append(("latency_p99_ms", scope, stamp, value))
            out.append(("cpu_seconds", scope, stamp, round(float(cpu[i]), 4)))
    return out


def write(path: Path, seed: int, *, bad: bool) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["metric", "scope", "timestamp", "value"])
        writer.writerows(rows(seed, bad=bad))


if __name__ == "__main__":
    write(HERE / "canary-good.csv", 20261130, bad=False)
    write(HERE / "canary-bad.csv", 20261201, bad=True)
