"""`pilothouse canary judge --prometheus` against a real Prometheus (Debian's `prometheus`
package), its data backfilled with `promtool tsdb create-blocks-from openmetrics`.
Skipped where the binaries are absent."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None,
    reason="Prometheus is not installed (Debian package prometheus)",
)

STEPS = 30
# Three hours ago, on a minute: past the head block, well inside the retention.
END = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
START = END - timedelta(minutes=STEPS - 1)


def _openmetrics() -> str:
    """A counter of errors and a latency gauge per track, one sample a minute: the canary
    with a burst of errors and a wider latency spread than the baseline."""
    rng = np.random.default_rng(15)
    errors = {"baseline": rng.poisson(0.05, STEPS), "canary": rng.poisson(0.6, STEPS)}
    spread = {"baseline": 5.0, "canary": 30.0}
    lines = ["# TYPE errors counter"]
    for track, increments in errors.items():
        total = 0
        for i, step in enumerate(increments):
            total += int(step)
            stamp = int((START + timedelta(minutes=i)).timestamp())
            lines.append(f'errors_total{{app="shop",track="{track}"}} {total} {stamp}')
    lines.append("# TYPE latency_ms gauge")
    for track, sd in spread.items():
        for i, value in enumerate(rng.normal(200.0, sd, STEPS)):
            stamp = int((START + timedelta(minutes=i)).timestamp())
            lines.append(f'latency_ms{{app="shop",track="{track}"}} {value:.3f} {stamp}')
    return "\n".join(lines) + "\n# EOF\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("prometheus")
    (root / "series.om").write_text(_openmetrics())
    (root / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", "series.om", "data"],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    log = (root / "prometheus.log").open("w")
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, server, root)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_ready(url: str, server: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"prometheus exited: {(root / 'prometheus.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("prometheus did not become ready in 60 s")


CONFIG = """
[scope]
baseline = 'app="shop", track="baseline"'
canary = 'app="shop", track="canary"'

[[metric]]
name = "errors"
kind = "count"
direction = "increase"
query = 'sum(increase(errors_total{ {{ scope }} }[1m]))'

[[metric]]
name = "latency"
direction = "increase"
query = 'sum(latency_ms{ {{ scope }} })'

[[metric]]
name = "absent"
query = 'sum(no_such_metric{ {{ scope }} })'
"""


def test_the_judge_reads_a_real_prometheus(prometheus: str, tmp_path: Path) -> None:
    (tmp_path / "canary.toml").write_text(CONFIG)
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'unused.db'}")
    code, out, err = cli(
        "canary",
        "judge",
        "--config",
        "canary.toml",
        "--prometheus",
        prometheus,
        "--start",
        START.isoformat(),
        "--end",
        END.isoformat(),
        "--step",
        "1m",
        "--json",
    )
    assert code == 5, err
    doc = json.loads(out)
    metrics = {m["name"]: m for m in doc["metrics"]}
    assert metrics["errors"]["classification"] == "high"
    assert metrics["errors"]["test"] == "poisson-rate"
    assert metrics["latency"]["classification"] == "high"
    assert metrics["latency"]["test"] in ("ks", "spread")
    assert metrics["absent"]["classification"] == "nodata"
    # Kayenta's judge alone passes both.
    code, out, _ = cli(
        "canary",
        "judge",
        "--config",
        "canary.toml",
        "--prometheus",
        prometheus,
        "--start",
        START.isoformat(),
        "--end",
        END.isoformat(),
        "--step",
        "1m",
        "--json",
        "--kayenta-only",
    )
    kayenta = {m["name"]: m["classification"] for m in json.loads(out)["metrics"]}
    assert kayenta["latency"] == "pass"


def test_a_bad_query_is_prometheus_own_error(prometheus: str, tmp_path: Path) -> None:
    (tmp_path / "canary.toml").write_text(
        "[scope]\nbaseline = 'a=\"b\"'\ncanary = 'a=\"c\"'\n"
        "[[metric]]\nname = \"x\"\nquery = 'sum(rate(x{ {{ scope }} }))'\n"
    )
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'unused.db'}")
    code, _, err = cli(
        "canary",
        "judge",
        "--config",
        "canary.toml",
        "--prometheus",
        prometheus,
        "--start",
        START.isoformat(),
        "--end",
        END.isoformat(),
        "--step",
        "1m",
    )
    assert code == 1
    assert "HTTP 400, Prometheus bad_data:" in err and "/api/v1/query_range" in err
    assert err.count("\n") == 1
