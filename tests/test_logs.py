"""The job-log reader (sources/logs.py): one test per pattern on real text.

The lines are the actions' own messages (see the table in sources/logs.py for the source
file and commit of each) in the shape GitHub's runner writes them: a timestamp with seven
fractional digits, `##[group]Run ...` step headers with their `with:` inputs, `Post job
cleanup.` before post steps, a BOM at the start of a downloaded log. The toolkit lines
(`Cache hit for: ...`, `Received ...`, `Cache Size: ...`, `Cache restored successfully`)
and the step header shapes are quoted from public job logs (npm, pip and playwright caches
of 2025-2026).
"""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilothouse.model import CacheEvent
from pilothouse.sources.logs import (
    PATTERNS,
    LogStats,
    key_family,
    read_log,
    read_log_file,
)

T = "2026-04-29T11:39:15.4285632Z "
NPM_KEY = (
    "node-cache-Linux-x64-npm-9a18259fac7913a495886720380a5439d83a5add66f3f6dd036d2fed991eeaa3"
)
PIP_KEY = (
    "setup-python-Linux-x64-24.04-Ubuntu-python-3.11.15-pip-"
    "cc177e0a319e2b366e42ffbff4d20b32e7f9f00ab75eb7e3434e6f9155173566"
)
CARGO_KEY = "Linux-cargo-8888de6857a14a989a56e4b3441b0513e682c65a526f008e0c0e2fbe8fe3d037"
OLD_CARGO_KEY = "Linux-cargo-1111de6857a14a989a56e4b3441b0513e682c65a526f008e0c0e2fbe8fe3d037"
RUST_KEY = "v0-rust-build-Linux-x64-2a5b7c1e-4f1d2e3a"


def _log(*lines: str) -> bytes:
    return "".join(f"{T}{line}\n" for line in lines).encode()


def _cache_step(key: str = CARGO_KEY) -> tuple[str, ...]:
    return (
        "##[group]Run actions/cache@v4",
        "with:",
        "  path: target",
        f"  key: {key}",
        "  restore-keys: Linux-cargo-",
        "  enableCrossOsArchive: false",
        "env:",
        "  CARGO_TERM_COLOR: always",
        "##[endgroup]",
    )


def _setup_node() -> tuple[str, ...]:
    return ("##[group]Run actions/setup-node@v4", "with:", "  node-version: 20", "  cache: npm",
            "##[endgroup]")  # fmt: skip


def _rust_cache() -> tuple[str, ...]:
    return ("##[group]Run Swatinem/rust-cache@v2", "with:", "  prefix-key: v0-rust",
            "##[endgroup]", "##[group]Cache Configuration", "Restore Key:",
            "    v0-rust-build-Linux-x64-2a5b7c1e", "Cache Key:", f"    {RUST_KEY}",
            "##[endgroup]", "... Restoring cache ...")  # fmt: skip


def _summary(events: list[CacheEvent]) -> list[tuple[object, ...]]:
    return [(e.tool, e.kind, e.key_prefix, e.hits, e.misses) for e in events]


def _read(data: bytes) -> list[CacheEvent]:
    return list(read_log(io.BytesIO(data)))


SCCACHE_TEXT = (
    "Compile requests                   412",
    "Compile requests executed          398",
    "Cache hits                         371",
    "Cache hits (C/C++)                   2",
    "Cache hits (Rust)                  369",
    "Cache misses                        27",
    "Cache misses (Rust)                 27",
    "Cache hits rate                  93.22 %",
    "Cache hits rate (Rust)           93.18 %",
    'Cache location                  Local disk: "/home/runner/.cache/sccache"',
)
SCCACHE_JSON = json.dumps(
    {"stats": {"compile_requests": 5, "cache_hits": {"counts": {"Rust": 2},
     "adv_counts": {"rust": 2}}, "cache_misses": {"counts": {"Rust": 1, "C/C++": 1},
     "adv_counts": {}}}, "cache_location": "Local disk", "version": "0.10.0"},
    separators=(",", ":"),
)  # fmt: skip
CCACHE = (
    "Cacheable calls:   1234 / 1300 (94.92%)",
    "  Hits:            1000 / 1234 (81.04%)",
    "    Direct:         900 / 1000 (90.00%)",
    "    Preprocessed:   100 / 1000 (10.00%)",
    "  Misses:           234 / 1234 (18.96%)",
    "Uncacheable calls:   66 / 1300 ( 5.08%)",
    "Local storage:",
    "  Cache size (GB):  1.2 /  5.0 (24.00%)",
    "  Hits:            1000 / 1234 (81.04%)",
    "  Misses:           234 / 1234 (18.96%)",
)
CCACHE_4_0 = (
    "Summary:",
    "  Hits:               0 /  675 (0.00 %)",
    "    Direct:           0 /  675 (0.00 %)",
    "  Misses:           675",
    "Primary storage:",
    "  Hits:               0 / 1348 (0.00 %)",
    "  Misses:          1348",
)
CCACHE_3 = (
    "cache hit (direct)                112337",
    "cache hit (preprocessed)             899",
    "cache miss                         10042",
    "cache hit rate                     91.85 %",
)

