"""CI job logs (GitHub Actions and plain text): the cache lines, as model.CacheEvent records.

The log is read line by line (a line is cut at MAX_LINE_BYTES), so a 100 MB log
costs the same memory as a small one. Each line may start with the runner's
timestamp (``2024-01-01T12:00:00.1234567Z ``); ANSI colours and the
``##[warning]`` / ``##[error]`` / ``[warning]`` prefixes are dropped before matching.
Unknown lines are ignored.

Every message recognised is in PATTERNS, one table. The messages are the actions'
own, read from their sources (file @ commit):

- actions/cache v3/v4 (src/restoreImpl.ts, src/saveImpl.ts @ 27d5ce7f107f):
  ``Cache restored from key: K``, ``Cache found and can be restored from key: K``,
  ``Cache not found for input keys: K, ...``, ``Cache saved with key: K``,
  ``Cache hit occurred on the primary key K, not saving cache.``, ``Cache save failed.``
- @actions/cache, the toolkit every action uses (actions/toolkit
  packages/cache/src/cache.ts @ 4b9afa4c890d): ``Cache hit for: K``,
  ``Cache hit for restore-key: K``, ``Cache Size: ~N MB (B B)``, ``Failed to save: Unable
  to reserve cache with key K, another job may be creating this cache.``,
  ``Failed to save: ...``
- Swatinem/rust-cache (src/restore.ts, src/config.ts @ 6323deb102c3): ``Cache Key:`` and
  the key on the next line, ``Restored from cache key "K" full match: true.``,
  ``Found cache key ...`` (lookup-only), ``No cache found.``
- actions/setup-python (src/cache-distributions/cache-distributor.ts, src/cache-save.ts
  @ 5fda3b95a4ea), setup-node (src/cache-restore.ts, src/cache-save.ts @ ae0d4ed08881),
  setup-go (same files @ fba3fb4ead8c), setup-java (src/cache.ts, src/jdk-cache.ts
  @ 1dbac3c9e137): ``Cache restored from key: K``, ``pip cache is not found``,
  ``Cache is not found`` (go), ``JDK cache restored from key: K``,
  ``Cache saved with the key: K``
- sccache (mozilla/sccache src/server.rs @ bf757277c5b4): ``--show-stats`` rows
  ``Compile requests N``, ``Cache hits (Rust) N``, ``Cache misses (Rust) N``,
  ``Cache location ...``; ``--stats-format=json``: one line
  ``{"stats":{... "cache_hits":{"counts":{"Rust":N}, ...``
- ccache -s (ccache/ccache src/ccache/core/statistics.cpp @ e5731387e9b2):
  ``Cacheable calls: N / M``, then ``  Hits: N / M`` and ``  Misses: N / M``
- older wordings seen in real logs pasted into public issues (tests/data/logs/real/,
  attributed in tests/data/logs/SOURCES.md): actions/cache v2 printed the reserve error
  alone, ``Unable to reserve cache with key K, another job may be creating this cache.``
  (actions/cache#485, 2020); ccache 4.0-4.5 ``-s`` opens with ``Summary:`` and its
  ``  Misses: N`` has no ``/ M`` (ccache#1016); ccache 3.x prints ``cache hit (direct) N``,
  ``cache hit (preprocessed) N``, ``cache miss N`` (apache/gluten#7957); ccache pads the
  ``N / M`` columns (``56 /  56``, scikit-image#8187). Keys may hold spaces
  (``gradle-macOS-checksum }}``, actions/cache#142), so a key runs to the line's end.
- cargo (rust-lang/cargo src/cargo/core/compiler/job_queue/mod.rs @ af373f761aa4):
  ``Fresh NAME vX`` lines (``cargo -v``) against ``Compiling NAME vX``

Whether a restore hit the primary key: the toolkit says so (``Cache hit for`` /
``Cache hit for restore-key``) since 2025; otherwise the matched key is compared with
the step's ``key:`` input, which the runner prints in the step header (``with:``);
setup-node, setup-go and setup-java restore without restore keys, so their hits are
exact; setup-python's is decided by its post step (``not saving`` = exact, a new save
= it was a restore-key hit), else taken as exact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

from pilothouse.model import CacheEvent, CacheKind

MAX_LINE_BYTES = 1 << 18  # longer lines are cut: no cache message is that long
_PENDING_LIMIT = 64  # restores awaiting their post step, at most

_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) ?")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PREFIX = re.compile(r"^(?:##\[(?:warning|error|notice|debug)\]|\[warning\])")
_VARIABLE_SEGMENT = re.compile(r"(?=[0-9a-f]*[0-9])[0-9a-f]{7,}|[0-9]+")
_PACKAGE_MANAGERS = (
    "npm", "yarn", "pnpm", "pip", "pipenv", "poetry", "maven", "gradle", "sbt", "go",
)  # fmt: skip
_KEY_TOOLS = (
    ("v0-rust-", "rust-cache"),  # Swatinem/rust-cache's default prefix-key
    ("node-cache-", "setup-node"),
    ("setup-python-", "setup-python"),
    ("setup-go-", "setup-go"),
    ("setup-java-", "setup-java"),
)
_EXACT_ONLY = frozenset({"setup-node", "setup-go", "setup-java"})  # no restore keys


class LogPattern(NamedTuple):
    """One kind of log line: its name (tests use it), its regex, what it does, and a
    literal every matching line holds (a cheap test before the regex)."""

    name: str
    regex: re.Pattern[str]
    action: str  # the _Reader method that handles a match
    needle: str


def _p(name: str, regex: str, action: str, needle: str) -> LogPattern:
    return LogPattern(name, re.compile(regex), action, needle)


PATTERNS: tuple[LogPattern, ...] = (
    # step structure (the runner's own lines)
    _p("step-start", r"^##\[group\]Run (?P<label>.+)$", "step_start", "##[group]Run "),
    _p("post-step", r"^Post job cleanup\.$", "post_step", "Post job cleanup"),
    _p("with-block", r"^with:$", "with_block", "with:"),
    _p("header-end", r"^(?:##\[endgroup\]|env:)$", "header_end", ""),
    _p("with-key", r"^  key: (?P<key>\S+)$", "with_key", "  key: "),
    _p("with-cache", r"^  cache: (?P<pm>\S+)$", "with_cache", "  cache: "),
    # restores
    _p("toolkit-hit", r"^Cache hit for: (?P<key>.+?)\s*$", "toolkit_hit", "Cache hit for: "),
    _p(
        "toolkit-hit-restore-key",
        r"^Cache hit for restore-key: (?P<key>.+?)\s*$",
        "toolkit_hit",
        "Cache hit for restore-key: ",
    ),
    _p("cache-size", r"^Cache Size: ~\d+ MB \((?P<bytes>\d+) B\)$", "cache_size", "Cache Size: "),
    _p(
        "restored",
        r"^(?:(?P<what>\S+) c|C)ache restored from key: (?P<key>.+?)\s*$",
        "restored",
        "ache restored from key: ",
    ),
    _p(
        "lookup-found",
        r"^Cache found and can be restored from key: (?P<key>.+?)\s*$",
        "restored",
        "Cache found and can be restored",
    ),
    _p(
        "not-found",
        r"^Cache not found for input keys: (?P<keys>.+)$",
        "not_found",
        "Cache not found for input keys: ",
    ),
    _p(
        "setup-not-found",
        r"^(?P<pm>\S+) cache is not found(?: for .*)?$",
        "setup_not_found",
        " cache is not found",
    ),
    _p("go-not-found", r"^Cache is not found$", "setup_not_found", "Cache is not found"),
    _p("rust-cache-key", r"^Cache Key:$", "rust_key_next", "Cache Key:"),
    _p(
        "rust-cache-restored",
        r'^(?:Restored from|Found) cache key "(?P<key>[^"]+)" full match: (?P<full>true|false)\.$',
        "rust_restored",
        " full match: ",
    ),
    _p("rust-cache-miss", r"^No cache found\.$", "rust_miss", "No cache found."),
    # saves
    _p(
        "saved",
        r"^(?:(?P<what>\S+) c|C)ache saved with (?P<the>the )?key: (?P<key>.+?)\s*$",
        "saved",
        "ache saved with ",
    ),
    _p(
        "hit-not-saving",
        r"^Cache hit occurred on the primary key (?P<key>.+), not saving cache\.$",
        "hit_not_saving",
        "Cache hit occurred on the primary key ",
    ),
    _p(
        "reserve-failed",
        r"^(?:Failed to save: )?Unable to reserve cache with key (?P<key>.+?), "
        r"another job may be creating this cache\.",
        "save_failed",
        "Unable to reserve cache with key ",
    ),
    _p("save-failed", r"^Failed to save: (?P<detail>.+)$", "save_failed", "Failed to save: "),
    _p("cache-save-failed", r"^Cache save failed\.$", "save_failed_summary", "Cache save failed."),
    # compiler caches
    _p("sccache-json", r'^\{"stats":\{', "sccache_json", '{"stats":{'),
    _p("sccache-start", r"^Compile requests\s+\d+$", "sccache_start", "Compile requests"),
    _p(
        "sccache-language",
        r"^Cache (?P<what>hits|misses) \((?P<lang>[^)]+)\)\s+(?P<count>\d+)$",
        "sccache_language",
        "Cache ",
    ),
    _p("sccache-end", r"^Cache location\s", "sccache_end", "Cache location"),
    _p("ccache-start", r"^Cacheable calls:\s+\d+\s*/\s*\d+", "ccache_start", "Cacheable calls:"),
    _p("ccache-summary", r"^Summary:$", "ccache_start", "Summary:"),  # ccache 4.0-4.5
    _p("ccache-hits", r"^  Hits:\s+(?P<count>\d+)\s*/\s*\d+", "ccache_hits", "  Hits:"),
    _p(
        "ccache-misses",
        r"^  Misses:\s+(?P<count>\d+)(?:\s*/\s*\d+|\s*$)",  # 4.0-4.5: no "/ total"
        "ccache_misses",
        "  Misses:",
    ),
    _p(
        "ccache3-hit",
        r"^cache hit \((?:direct|preprocessed)\)\s+(?P<count>\d+)$",
        "ccache3_hit",
        "cache hit (",
    ),
    _p("ccache3-miss", r"^cache miss\s+(?P<count>\d+)$", "ccache3_miss", "cache miss"),
    _p("cargo-fresh", r"^\s*Fresh (?P<unit>\S+) v\S+", "cargo_fresh", "Fresh "),
    _p("cargo-compiling", r"^\s*Compiling (?P<unit>\S+) v\S+", "cargo_compiling", "Compiling "),
)
# Cheap first test: a line that holds none of these matches no pattern (each pattern's
# needle holds one of them; a test checks it).
QUICK = ("ache", "##[", "Post job", "with:", "env:", "  key: ", "match: ", "Failed to save",
         '{"stats"', "Compil", "  Hits:", "  Misses:", "Fresh ", "Summary:")  # fmt: skip


def key_family(key: str) -> str:
    """The family of a cache key: the key without its variable tail (hashes, run ids).

    >>> key_family("Linux-cargo-3f2a9c1d0b7e"), key_family("pilothouse-main-6100000001-1")
    ('Linux-cargo-', 'pilothouse-main-')
    >>> key_family("v0-rust-build-Linux-x64-2a5b7c1e-4f1d2e3a"), key_family("fixed-key")
    ('v0-rust-build-Linux-x64-', 'fixed-key')
    """
    parts = key.split("-")
    kept = len(parts)
    while kept > 1 and _VARIABLE_SEGMENT.fullmatch(parts[kept - 1]):
        kept -= 1
    return key if kept == len(parts) else "-".join(parts[:kept]) + "-"


def _tool_of_label(label: str) -> str | None:
    lowered = label.strip().lower()
    if lowered.startswith("actions/cache"):
        return "actions/cache"
    if lowered.startswith("swatinem/rust-cache"):
        return "rust-cache"
    for name in ("setup-python", "setup-node", "setup-go", "setup-java"):
        if lowered.startswith(f"actions/{name}@"):
            return name
    return None


def _tool_of_key(key: str) -> str | None:
    return next((tool for prefix, tool in _KEY_TOOLS if key.startswith(prefix)), None)


def _tool_of_manager(pm: str | None) -> str:
    """Which setup-* action prints "PM cache is not found" (setup-go: "Cache is not found")."""
    if pm is None:
        return "setup-go"
    if pm in ("npm", "yarn", "pnpm"):
        return "setup-node"
    return "setup-python" if pm in ("pip", "pipenv", "poetry") else "setup-java"


def _package_manager(key: str) -> str | None:
    segments = key.split("-")
    return next((pm for pm in reversed(segments) if pm in _PACKAGE_MANAGERS), None)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


@dataclass
class LogStats:
    """What one read of a log learnt besides its events: size, span."""

    lines: int = 0
    bytes: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    cut_lines: int = 0  # lines longer than MAX_LINE_BYTES, read only in part


@dataclass
class _Step:
    label: str | None = None
    tool: str | None = None
    started: datetime | None = None
    in_header: bool = False
    in_with: bool = False
    key: str | None = None  # the `key:` input
    package_manager: str | None = None  # the `cache:` input of setup-*
    toolkit_match: tuple[str, bool] | None = None  # (key, exact) from "Cache hit for"
    size: int | None = None
    save_failed: bool = False


@dataclass
class _Reader:
    """The state of one pass over a log: the current step and open stat blocks."""

    out: list[CacheEvent] = field(default_factory=list)
    step: _Step = field(default_factory=_Step)
    line: int = 0
    stamp: str | None = None  # the current line's timestamp text, parsed only when needed
    parsed: tuple[str | None, datetime | None] = (None, None)
    expect_rust_key: bool = False
    pending: dict[str, CacheEvent] = field(default_factory=dict)  # family -> unresolved
    sccache: dict[str, list[int]] | None = None
    ccache_hit_count: int | None = None
    in_ccache: bool = False
    ccache3_hits: int | None = None  # ccache 3: "cache hit (direct)" + "(preprocessed)"
    fresh: int = 0
    compiled: int = 0

    # -- plumbing ------------------------------------------------------------------

    @property
    def at(self) -> datetime | None:
        """The current line's time (the last timestamp seen), parsed once per text."""
        if self.parsed[0] != self.stamp:
            self.parsed = (self.stamp, _parse_time(self.stamp) if self.stamp else None)
        return self.parsed[1]

    def emit(self, event: CacheEvent) -> None:
        self.out.append(event)

    def event(self, kind: CacheKind, tool: str, family: str, **extra: Any) -> CacheEvent:
        return CacheEvent(
            line=self.line, tool=tool, kind=kind, key_prefix=family, step=self.step.label,
            at=self.at, **extra,
        )  # fmt: skip

    def family(self, tool: str, key: str | None, pm: str | None = None) -> str:
        if tool.startswith("setup-"):
            manager = self.step.package_manager or pm or (key and _package_manager(key))
            if manager in ("true", None) and tool == "setup-go":
                manager = "go"
            return f"{tool} {manager}" if manager and manager != "true" else tool
        if key:
            return key_family(key)
        return tool

    def tool_for(self, key: str | None, fallback: str = "actions/cache") -> str:
        if self.step.tool:
            return self.step.tool
        return (key and _tool_of_key(key)) or fallback

    def finish(self) -> None:
        self.flush_sccache()
        for event in self.pending.values():
            self.emit(replace(event, detail="exactness assumed (no post step said)"))
        self.pending.clear()
        if self.fresh:
            self.emit(
                CacheEvent(
                    line=self.line, tool="cargo", kind="compiler", key_prefix="cargo units",
                    hits=self.fresh, misses=self.compiled, language="rust",
                )
            )  # fmt: skip

    # -- step structure --------------------------------------------------------------

    def step_start(self, m: re.Match[str]) -> None:
        self.flush_sccache()
        label = m["label"].strip()
        self.step = _Step(label, _tool_of_label(label), self.at, in_header=True)

    def post_step(self, _m: re.Match[str]) -> None:
        self.flush_sccache()
        self.step = _Step("post job cleanup", None, self.at)

    def with_block(self, _m: re.Match[str]) -> None:
        self.step.in_with = self.step.in_header

    def header_end(self, m: re.Match[str]) -> None:
        self.step.in_with = False
        if m.group(0) != "env:":
            self.step.in_header = False

    def with_key(self, m: re.Match[str]) -> None:
        if self.step.in_with:
            self.step.key = m["key"]

    def with_cache(self, m: re.Match[str]) -> None:
        if self.step.in_with:
            self.step.package_manager = m["pm"]

    def rust_key_next(self, _m: re.Match[str]) -> None:
        self.expect_rust_key = True

    # -- restores ----------------------------------------------------------------------

    def toolkit_hit(self, m: re.Match[str]) -> None:
        self.step.toolkit_match = (m["key"], not m.group(0).startswith("Cache hit for restore-key"))

    def cache_size(self, m: re.Match[str]) -> None:
        self.step.size = int(m["bytes"])

    def restored(self, m: re.Match[str]) -> None:
        key = m["key"]
        tool = self.tool_for(key)
        exact = self.exactness(tool, key)
        pm = m.groupdict().get("what")
        family = self.family(tool, key, pm.lower() if pm else None)
        kind: CacheKind = "partial" if exact is False else "hit"
        event = self.event(
            kind, tool, family, key=key, seconds=_seconds(self.step.started, self.at),
            size_bytes=self.step.size,
        )  # fmt: skip
        if exact is None:
            self.hold(event)
        else:
            self.emit(event)

    def exactness(self, tool: str, key: str) -> bool | None:
        match = self.step.toolkit_match
        if match is not None and match[0] == key:
            return match[1]
        if self.step.key is not None and "${{" not in self.step.key:
            return self.step.key == key
        return True if tool in _EXACT_ONLY else None

    def hold(self, event: CacheEvent) -> None:
        if len(self.pending) >= _PENDING_LIMIT:
            oldest = next(iter(self.pending))
            self.emit(self.pending.pop(oldest))
        previous = self.pending.pop(event.key_prefix, None)
        if previous is not None:
            self.emit(previous)
        self.pending[event.key_prefix] = event

    def not_found(self, m: re.Match[str]) -> None:
        primary = m["keys"].split(", ")[0].strip()
        tool = self.tool_for(primary)
        self.emit(
            self.event(
                "miss", tool, self.family(tool, self.step.key or primary),
                key=self.step.key or primary, seconds=_seconds(self.step.started, self.at),
            )
        )  # fmt: skip

    def setup_not_found(self, m: re.Match[str]) -> None:
        pm = m.groupdict().get("pm")
        tool = self.step.tool or _tool_of_manager(pm)
        family = self.family(tool, None, pm.lower() if pm else None)
        seconds = _seconds(self.step.started, self.at)
        self.emit(self.event("miss", tool, family, seconds=seconds))

    def rust_restored(self, m: re.Match[str]) -> None:
        key = m["key"]
        kind: CacheKind = "hit" if m["full"] == "true" else "partial"
        family = key_family(self.step.key or key)
        seconds = _seconds(self.step.started, self.at)
        self.emit(self.event(kind, "rust-cache", family, key=key, seconds=seconds,
                             size_bytes=self.step.size))  # fmt: skip

    def rust_miss(self, _m: re.Match[str]) -> None:
        family = key_family(self.step.key) if self.step.key else "rust-cache"
        seconds = _seconds(self.step.started, self.at)
        self.emit(self.event("miss", "rust-cache", family, key=self.step.key, seconds=seconds))

    # -- saves -------------------------------------------------------------------------

    def saved(self, m: re.Match[str]) -> None:
        key = m["key"]
        fallback = "setup-node" if m["the"] else "actions/cache"
        tool = self.tool_for(key, _tool_of_key(key) or fallback)
        family = self.family(tool, key)
        earlier = self.pending.pop(family, None)
        if earlier is not None:  # a new save after a restore: the restore was not exact
            self.emit(replace(earlier, kind="partial" if earlier.key != key else "hit"))
        seconds = _seconds(self.step.started, self.at)
        self.emit(self.event("saved", tool, family, key=key, seconds=seconds))

    def hit_not_saving(self, m: re.Match[str]) -> None:
        key = m["key"]
        for family, event in list(self.pending.items()):
            if event.key == key:
                self.emit(self.pending.pop(family))

    def save_failed(self, m: re.Match[str]) -> None:
        key = m.groupdict().get("key")
        if key is None and self.step.save_failed:
            return  # the reserve failure was already counted on its own line
        tool = self.tool_for(key or self.step.key)
        family = self.family(tool, key or self.step.key)
        detail = m.groupdict().get("detail") or "another job may be creating this cache"
        self.step.save_failed = True
        self.emit(self.event("save_failed", tool, family, key=key, detail=detail[:500]))

    def save_failed_summary(self, _m: re.Match[str]) -> None:
        if not self.step.save_failed:  # the toolkit's line said it already
            tool = self.tool_for(self.step.key)
            family = self.family(tool, self.step.key)
            self.step.save_failed = True
            self.emit(self.event("save_failed", tool, family, key=self.step.key,
                                 detail="Cache save failed."))  # fmt: skip

    # -- compiler caches ------------------------------------------------------------

    def sccache_json(self, m: re.Match[str]) -> None:
        try:
            data, _end = json.JSONDecoder().raw_decode(m.string)
            stats = data["stats"]
            hits = stats["cache_hits"].get("counts") or {}
            misses = stats["cache_misses"].get("counts") or {}
        except (ValueError, KeyError, TypeError, AttributeError):
            return  # not sccache's JSON after all: ignored like any unknown line
        self.emit_compiler("sccache", {
            str(lang): [int(hits.get(lang, 0)), int(misses.get(lang, 0))]
            for lang in sorted({*hits, *misses})
        })  # fmt: skip

    def sccache_start(self, _m: re.Match[str]) -> None:
        self.flush_sccache()
        self.sccache = {}

    def sccache_language(self, m: re.Match[str]) -> None:
        if self.sccache is None:
            return
        counts = self.sccache.setdefault(m["lang"], [0, 0])
        counts[0 if m["what"] == "hits" else 1] = int(m["count"])

    def sccache_end(self, _m: re.Match[str]) -> None:
        self.flush_sccache()

    def flush_sccache(self) -> None:
        if self.sccache:
            self.emit_compiler("sccache", self.sccache)
        self.sccache = None

    def emit_compiler(self, tool: str, counts: dict[str, list[int]]) -> None:
        for lang, (hits, misses) in counts.items():
            family = f"{tool} {lang.lower()}"
            self.emit(self.event("compiler", tool, family, hits=hits, misses=misses,
                                 language=lang))  # fmt: skip

    def ccache_start(self, _m: re.Match[str]) -> None:
        self.in_ccache, self.ccache_hit_count = True, None

    def ccache_hits(self, m: re.Match[str]) -> None:
        if self.in_ccache and self.ccache_hit_count is None:
            self.ccache_hit_count = int(m["count"])

    def ccache_misses(self, m: re.Match[str]) -> None:
        if self.in_ccache and self.ccache_hit_count is not None:
            self.emit(self.event("compiler", "ccache", "ccache", hits=self.ccache_hit_count,
                                 misses=int(m["count"])))  # fmt: skip
        self.in_ccache = False

    def ccache3_hit(self, m: re.Match[str]) -> None:
        self.ccache3_hits = (self.ccache3_hits or 0) + int(m["count"])

    def ccache3_miss(self, m: re.Match[str]) -> None:
        if self.ccache3_hits is not None:
            self.emit(self.event("compiler", "ccache", "ccache", hits=self.ccache3_hits,
                                 misses=int(m["count"])))  # fmt: skip
        self.ccache3_hits = None

    def cargo_fresh(self, _m: re.Match[str]) -> None:
        self.fresh += 1

    def cargo_compiling(self, _m: re.Match[str]) -> None:
        self.compiled += 1


