"""The sample history's cargo builds: what `cargo ... --message-format=json` prints in
the ci-build job of a Rust workspace whose target directory comes from a cache.

Each ci-build job runs `cargo build --workspace --release` and `cargo test --workspace
--no-run` (two outputs, with cargo 1.75's `-Z unstable-options --timings=json` lines
giving the built units' seconds). The cache does not keep workspace members, so they
are rebuilt in most runs; dependencies come fresh from the cache except `ring`, whose
build script reruns every time (it reads an environment variable CI changes), and
`tokio`, built with `test-util` only for the tests (feature unification differs between
the two invocations), so each invocation rebuilds it. About one run in twelve misses the
cache and rebuilds everything. Deterministic from the seed and the run.
"""

from __future__ import annotations

import json
import random
from typing import Any

from pilothouse.model import RunInfo
from pilothouse.sample import CRATES
from pilothouse.sources.cargo import CargoFile

WORKSPACE = "/home/runner/work/hypha/hypha"
_INDEX = "registry+https://github.com/rust-lang/crates.io-index"
# name, version, features, has a build script, seconds to compile (release)
DEPENDENCIES = (
    ("libc", "0.2.164", ("default", "std"), True, 2.1),
    ("serde", "1.0.215", ("default", "derive", "std"), True, 4.8),
    ("serde_json", "1.0.133", ("default", "std"), True, 3.9),
    ("bytes", "1.8.0", ("default", "std"), False, 1.2),
    ("tokio", "1.41.1", ("macros", "net", "rt-multi-thread", "sync", "time"), False, 14.5),
    ("tracing", "0.1.40", ("default", "std"), False, 1.6),
    ("ring", "0.17.8", ("alloc", "default", "dev_urandom_fallback"), True, 9.4),
    ("rustls", "0.23.19", ("logging", "ring", "std", "tls12"), True, 11.2),
    ("hyper", "1.5.1", ("client", "http1", "http2", "server"), False, 8.7),
    ("prost", "0.13.3", ("default", "std"), False, 2.9),
    ("regex", "1.11.1", ("default", "perf", "std", "unicode"), False, 7.3),
    ("clap", "4.5.21", ("derive", "env", "std"), False, 6.1),
    ("anyhow", "1.0.93", ("default", "std"), True, 1.1),
    ("thiserror", "2.0.3", ("default", "std"), True, 0.9),
    ("sqlx-core", "0.8.2", ("json", "migrate", "postgres"), False, 16.8),
)
_TEST_ONLY_FEATURES = {"tokio": ("test-util",)}
_ALWAYS_BUILD_SCRIPT = frozenset({"ring"})
_PROFILES = {
    "release": {"opt_level": "3", "debuginfo": 0, "debug_assertions": False,
                "overflow_checks": False, "test": False},
    "test": {"opt_level": "0", "debuginfo": 2, "debug_assertions": True,
             "overflow_checks": True, "test": True},
}  # fmt: skip
VERSION = "0.9.3"


def cargo_outputs(run: RunInfo, *, seed: int) -> tuple[CargoFile, ...]:
    """The cargo JSON outputs of one ci-build job, as `ingest cargo` reads them."""
    rng = random.Random(f"cargo/{seed}/{run.run_key}/{run.attempt}/{run.job}")
    cold = rng.random() < 1 / 12
    members = {crate: cold or crate == "hypha-core" or rng.random() < _member_odds(crate)
               for crate in CRATES}  # fmt: skip
    label = f"sample/{run.workflow}/{run.run_key}/{run.attempt}/{run.job}"
    return tuple(
        CargoFile.from_bytes(f"{label}/cargo-{kind}.jsonl", _output(kind, members, cold, rng))
        for kind in ("build", "test")
    )


def _member_odds(crate: str) -> float:
    """How often a member is rebuilt: the crates at the bottom of the graph most."""
    return 0.55 + 0.4 * (len(crate) % 5) / 4