# pattern name -> (log lines, expected (tool, kind, family, hits, misses) events)
EXAMPLES: dict[str, tuple[tuple[str, ...], list[tuple[object, ...]]]] = {
    "step-start": (
        (*_cache_step(), f"Cache restored from key: {CARGO_KEY}"),
        [("actions/cache", "hit", "Linux-cargo-", 0, 0)],
    ),
    "post-step": (
        ("##[group]Run cargo build", "Post job cleanup.", f"Cache saved with key: {CARGO_KEY}"),
        [("actions/cache", "saved", "Linux-cargo-", 0, 0)],
    ),
    "with-block": (
        (*_cache_step(), f"Cache restored from key: {OLD_CARGO_KEY}"),
        [("actions/cache", "partial", "Linux-cargo-", 0, 0)],  # old toolkit: key compared
    ),
    "header-end": (
        (
            "##[group]Run actions/cache@v3",
            "with:",
            f"  key: {CARGO_KEY}",
            "##[endgroup]",
            "  key: not-an-input",
            f"Cache restored from key: {CARGO_KEY}",
        ),
        [("actions/cache", "hit", "Linux-cargo-", 0, 0)],
    ),  # fmt: skip
    "with-key": (
        (*_cache_step(OLD_CARGO_KEY), f"Cache restored from key: {OLD_CARGO_KEY}"),
        [("actions/cache", "hit", "Linux-cargo-", 0, 0)],
    ),
    "with-cache": (
        (*_setup_node(), "npm cache is not found"),
        [("setup-node", "miss", "setup-node npm", 0, 0)],
    ),
    "toolkit-hit": (
        (
            "##[group]Run actions/cache@v4",
            "with:",
            "  key: ${{ runner.os }}-x",
            "##[endgroup]",
            f"Cache hit for: {CARGO_KEY}",
            f"Cache restored from key: {CARGO_KEY}",
        ),
        [("actions/cache", "hit", "Linux-cargo-", 0, 0)],
    ),  # fmt: skip
    "toolkit-hit-restore-key": (
        (
            *_cache_step(),
            f"Cache hit for restore-key: {OLD_CARGO_KEY}",
            "Received 734003200 of 734003200 (100.0%), 88.1 MBs/sec",
            "Cache Size: ~700 MB (734003200 B)",
            "Cache restored successfully",
            f"Cache restored from key: {OLD_CARGO_KEY}",
        ),
        [("actions/cache", "partial", "Linux-cargo-", 0, 0)],
    ),  # fmt: skip
    "cache-size": (
        (
            *_setup_node(),
            f"Cache hit for: {NPM_KEY}",
            "Cache Size: ~81 MB (84798540 B)",
            f"Cache restored from key: {NPM_KEY}",
        ),
        [("setup-node", "hit", "setup-node npm", 0, 0)],
    ),  # fmt: skip
    "restored": (
        (
            "##[group]Run actions/setup-java@v4",
            "with:",
            "  cache: maven",
            "##[endgroup]",
            "JDK cache restored from key: setup-java-Linux-x64-jdk-temurin-21.0.4",
            "Cache restored from key: setup-java-Linux-x64-maven-7d2f9a0b1c3e4f5a",
        ),
        [("setup-java", "hit", "setup-java maven", 0, 0)] * 2,
    ),  # fmt: skip
    "lookup-found": (
        (
            *_cache_step(),
            f"Cache hit for: {CARGO_KEY}",
            "Lookup only - skipping download",
            f"Cache found and can be restored from key: {CARGO_KEY}",
        ),
        [("actions/cache", "hit", "Linux-cargo-", 0, 0)],
    ),  # fmt: skip
    "not-found": (
        (*_cache_step(), f"Cache not found for input keys: {CARGO_KEY}, Linux-cargo-"),
        [("actions/cache", "miss", "Linux-cargo-", 0, 0)],
    ),
    "setup-not-found": (
        (
            "##[group]Run actions/setup-python@v5",
            "with:",
            "  python-version: 3.12",
            "  cache: pip",
            "##[endgroup]",
            "pip cache is not found",
        ),
        [("setup-python", "miss", "setup-python pip", 0, 0)],
    ),  # fmt: skip
    "go-not-found": (
        (
            "##[group]Run actions/setup-go@v5",
            "with:",
            "  go-version: 1.23",
            "  cache: true",
            "##[endgroup]",
            "Cache is not found",
        ),
        [("setup-go", "miss", "setup-go go", 0, 0)],
    ),  # fmt: skip
    "rust-cache-key": (
        (*_rust_cache(), "No cache found."),
        [("rust-cache", "miss", "v0-rust-build-Linux-x64-", 0, 0)],
    ),
    "rust-cache-restored": (
        (
            *_rust_cache(),
            f"Cache hit for restore-key: {RUST_KEY[:-8]}0badc0de",
            f'Restored from cache key "{RUST_KEY[:-8]}0badc0de" full match: false.',
        ),
        [("rust-cache", "partial", "v0-rust-build-Linux-x64-", 0, 0)],
    ),  # fmt: skip
    "rust-cache-miss": (
        ("##[group]Run Swatinem/rust-cache@v2", "##[endgroup]", "No cache found."),
        [("rust-cache", "miss", "rust-cache", 0, 0)],
    ),
    "saved": (
        (
            "##[group]Run actions/setup-python@v5",
            "with:",
            "  cache: pip",
            "##[endgroup]",
            f"Cache restored from key: {PIP_KEY[:-64]}{'0' * 64}",
            "Post job cleanup.",
            f"Cache saved with the key: {PIP_KEY}",
        ),
        [
            ("setup-python", "partial", "setup-python pip", 0, 0),
            ("setup-python", "saved", "setup-python pip", 0, 0),
        ],
    ),  # fmt: skip
    "hit-not-saving": (
        (
            "##[group]Run actions/setup-python@v5",
            "with:",
            "  cache: pip",
            "##[endgroup]",
            f"Cache restored from key: {PIP_KEY}",
            "Post job cleanup.",
            f"Cache hit occurred on the primary key {PIP_KEY}, not saving cache.",
        ),
        [("setup-python", "hit", "setup-python pip", 0, 0)],
    ),  # fmt: skip
    "reserve-failed": (
        (
            "Post job cleanup.",
            "Failed to save: Unable to reserve cache with key "
            f"{CARGO_KEY}, another job may be creating this cache.",
            "##[warning]Cache save failed.",
        ),
        [("actions/cache", "save_failed", "Linux-cargo-", 0, 0)],
    ),  # fmt: skip
    "save-failed": (
        (
            "##[group]Run actions/cache/save@v4",
            "with:",
            f"  key: {CARGO_KEY}",
            "##[endgroup]",
            "##[warning]Failed to save: Cache service responded with 503",
        ),
        [("actions/cache", "save_failed", "Linux-cargo-", 0, 0)],
    ),  # fmt: skip
    "cache-save-failed": (
        (
            "##[group]Run actions/cache/save@v4",
            "with:",
            f"  key: {CARGO_KEY}",
            "##[endgroup]",
            "##[warning]Cache save failed.",
        ),
        [("actions/cache", "save_failed", "Linux-cargo-", 0, 0)],
    ),  # fmt: skip
    "sccache-json": (
        (
            "##[group]Run sccache --show-stats --stats-format=json",
            "##[endgroup]",
            SCCACHE_JSON + "Post job cleanup.",
        ),
        [
            ("sccache", "compiler", "sccache c/c++", 0, 1),
            ("sccache", "compiler", "sccache rust", 2, 1),
        ],
    ),  # fmt: skip
    "sccache-start": (
        SCCACHE_TEXT,
        [
            ("sccache", "compiler", "sccache c/c++", 2, 0),
            ("sccache", "compiler", "sccache rust", 369, 27),
        ],
    ),  # fmt: skip
    "sccache-language": (
        SCCACHE_TEXT[:5],  # the block ends with the log
        [
            ("sccache", "compiler", "sccache c/c++", 2, 0),
            ("sccache", "compiler", "sccache rust", 369, 0),
        ],
    ),  # fmt: skip
    "sccache-end": (
        (*SCCACHE_TEXT, "Cache hits (Rust)   5"),  # after the block: not sccache's
        [
            ("sccache", "compiler", "sccache c/c++", 2, 0),
            ("sccache", "compiler", "sccache rust", 369, 27),
        ],
    ),  # fmt: skip
    "ccache-start": (CCACHE, [("ccache", "compiler", "ccache", 1000, 234)]),
    "ccache-hits": (CCACHE[1:], []),  # not after "Cacheable calls:": not ccache's table
    "ccache-misses": (CCACHE[:2] + CCACHE[4:5], [("ccache", "compiler", "ccache", 1000, 234)]),
    # ccache 4.0-4.5 and 3.x, as posted in ccache/ccache#1016 and apache/gluten#7957
    # (tests/data/logs/SOURCES.md)
    "ccache-summary": (CCACHE_4_0, [("ccache", "compiler", "ccache", 0, 675)]),
    "ccache3-hit": (CCACHE_3[:2], []),  # no "cache miss" row: the table is not complete
    "ccache3-miss": (CCACHE_3, [("ccache", "compiler", "ccache", 113236, 10042)]),
    "cargo-fresh": (
        (
            "       Fresh serde v1.0.219",
            "       Fresh libc v0.2.172",
            "   Compiling hypha-core v0.1.0 (/home/runner/work/hypha/hypha/crates/hypha-core)",
        ),
        [("cargo", "compiler", "cargo units", 2, 1)],
    ),  # fmt: skip
    "cargo-compiling": (
        ("   Compiling hypha-core v0.1.0 (/home/runner/work/hypha/hypha/crates/hypha-core)",),
        [],  # without `cargo -v` fresh units are silent: no counts
    ),
}