_ACTIONS: dict[str, Callable[[_Reader, re.Match[str]], None]] = {
    pattern.action: getattr(_Reader, pattern.action) for pattern in PATTERNS
}


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _split(raw: str) -> tuple[str | None, str]:
    """(timestamp text or None, message) of one decoded line."""
    raw = raw.rstrip("\r\n").lstrip("\ufeff")
    if raw[27:29] == "Z " and raw[4:5] == "-" and raw[10:11] == "T":  # GitHub's fixed width
        stamp_text: str | None = raw[:28]
        message = raw[29:]
    else:
        stamp = _TIMESTAMP.match(raw)
        stamp_text, message = (stamp[1], raw[stamp.end() :]) if stamp else (None, raw)
    if "\x1b" in message:
        message = _ANSI.sub("", message)
    if message.startswith(("##[", "[warning]")):
        message = _PREFIX.sub("", message)
    if "\x00" in message:  # the store refuses NUL in text; a log's NUL is just noise
        message = message.replace("\x00", "\ufffd")
    return stamp_text, message


def _lines(stream: IO[bytes], stats: LogStats) -> Iterator[bytes]:
    """Lines, each cut at MAX_LINE_BYTES (the rest is skipped, never held)."""
    while True:
        raw = stream.readline(MAX_LINE_BYTES)
        if not raw:
            return
        stats.bytes += len(raw)
        if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
            stats.cut_lines += 1
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                stats.bytes += len(rest)
            stats.bytes += len(rest)
        yield raw