def _output(kind: str, members: dict[str, bool], cold: bool, rng: random.Random) -> bytes:
    profile = "release" if kind == "build" else "test"
    lines: list[str] = []
    for name, version, features, script, seconds in DEPENDENCIES:
        extra = _TEST_ONLY_FEATURES.get(name, ()) if kind == "test" else ()
        rebuilt = cold or name in _ALWAYS_BUILD_SCRIPT or name in _TEST_ONLY_FEATURES
        package = f"{_INDEX}#{name}@{version}"
        if script:
            lines += _build_script(
                package, name, rebuilt and (cold or name in _ALWAYS_BUILD_SCRIPT), rng
            )
        lib = _target(name.replace("-", "_"), ["lib"], f"/home/runner/.cargo/registry/src/"
                      f"index.crates.io-6f17d22bba15001f/{name}-{version}/src/lib.rs")  # fmt: skip
        lines.append(_artifact(package, lib, "release", sorted(features + extra), not rebuilt))
        if rebuilt:
            lines.append(_timing(package, lib, "build", seconds * rng.uniform(0.85, 1.2)))
    for crate, rebuilt in members.items():
        package = f"path+file://{WORKSPACE}/crates/{crate}#{VERSION}"
        lib = _target(crate.replace("-", "_"), ["lib"], f"{WORKSPACE}/crates/{crate}/src/lib.rs")
        lines.append(_artifact(package, lib, profile, ["default"], not rebuilt))
        if rebuilt:
            lines.append(_timing(package, lib, "test" if kind == "test" else "build",
                                 rng.uniform(4.0, 38.0)))  # fmt: skip
        if kind == "test":
            lines.append(f"  Executable unittests src/lib.rs (target/debug/deps/"
                         f"{crate.replace('-', '_')}-{rng.getrandbits(64):016x})")  # fmt: skip
    lines.append(json.dumps({"reason": "build-finished", "success": True}))
    return ("\n".join(lines) + "\n").encode()


def _target(name: str, kind: list[str], src: str) -> dict[str, Any]:
    return {"kind": kind, "crate_types": ["lib" if kind == ["lib"] else "bin"], "name": name,
            "src_path": src, "edition": "2021", "doc": kind == ["lib"], "doctest": kind == ["lib"],
            "test": kind == ["lib"]}  # fmt: skip


def _artifact(package: str, target: dict[str, Any], profile: str, features: list[str],
              fresh: bool) -> str:  # fmt: skip
    name = target["name"]
    return json.dumps({
        "reason": "compiler-artifact", "package_id": package,
        "manifest_path": f"{WORKSPACE}/Cargo.toml", "target": target,
        "profile": _PROFILES[profile], "features": features,
        "filenames": [f"{WORKSPACE}/target/{'release' if profile == 'release' else 'debug'}"
                      f"/deps/lib{name}.rlib"],
        "executable": None, "fresh": fresh,
    })  # fmt: skip


def _build_script(package: str, name: str, ran: bool, rng: random.Random) -> list[str]:
    script = _target("build-script-build", ["custom-build"], f"/home/runner/.cargo/{name}/build.rs")
    lines = [
        _artifact(package, script, "test", [], True),
        json.dumps({"reason": "build-script-executed", "package_id": package, "linked_libs": [],
                    "linked_paths": [], "cfgs": [], "env": [],
                    "out_dir": f"{WORKSPACE}/target/release/build/{name}-0/out"}),
    ]  # fmt: skip
    if ran:
        lines.append(_timing(package, script, "run-custom-build", rng.uniform(0.4, 3.5)))
    return lines


def _timing(package: str, target: dict[str, Any], mode: str, seconds: float) -> str:
    return json.dumps({"reason": "timing-info", "package_id": package, "target": target,
                       "mode": mode, "duration": round(seconds, 3)})  # fmt: skip
