"""The job-log reader on REAL captured text: excerpts people pasted into public GitHub
issues and pull requests (tests/data/logs/real/, attributed in tests/data/logs/SOURCES.md).

Each excerpt is the text as posted, only cut to the relevant lines; the events it must
yield are worked out by hand from the text. Several excerpts were copied from GitHub's web
view (no timestamps, ``Run ...`` without ``##[group]``, line-link fragments such as
``[19](https://...#step:3:20)`` inside long words): they are kept as posted, since that is
what real pasted logs look like, and the reader must not be thrown by them.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pilothouse.model import CacheEvent
from pilothouse.sources.logs import LogStats, read_log_file

from .conftest import DATA, Cli

REAL = DATA / "logs" / "real"

# file -> expected (tool, kind, key family, hits, misses) of each event, in order
EXPECTED: dict[str, list[tuple[object, ...]]] = {
    # actions/cache v1-v3 and the toolkit
    "actions-cache-v2-restore__actions-cache-471.log": [
        ("actions/cache", "hit", "mycache", 0, 0),
    ],
    "actions-cache-v1-hit-not-saving__actions-cache-142.log": [
        ("actions/cache", "hit", "gradle-macOS-checksum }}", 0, 0),  # a key with a space
    ],
    "actions-cache-key-with-spaces__prometheus-client_js-513.log": [
        ("actions/cache", "hit", "macOS-latest-{{ matrix.node-version }}-node_modules-", 0, 0),
    ],
    "actions-cache-miss__actions-cache-782.log": [
        ("actions/cache", "miss", "Linux-node-", 0, 0),
    ],
    "actions-cache-v3-miss__actions-cache-1112.log": [
        ("actions/cache", "miss", "api-cache-Linux-", 0, 0),
    ],
    "actions-cache-miss-then-save__actions-cache-225.log": [
        # "Cache saved successfully" (v1, before actions/cache#509) names no key: not counted
        ("actions/cache", "miss", "node_cache-feature_parallelize_ci-", 0, 0),
    ],
    "actions-cache-v2-reserve-failed__actions-cache-485.log": [
        ("actions/cache", "save_failed", "Linux-xmltv-cache", 0, 0),
    ],
    "toolkit-reserve-failed__actions-toolkit-658.log": [
        ("setup-node", "save_failed", "setup-node npm", 0, 0),
    ],
    "toolkit-reserve-failed__quantinuum-tket2-29.log": [
        ("rust-cache", "save_failed", "v0-rust-stable-tests-", 0, 0),
    ],
    # raw logs with the runner's timestamps and step headers, cut before any outcome
    "actions-cache-v1-header__yikun-hub-mirror-action-61.log": [],
    "actions-cache-v3-header__actions-cache-1216.log": [],
    # setup-* actions
    "setup-node-miss__setup-node-627.log": [("setup-node", "miss", "setup-node yarn", 0, 0)],
    "setup-python-miss__setup-python-278.log": [
        ("setup-python", "miss", "setup-python pip", 0, 0),
    ],
    "setup-java-hit__setup-java-623.log": [("setup-java", "hit", "setup-java maven", 0, 0)],
    "setup-java-v2-hit__setup-java-217.log": [("setup-java", "hit", "setup-java maven", 0, 0)],
    "setup-go-hit__setup-go-357.log": [("setup-go", "hit", "setup-go go", 0, 0)],
    # Swatinem/rust-cache
    "rust-cache-miss__oxidecomputer-omicron-3888.log": [
        ("rust-cache", "miss", "rust-cache", 0, 0),
    ],
    "rust-cache-configuration-windows__oxidecomputer-hubris-2535.log": [],  # no outcome yet
    # compiler caches
    "sccache-rust-cpp__gofractally-psibase-838.log": [
        ("sccache", "compiler", "sccache rust", 343, 1278),
        ("sccache", "compiler", "sccache c/c++", 0, 482),
    ],
    "sccache-cuda__nvidia-cudf-10146.log": [
        ("sccache", "compiler", "sccache c/c++", 284, 0),
        ("sccache", "compiler", "sccache cuda", 325, 1),
    ],
    "sccache-action-notice__kvcache-ai-mooncake-441.log": [
        ("sccache", "compiler", "sccache c/c++", 0, 54),
    ],
    "ccache-4.6-linux__scikit-image-8187.log": [("ccache", "compiler", "ccache", 56, 0)],
    "ccache-4.6-windows__scikit-image-8187.log": [("ccache", "compiler", "ccache", 56, 0)],
    "ccache-4.0-summary__ccache-1016.log": [("ccache", "compiler", "ccache", 0, 675)],
    "ccache-3-stats__apache-gluten-7957.log": [
        ("ccache", "compiler", "ccache", 112337 + 899, 10042),
    ],
    "cargo-verbose-fresh__rust-lang-cargo-215.log": [
        ("cargo", "compiler", "cargo units", 1, 1),
    ],
}


def _read(name: str) -> list[CacheEvent]:
    return list(read_log_file(REAL / name))


def _summary(events: list[CacheEvent]) -> list[tuple[object, ...]]:
    return [(e.tool, e.kind, e.key_prefix, e.hits, e.misses) for e in events]


def test_every_real_excerpt_is_tested_and_attributed() -> None:
    files = {p.name for p in REAL.glob("*.log")}
    assert files == set(EXPECTED)
    sources = (DATA / "logs" / "SOURCES.md").read_text()
    assert all(f"`real/{name}`" in sources for name in files)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_excerpt(name: str) -> None:
    assert _summary(_read(name)) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_excerpt_with_windows_line_endings(name: str, tmp_path: Path) -> None:
    """The same text saved with CRLF line ends (a log saved on Windows) reads alike."""
    crlf = tmp_path / name
    crlf.write_bytes((REAL / name).read_bytes().replace(b"\n", b"\r\n"))
    assert _summary(list(read_log_file(crlf))) == EXPECTED[name]


def test_real_keys_sizes_and_times() -> None:
    (restore,) = _read("actions-cache-v2-restore__actions-cache-471.log")
    assert (restore.key, restore.size_bytes) == ("mycache", 18558184)
    assert restore.detail == "exactness assumed (no post step said)"
    (java,) = _read("setup-java-hit__setup-java-623.log")
    assert java.size_bytes == 165088951
    assert java.key == (
        "setup-java-Linux-maven-6adf5af8388c457cef82a4da3a454e4fe729ec5f1c86b04a1b206e037f67123e"
    )
    (go,) = _read("setup-go-hit__setup-go-357.log")
    assert go.size_bytes == 269948098 and go.key is not None
    assert go.key.startswith("setup-go-Linux-go-1.20.2-52cf0[19](https://github.com/go-faster/")
    (kept,) = _read("actions-cache-v1-hit-not-saving__actions-cache-142.log")
    assert kept.key == "gradle-macOS-checksum }}" and kept.detail is None  # post step said
    (failed,) = _read("toolkit-reserve-failed__actions-toolkit-658.log")
    assert failed.key == (
        "node-cache-Linux-npm-a60ac0f76178055bc94f0972ca353feba863ea267f0825102798f2d1b6ec3b7e"
    )
    assert failed.at == datetime(2024, 2, 29, 19, 5, 59, 124078, tzinfo=UTC)
    assert failed.line == 2


def test_real_runner_timestamps_and_headers() -> None:
    """Raw logs (runner timestamps, `##[group]Run`, `with:`, `##[debug]`) give their span
    and no events of their own."""
    stats = LogStats()
    name = "actions-cache-v3-header__actions-cache-1216.log"
    assert list(read_log_file(REAL / name, stats)) == []
    assert (stats.lines, stats.cut_lines) == (9, 0)
    assert stats.first_at == datetime(2023, 8, 7, 3, 20, 54, 233578, tzinfo=UTC)
    assert stats.last_at == datetime(2023, 8, 7, 3, 20, 54, 528580, tzinfo=UTC)
    stats = LogStats()
    name = "actions-cache-v1-header__yikun-hub-mirror-action-61.log"
    assert list(read_log_file(REAL / name, stats)) == []
    assert stats.first_at == datetime(2020, 10, 15, 11, 29, 25, 578083, tzinfo=UTC)


def test_ingest_real_logs_end_to_end(cli: Cli) -> None:
    """`pilothouse ingest logs` over real excerpts, then `pilothouse cache` counts them."""
    folder = cli.cwd / "real"
    for name in ("actions-cache-miss__actions-cache-782.log",
                 "actions-cache-v2-restore__actions-cache-471.log",
                 "setup-java-hit__setup-java-623.log",
                 "toolkit-reserve-failed__actions-toolkit-658.log",
                 "sccache-rust-cpp__gofractally-psibase-838.log",
                 "ccache-4.6-linux__scikit-image-8187.log"):  # fmt: skip
        folder.mkdir(exist_ok=True)
        shutil.copy(REAL / name, folder / name)
    counts = cli.json("ingest", "logs", "real", "--run-id", "4509244129", "--workflow", "ci",
                      "--branch", "main", "--json")  # fmt: skip
    assert counts == {"files": 6, "new": 6, "duplicates": 0, "events": 7}
    report = cli.json("cache")
    rows = {(r["job"], r["key_prefix"]): r for r in report["caches"]}
    miss = rows[("actions-cache-miss__actions-cache-782", "Linux-node-")]
    assert (miss["restores"], miss["misses"], miss["hit_rate"]) == (1, 1, 0.0)
    java = rows[("setup-java-hit__setup-java-623", "setup-java maven")]
    assert (java["restores"], java["exact_hits"], java["hit_rate"]) == (1, 1, 1.0)
    hit = rows[("actions-cache-v2-restore__actions-cache-471", "mycache")]
    assert (hit["restores"], hit["exact_hits"]) == (1, 1)