def _match(reader: _Reader, message: str) -> None:
    if reader.expect_rust_key:
        reader.expect_rust_key = False
        if message.startswith("    ") and message.strip():
            reader.step.key = message.strip()
            return
    for pattern in PATTERNS:
        if pattern.needle in message:
            found = pattern.regex.search(message)
            if found is not None:
                _ACTIONS[pattern.action](reader, found)
                return


def read_log(stream: IO[bytes], stats: LogStats | None = None) -> Iterator[CacheEvent]:
    """The cache events of one job log, in order, read line by line.

    >>> import io
    >>> log = b"2024-01-01T12:00:00Z Cache not found for input keys: Linux-cargo-3f2a9c1d0b"
    >>> [(e.kind, e.key_prefix) for e in read_log(io.BytesIO(log))]
    [('miss', 'Linux-cargo-')]
    """
    stats = stats if stats is not None else LogStats()
    reader = _Reader()
    last = b""
    for raw in _lines(stream, stats):
        reader.line += 1
        last = raw
        if stats.first_at is None:
            stats.first_at = _stamp_of(raw)
        line = raw.decode("utf-8", "replace")
        # Most lines hold none of the literals any pattern needs: skip them at once.
        if not reader.expect_rust_key and not any(map(line.__contains__, QUICK)):
            continue
        text, message = _split(line)
        if text is not None:
            reader.stamp = text
        _match(reader, message)
        if reader.out:
            yield from reader.out
            reader.out.clear()
    stats.lines = reader.line
    stats.last_at = _stamp_of(last) or reader.at
    reader.finish()
    yield from reader.out


def _stamp_of(raw: bytes) -> datetime | None:
    text, _message = _split(raw[:64].decode("utf-8", "replace"))
    return _parse_time(text) if text else None


def read_log_file(path: Path, stats: LogStats | None = None) -> Iterator[CacheEvent]:
    """read_log on a file, opened here and closed when the events are read."""
    with path.open("rb") as stream:
        yield from read_log(stream, stats)
