"""End to end: `pilothouse rollout` judged by the real canary judge over a real
Prometheus (tests/prometheus_server.py), hooks appending to a file, on both stores."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pilothouse.store import Store

from . import prometheus_server
from .conftest import Cli
from .prometheus_server import JUDGE, Prometheus
from .rollout_kit import HOOKS, calls, hook_env, reset, write_kit

V = "2.0.0"

SCENARIOS = {
    "good-a": "good",
    "good-b": "good",
    "good-c": "good",
    "bad-a": "bad",
    "sparse-a": "sparse",
    "missing-a": "missing",
}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    if not prometheus_server.available():
        pytest.fail("prometheus/promtool are missing: `make prometheus` installs them (apt)")
    yield from prometheus_server.serve(tmp_path_factory.mktemp("prometheus"), SCENARIOS)


def plan_text(
    url: str, waves: list[tuple[str, list[str]]], scope: str = "wave", extra: str = ""
) -> str:
    head = f"""[rollout]
name = "payments"
rollback_scope = "{scope}"
hook_timeout = 20

{HOOKS}
[analysis]
prometheus = "{url}"
judge = "canary.toml"
step = 15
lookback = 600
baseline = 'target="{{target}}",track="baseline"'
canary = 'target="{{target}}",track="canary"'
"""
    body = "".join(
        f'\n[[wave]]\nname = "{name}"\ntargets = {json.dumps(targets)}\nmax_parallel = 1\n'
        f"steps = [25, 100]\n{extra}"
        for name, targets in waves
    )
    return head + body


def kit(tmp_path: Path, prometheus: Prometheus, waves: list[tuple[str, list[str]]],
        scope: str = "wave", extra: str = "") -> Path:  # fmt: skip
    path = write_kit(tmp_path / "kit", plan_text(prometheus.url, waves, scope, extra))
    (path.parent / "canary.toml").write_text(JUDGE)
    return path


def cli_for(tmp_path: Path, store_url: str, **env: str) -> Cli:
    return Cli(cwd=tmp_path, db=store_url, env=hook_env(tmp_path / "kit", **env),
               now=datetime.now(UTC))  # fmt: skip


def journey(target: str) -> list[str]:
    steps = [f"set_weight {target} {w} {V}|health {target} {w} {V}" for w in (25, 100)]
    return [f"deploy {target} 0 {V}", *"|".join(steps).split("|"), f"promote {target} 100 {V}"]


def test_a_good_version_promotes_through_every_wave(
    tmp_path: Path, store_url: str, prometheus: Prometheus
) -> None:
    plan = kit(tmp_path, prometheus, [("staging", ["good-a"]), ("prod", ["good-b", "good-c"])])
    cli = cli_for(tmp_path, store_url)
    code, out, err = cli("rollout", "start", str(plan), "--version", V)
    assert code == 0, out + err
    assert out.count("judge: pass: score 100") == 6
    assert calls(tmp_path / "kit") == [*journey("good-a"), *journey("good-b"), *journey("good-c")]
    status = cli.json("rollout", "status")
    assert status["status"] == "promoted" and status["reason"] is None
    assert [t["target"] for t in status["transitions"] if t["kind"] == "analyze"] == [
        "good-a", "good-a", "good-b", "good-b", "good-c", "good-c"
    ]  # fmt: skip


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, str]]]]:
    received: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook/SECRET", received
    server.shutdown()
    server.server_close()


def test_a_bad_version_rolls_back_the_completed_waves_and_notifies(
    tmp_path: Path,
    store_url: str,
    prometheus: Prometheus,
    webhook: tuple[str, list[dict[str, str]]],
) -> None:
    url, received = webhook
    plan = kit(tmp_path, prometheus, [("staging", ["good-a"]), ("prod", ["bad-a"])], "all")
    cli = cli_for(tmp_path, store_url, PILOTHOUSE_ROLLOUT_WEBHOOKS=url)
    code, out, err = cli("rollout", "start", str(plan), "--version", V)
    assert code == 1, out
    assert "rollout 1 rolled back: analyze bad-a at 25%: judge: fail: score 50" in err
    assert "latency high: higher" in err and "SECRET" not in out + err
    assert calls(tmp_path / "kit") == [
        *journey("good-a"),
        f"deploy bad-a 0 {V}",
        f"set_weight bad-a 25 {V}",
        f"health bad-a 25 {V}",
        f"rollback bad-a 0 {V}",
        f"rollback good-a 0 {V}",
    ]
    assert [r["text"].split(": ")[1] for r in received] == ["rolled back"]
    assert received[0]["text"].startswith(f"pilothouse rollout 1 (payments {V}): rolled back")
    history = cli.json("rollout", "history")["rollouts"]
    assert [(h["id"], h["status"]) for h in history] == [(1, "rolled back")]


@pytest.mark.parametrize(
    ("target", "fault"),
    [("sparse-a", "errors high: "), ("missing-a", "latency nodata: ")],
)
def test_sparse_errors_and_missing_canaries_roll_back(
    tmp_path: Path, store_url: str, prometheus: Prometheus, target: str, fault: str
) -> None:
    plan = kit(tmp_path, prometheus, [("canary", [target])])
    code, out, err = cli_for(tmp_path, store_url)("rollout", "start", str(plan), "--version", V)
    assert code == 1 and fault in err, out + err
    assert calls(tmp_path / "kit")[-1] == f"rollback {target} 0 {V}"


def _transitions(url: str, rollout_id: int) -> list[tuple[object, ...]]:
    with Store.open(url) as store:
        rows = store.rollout_transitions(rollout_id)
    return [(r.seq, r.kind, r.wave, r.target, r.weight, r.detail.split(": score")[0]) for r in rows]


def test_a_killed_rollout_resumes_exactly(
    tmp_path: Path, store_url: str, prometheus: Prometheus
) -> None:
    plan = kit(tmp_path, prometheus, [("staging", ["good-a"]), ("prod", ["bad-a"])], "all")
    directory = tmp_path / "kit"
    cli = cli_for(tmp_path, store_url)
    assert cli("rollout", "start", str(plan), "--version", V)[0] == 1
    expected_calls, expected = calls(directory), _transitions(store_url, 1)
    for kill_at in range(1, len(expected_calls) + 1):
        reset(directory)
        killed = subprocess.run(
            [sys.executable, "-m", "pilothouse", "--db", store_url, "rollout", "start", str(plan),
             "--version", V],
            env={**os.environ, **hook_env(directory, KILL_AT=str(kill_at))},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert killed.returncode == -9, (kill_at, killed.stdout, killed.stderr)
        code, out, err = cli_for(tmp_path, store_url)("rollout", "resume")
        assert code == 1 and f"rollout {kill_at + 1}: rolled back" in out, out + err
        assert calls(directory) == expected_calls, kill_at
        assert _transitions(store_url, kill_at + 1) == expected, kill_at


def test_no_judgement_is_not_a_pass(tmp_path: Path, store_url: str) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = Prometheus(f"http://127.0.0.1:{s.getsockname()[1]}", 0.0)
    plan = kit(tmp_path, closed, [("canary", ["good-a"])])
    code, out, err = cli_for(tmp_path, store_url)("rollout", "start", str(plan), "--version", V)
    assert code == 1, out + err
    assert "rolled back: analyze good-a at 25%: analysis failed: " in err
    assert "cannot query Prometheus: ConnectError" in err
    assert calls(tmp_path / "kit")[-1] == f"rollback good-a 0 {V}"


def test_the_plan_sets_the_judge_thresholds(
    tmp_path: Path, store_url: str, prometheus: Prometheus
) -> None:
    lenient = "analysis = { pass = 40, marginal = 30 }\n"  # bad-a scores 50
    plan = kit(tmp_path, prometheus, [("canary", ["bad-a"])], extra=lenient)
    code, out, err = cli_for(tmp_path, store_url)("rollout", "start", str(plan), "--version", V)
    assert code == 0, out + err
    assert out.count("judge: pass: score 50: latency high") == 2
    code, out, _ = cli_for(tmp_path, store_url)("rollout", "start", str(plan), "--version", V,
                                                 "--dry-run")  # fmt: skip
    assert "  analyze bad-a at 25%: judge canary.toml (pass 40, marginal 30) on http://" in out
