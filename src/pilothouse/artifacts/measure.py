"""The pure core of `artifacts inspect`: file records in, a savings report out.

`Tally` takes one `FileRecord` at a time and keeps only what the report needs (totals per
kind, the largest files, one entry per distinct content for deduplication), so memory grows
with the number of distinct files, never with their bytes.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pilothouse.artifacts.elf import StripSizes

# Magic numbers of the kinds worth telling apart: what stripping or compression can do
# differs between a binary, an already compressed file and text.
MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "elf"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"!<arch>\n", "ar"),
    (b"\x00asm", "wasm"),
    (b"MZ", "pe"),
    (b"\xcf\xfa\xed\xfe", "mach-o"),
    (b"\xce\xfa\xed\xfe", "mach-o"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"%PDF-", "pdf"),
    (b"SQLite format 3\x00", "sqlite"),
)
HEAD_BYTES = 512
TOP = 10
NAMES_PER_DUPLICATE = 5


def kind_of(head: bytes, size: int) -> str:
    """The kind of a file from its first bytes.

    >>> kind_of(b"\\x7fELF\\x02\\x01", 4096), kind_of(b"hello", 5), kind_of(b"", 0)
    ('elf', 'text', 'empty')
    """
    if size == 0:
        return "empty"
    for magic, kind in MAGICS:
        if head.startswith(magic):
            return kind
    return "text" if _looks_like_text(head, whole=size <= len(head)) else "data"


def _looks_like_text(head: bytes, *, whole: bool) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the head is still text.
        return not whole and exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One file of the artifact as measured: name, size, content hash, kind, and for an
    ELF binary what stripping would remove (None when not an ELF or unreadable)."""

    name: str
    size: int
    sha256: str
    kind: str
    strip: StripSizes | None = None


@dataclass(frozen=True, slots=True)
class InputInfo:
    path: str
    kind: str
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class Saving:
    method: str
    bytes_after: int
    saved: int
    measured: str
    files: int | None = None

    def as_dict(self, total: int) -> dict[str, Any]:
        return {
            "method": self.method,
            "bytes_after": self.bytes_after,
            "saved": self.saved,
            "saved_percent": share_percent(self.saved, total),
            "measured": self.measured,
            **({} if self.files is None else {"files": self.files}),
        }


def share_percent(part: int, total: int) -> float:
    """*part* as a percentage of *total*, two decimals; 0.0 for an empty total."""
    return round(100.0 * part / total, 2) if total else 0.0


@dataclass
class _Duplicate:
    size: int
    count: int = 0
    names: list[str] = field(default_factory=list)


class Tally:
    """Accumulates file records (and skipped items) into a `Report`."""

    def __init__(self, *, top: int = TOP) -> None:
        self._top = top
        self.files = 0
        self.bytes = 0
        self.skipped: dict[str, int] = {}
        self._kinds: dict[str, list[int]] = {}
        self._largest: list[tuple[int, int, FileRecord]] = []
        self._elf: list[tuple[int, int, FileRecord]] = []
        self._strip = {"debug": 0, "unneeded": 0}
        self._strip_methods: dict[str, int] = {}
        self._elf_files = 0
        self._contents: dict[str, _Duplicate] = {}

    def add(self, record: FileRecord) -> None:
        self.files += 1
        self.bytes += record.size
        kind = self._kinds.setdefault(record.kind, [0, 0])
        kind[0] += 1
        kind[1] += record.size
        _keep_top(self._largest, (record.size, -self.files, record), self._top)
        if record.kind == "elf":
            self._add_elf(record)
        seen = self._contents.setdefault(record.sha256, _Duplicate(record.size))
        seen.count += 1
        if len(seen.names) < NAMES_PER_DUPLICATE:
            seen.names.append(record.name)

    def _add_elf(self, record: FileRecord) -> None:
        self._elf_files += 1
        if record.strip is None:
            return
        self._strip["debug"] += record.strip.debug
        self._strip["unneeded"] += record.strip.unneeded
        method = record.strip.method
        self._strip_methods[method] = self._strip_methods.get(method, 0) + 1
        _keep_top(self._elf, (record.strip.unneeded, -self.files, record), self._top)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def report(
        self, inputs: Sequence[InputInfo], compressed: Mapping[str, int], tar_bytes: int
    ) -> Report:
        """The report, given the compressed sizes of the artifact's tar stream."""
        return Report(
            inputs=tuple(inputs),
            files=self.files,
            bytes=self.bytes,
            tar_bytes=tar_bytes,
            skipped=dict(sorted(self.skipped.items())),
            savings=tuple(self._strip_savings() + self._compression(compressed) + [self._dedupe()]),
            largest=tuple(r for _, _, r in sorted(self._largest, reverse=True)),
            elf=tuple(r for _, _, r in sorted(self._elf, reverse=True)),
            kinds=tuple(
                (kind, files, size)
                for kind, (files, size) in sorted(self._kinds.items(), key=lambda kv: -kv[1][1])
            ),
            duplicates=self._duplicates(),
        )

    def _strip_savings(self) -> list[Saving]:
        measured = "+".join(sorted(self._strip_methods)) or "none"
        elf = sum(self._strip_methods.values())
        return [
            Saving(f"strip-{key}", self.bytes - saved, saved, measured, files=elf)
            for key, saved in self._strip.items()
        ]

    def _compression(self, compressed: Mapping[str, int]) -> list[Saving]:
        return [
            Saving(method, size, self.bytes - size, "compressed")
            for method, size in compressed.items()
        ]

    def _dedupe(self) -> Saving:
        redundant = [d for d in self._contents.values() if d.count > 1]
        saved = sum(d.size * (d.count - 1) for d in redundant)
        copies = sum(d.count - 1 for d in redundant)
        return Saving("dedupe", self.bytes - saved, saved, "sha256", files=copies)

    def _duplicates(self) -> tuple[Duplicate, ...]:
        groups = [
            (d.size * (d.count - 1), sha, d)
            for sha, d in self._contents.items()
            if d.count > 1 and d.size > 0
        ]
        best = heapq.nlargest(self._top, groups, key=lambda g: (g[0], g[1]))
        return tuple(
            Duplicate(sha, d.size, d.count, saved, tuple(d.names)) for saved, sha, d in best
        )


