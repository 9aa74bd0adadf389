"""A real Prometheus (Debian's `prometheus` package, `make prometheus`) on 127.0.0.1,
serving canary and baseline series backfilled with `promtool tsdb
create-blocks-from openmetrics` into a temporary data dir.

Series are labelled target="T", track="baseline"|"canary", one scenario per target
prefix, a sample every 15 s from an hour before to an hour after the fixture starts
(so a window ending at the real clock of any process, killed and resumed, has data):

- good-*: latency ~ N(100, 4) ms, the canary's the baseline's +-0.5 ms; errors all zero;
- bad-*: the canary's latency 60 ms above the baseline's;
- sparse-*: the canary's errors 0,1,2,1,0,0,... against zeros (kayenta#426), latency good;
- missing-*: no canary series at all.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
STEP = 15
SPAN = 3600
SPARSE_ERRORS = (0, 1, 2, 1, 0, 0)

JUDGE = """[judge]
pass = 95
marginal = 75

[[metric]]
name = "latency"
group = "speed"
direction = "increase"
query = 'avg(latency_ms{ {{ scope }} })'

[[metric]]
name = "errors"
group = "errors"
kind = "count"
direction = "increase"
query = 'sum(errors{ {{ scope }} })'
"""


@dataclass(frozen=True)
class Prometheus:
    url: str
    started: float  # the epoch the series are centred on


def openmetrics(targets: dict[str, str], center: float, *, seed: int = 15) -> str:
    """The exposition text of every target's series (scenario by target prefix)."""
    rng = random.Random(seed)
    start = int(center) - SPAN
    times = range(start, int(center) + SPAN, STEP)
    latency, errors = ["# TYPE latency_ms gauge"], ["# TYPE errors gauge"]
    for target, scenario in targets.items():
        # The canary's latency is the baseline's, nudged +-0.5 ms (or +60 ms when bad):
        # the same distribution, so a good canary passes whatever window is judged.
        base = [rng.gauss(100.0, 4) for _ in times]
        for track in ("baseline", "canary"):
            if scenario == "missing" and track == "canary":
                continue
            labels = f'target="{target}",track="{track}"'
            canary = track == "canary"
            for i, at in enumerate(times):
                shift = (60.0 if scenario == "bad" else (-0.5, 0.5)[i % 2]) if canary else 0.0
                latency.append(f"latency_ms{{{labels}}} {base[i] + shift:.3f} {at}")
                sparse = canary and scenario == "sparse"
                count = SPARSE_ERRORS[i % len(SPARSE_ERRORS)] if sparse else 0
                errors.append(f"errors{{{labels}}} {count} {at}")
    return "\n".join([*latency, *errors, "# EOF", ""])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def available() -> bool:
    return shutil.which(PROMETHEUS) is not None and shutil.which(PROMTOOL) is not None


def serve(directory: Path, targets: dict[str, str]) -> Iterator[Prometheus]:
    """Backfill *targets*' series into *directory*, start Prometheus, yield, stop it."""
    center = time.time()
    data = directory / "data"
    data.mkdir(parents=True)
    source = directory / "series.om"
    source.write_text(openmetrics(targets, center))
    backfill = [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(data)]
    subprocess.run(backfill, check=True, capture_output=True, timeout=120)
    config = directory / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")
    port = _free_port()  # Prometheus cannot listen on port 0 and say which it got
    log = (directory / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=30d",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        yield Prometheus(url, center)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("prometheus did not become ready in 60 s")
