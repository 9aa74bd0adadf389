"""`inspect_paths`: read the inputs once and measure what each saving would bring.

Each file is read once: its bytes go to a SHA-256 (duplicates), into one tar stream of the
whole artifact that real compressors size (`compress.CompressedSizes`), and, for an ELF
binary, into a temporary copy that is then stripped or read for its sections
(`elf.strip_sizes`). The inputs are only ever opened for reading; every copy lives in a
temporary directory that is removed at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from pilothouse.artifacts.compress import DEFAULT_METHODS, CompressedSizes, Method, parse_method
from pilothouse.artifacts.elf import StripSizes, is_elf, strip_sizes
from pilothouse.artifacts.measure import (
    HEAD_BYTES,
    TOP,
    FileRecord,
    InputInfo,
    Report,
    Tally,
    kind_of,
)
from pilothouse.artifacts.sources import Entry, Input, Limits, Skip, open_input
from pilothouse.errors import InputError

COPY_BYTES = 1024 * 1024

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Options:
    """How to inspect: compression methods, archive limits, the objcopy to run (None:
    estimate from sections), how many files to list."""

    methods: tuple[Method, ...] = field(
        default_factory=lambda: tuple(parse_method(m) for m in DEFAULT_METHODS)
    )
    limits: Limits = field(default_factory=Limits)
    objcopy: str | None = None
    top: int = TOP


def open_inputs(paths: Sequence[tuple[Path, str]], limits: Limits) -> list[Input]:
    """Every (path, label) opened and checked before anything is measured."""
    return [open_input(path, label, limits) for path, label in paths]


def inspect_inputs(
    inputs: Sequence[Input], options: Options, progress: Progress | None = None
) -> Report:
    """Measure *inputs* as one artifact; *progress* is called with each count of bytes read."""
    tally = Tally(top=options.top)
    sink = CompressedSizes(options.methods)
    try:
        with tempfile.TemporaryDirectory(prefix="pilothouse-inspect-") as tmp:
            _read_all(inputs, tally, sink, _Context(Path(tmp), options, progress))
    except BaseException:
        sink.abort()
        raise
    compressed = sink.close()
    infos = [InputInfo(i.path, i.kind, i.stored_bytes) for i in inputs]
    return tally.report(infos, compressed, sink.raw_bytes)


@dataclass(frozen=True, slots=True)
class _Context:
    workdir: Path
    options: Options
    progress: Progress | None
    stripped: dict[str, StripSizes | None] = field(default_factory=dict)


def _read_all(inputs: Sequence[Input], tally: Tally, sink: CompressedSizes, ctx: _Context) -> None:
    tar_out: IO[bytes] = sink  # type: ignore[assignment]
    with tarfile.TarFile(fileobj=tar_out, mode="w", copybufsize=COPY_BYTES) as tar:
        for source in inputs:
            for item in source.items():
                if isinstance(item, Skip):
                    tally.skip(item.reason)
                else:
                    tally.add(_measure(item, tar, ctx))


def _measure(entry: Entry, tar: tarfile.TarFile, ctx: _Context) -> FileRecord:
    """Stream one file into the tar, hashing it and copying it aside when it is an ELF."""
    spool = ctx.workdir / "elf-copy"
    with entry.open() as stream:
        head = stream.read(HEAD_BYTES)
        elf = is_elf(head)
        with spool.open("wb") if elf else contextlib.nullcontext() as copy:
            tap = _Tap(stream, head, copy, ctx.progress)
            try:
                tar.addfile(_tar_info(entry), tap)
            except OSError:  # tarfile: fewer bytes than the size it was told
                raise InputError(
                    f"{entry.name}: ended before its {entry.size} bytes (changed while being "
                    "read, or a damaged archive)"
                ) from None
    digest = tap.sha256.hexdigest()
    strip = None
    if elf:  # a copy of a binary already measured is not stripped again
        if digest not in ctx.stripped:
            ctx.stripped[digest] = strip_sizes(spool, ctx.options.objcopy, ctx.workdir)
        strip = ctx.stripped[digest]
        spool.unlink()
    return FileRecord(entry.name, entry.size, digest, kind_of(head, entry.size), strip)


def _tar_info(entry: Entry) -> tarfile.TarInfo:
    """A header that depends only on the name and size, so the measure is reproducible."""
    info = tarfile.TarInfo(entry.name.lstrip("/") or "file")
    info.size = entry.size
    info.mode = 0o644
    info.mtime = 0
    return info


class _Tap:
    """The file's bytes for tarfile, after the head already read; each read also goes to
    the hash, the ELF copy and the progress display."""

    def __init__(
        self, stream: BinaryIO, head: bytes, copy: BinaryIO | None, progress: Progress | None
    ) -> None:
        self._stream = stream
        self._head = head
        self._copy = copy
        self._progress = progress
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._head[:size] if size >= 0 else self._head
        self._head = self._head[len(data) :]
        while size < 0 or len(data) < size:  # short reads filled: tarfile wants whole chunks
            more = self._stream.read(-1 if size < 0 else size - len(data))
            if not more:
                break
            data += more
        self.sha256.update(data)
        if self._copy is not None:
            self._copy.write(data)
        if self._progress is not None:
            self._progress(len(data))
        return data