def _keep_top(heap: list[tuple[int, int, FileRecord]], item: tuple[int, int, FileRecord],
              top: int) -> None:  # fmt: skip
    """Keep the *top* largest items of *heap* (ties: the first seen)."""
    if len(heap) < top:
        heapq.heappush(heap, item)
    elif item[:2] > heap[0][:2]:
        heapq.heapreplace(heap, item)


@dataclass(frozen=True, slots=True)
class Duplicate:
    sha256: str
    size: int
    copies: int
    saved: int
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Report:
    """What `artifacts inspect` found; `as_dict` is its JSON shape."""

    inputs: tuple[InputInfo, ...]
    files: int
    bytes: int
    tar_bytes: int
    skipped: dict[str, int]
    savings: tuple[Saving, ...]
    largest: tuple[FileRecord, ...]
    elf: tuple[FileRecord, ...]
    kinds: tuple[tuple[str, int, int], ...]
    duplicates: tuple[Duplicate, ...]

    @property
    def stored_bytes(self) -> int:
        return sum(i.stored_bytes for i in self.inputs)

    def as_dict(self) -> dict[str, Any]:
        total = self.bytes
        return {
            "inputs": [
                {"path": i.path, "kind": i.kind, "stored_bytes": i.stored_bytes}
                for i in self.inputs
            ],
            "files": self.files,
            "bytes": total,
            "stored_bytes": self.stored_bytes,
            "tar_bytes": self.tar_bytes,
            "skipped": self.skipped,
            "savings": [s.as_dict(total) for s in self.savings],
            "largest": [_file_dict(r, total) for r in self.largest],
            "elf": [_elf_dict(r) for r in self.elf],
            "kinds": [
                {"kind": k, "files": n, "bytes": b, "percent": share_percent(b, total)}
                for k, n, b in self.kinds
            ],
            "duplicates": [
                {
                    "sha256": d.sha256,
                    "bytes": d.size,
                    "copies": d.copies,
                    "saved": d.saved,
                    "paths": list(d.names),
                }  # fmt: skip
                for d in self.duplicates
            ],
        }


def _file_dict(record: FileRecord, total: int) -> dict[str, Any]:
    return {
        "path": record.name,
        "kind": record.kind,
        "bytes": record.size,
        "percent": share_percent(record.size, total),
        "sha256": record.sha256,
    }


def _elf_dict(record: FileRecord) -> dict[str, Any]:
    assert record.strip is not None
    return {
        "path": record.name,
        "bytes": record.size,
        "strip_debug_saves": record.strip.debug,
        "strip_unneeded_saves": record.strip.unneeded,
        "measured": record.strip.method,
    }