def test_every_pattern_has_an_example() -> None:
    assert {p.name for p in PATTERNS} == set(EXAMPLES)
    assert len({p.name for p in PATTERNS}) == len(PATTERNS)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_pattern_on_real_text(name: str) -> None:
    lines, expected = EXAMPLES[name]
    assert _summary(_read(_log(*lines))) == expected


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_pattern_without_timestamps(name: str) -> None:
    """Logs of other CI systems, or saved without the runner's prefix, read alike."""
    lines, expected = EXAMPLES[name]
    plain = "".join(f"{line}\n" for line in lines).encode()
    assert _summary(_read(plain)) == expected


def test_every_needle_passes_the_quick_test() -> None:
    from pilothouse.sources.logs import QUICK

    for pattern in PATTERNS:
        assert pattern.needle == "" or any(q in pattern.needle for q in QUICK), pattern.name


def test_each_example_line_matches_its_pattern() -> None:
    from pilothouse.sources.logs import _split

    for pattern in PATTERNS:
        lines, _expected = EXAMPLES[pattern.name]
        messages = [_split(f"{T}{line}")[1] for line in lines]
        assert any(pattern.needle in m and pattern.regex.search(m) for m in messages), pattern.name


def test_restore_durations_keys_and_sizes_come_from_the_log() -> None:
    data = (
        b"\xef\xbb\xbf2026-05-07T19:34:12.0126495Z ##[group]Run actions/cache@v4\n"
        b"2026-05-07T19:34:12.0126495Z with:\n"
        + f"2026-05-07T19:34:12.0126495Z   key: {CARGO_KEY}\n".encode()
        + b"2026-05-07T19:34:12.0126495Z ##[endgroup]\n"
        + f"2026-05-07T19:34:12.4215861Z Cache hit for: {CARGO_KEY}\n".encode()
        + b"2026-05-07T19:34:14.9641575Z Cache Size: ~119 MB (124469451 B)\n"
        + b"2026-05-07T19:34:15.1536288Z Cache restored successfully\n"
        + f"2026-05-07T19:34:15.1673661Z Cache restored from key: {CARGO_KEY}\n".encode()
        + b"2026-05-07T19:40:00.0000000Z Post job cleanup.\n"
        + f"2026-05-07T19:40:21.5000000Z Cache saved with key: {CARGO_KEY}\n".encode()
    )
    stats = LogStats()
    restore, save = list(read_log(io.BytesIO(data), stats))
    assert (restore.kind, restore.key, restore.size_bytes, restore.line) == (
        "hit",
        CARGO_KEY,
        124469451,
        8,
    )
    assert restore.seconds == pytest.approx(3.155, abs=0.001)
    assert restore.step == "actions/cache@v4"
    assert (save.kind, save.seconds) == ("saved", 21.5)
    assert stats.lines == 10 and stats.bytes == len(data)
    assert (stats.last_at - stats.first_at).total_seconds() == pytest.approx(369.487, abs=0.001)


def test_colours_and_unknown_lines_are_ignored() -> None:
    lines = ("\x1b[36;1mcargo build\x1b[0m", "warning: unused variable `x`",
             "Cache restored from key:", "cache restored from key: lower-case is no message",
             "\x1b[32mCache not found for input keys: a-1234567, a-\x1b[0m")  # fmt: skip
    assert _summary(_read(_log(*lines))) == [("actions/cache", "miss", "a-", 0, 0)]


def test_key_families() -> None:
    assert key_family(CARGO_KEY) == "Linux-cargo-"
    assert key_family(NPM_KEY) == "node-cache-Linux-x64-npm-"
    assert key_family("pilothouse-main-6100000001-1") == "pilothouse-main-"
    assert key_family("mypy|abc") == "mypy|abc"


def test_a_huge_log_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """100 MB of build output with cache lines among it, and one 5 MB line without a
    newline: memory stays at a few line buffers."""
    path = tmp_path / "huge.log"
    filler = (T + "   Compiling hypha-core v0.1.0 " + "x" * 900 + "\n").encode()
    with path.open("wb") as out:
        out.write(_log(*_cache_step(), f"Cache restored from key: {CARGO_KEY}"))
        block = filler * 1024
        for _ in range(100 * 2**20 // len(block)):
            out.write(block)
        out.write(b"y" * (5 * 2**20))
        out.write(b"\n" + _log(f"Cache not found for input keys: {CARGO_KEY}"))
    stats = LogStats()
    tracemalloc.start()
    try:
        events = list(read_log_file(path, stats))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e.kind for e in events] == ["hit", "miss"]
    assert stats.bytes == path.stat().st_size and stats.cut_lines == 1
    assert peak < 2 * 2**20, f"peak {peak / 2**20:.1f} MiB for a {stats.bytes / 2**20:.0f} MiB log"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    b"##[group]Run actions/cache@v4", b"with:", b"  key: k-1234567", b"##[endgroup]",
    b"Cache restored from key: k-7654321", b"Post job cleanup.", b"Cache save failed.",
    b"Compile requests 1", b"Cache hits (Rust)  3", b'{"stats":{"cache_hits":[]}',
    b"Cacheable calls: 1 / 2", b"  Hits: 1 / 1", b"  Misses: 0 / 1", b"\xff\xfe\x00",
    b"Cache hit occurred on the primary key k-7654321, not saving cache.",
]) | st.binary(max_size=80), max_size=40))  # fmt: skip
def test_any_input_reads_without_error(chunks: list[bytes]) -> None:
    stats = LogStats()
    events = list(read_log(io.BytesIO(b"\n".join(chunks)), stats))
    assert all(e.kind in ("hit", "partial", "miss", "saved", "save_failed", "compiler")
               for e in events)  # fmt: skip
    assert all("\x00" not in (e.key or "") for e in events)
