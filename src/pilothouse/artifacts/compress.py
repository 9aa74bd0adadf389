"""Real compressed sizes of a byte stream, for several compressors at once.

`CompressedSizes` is a write-only file: what is written goes, in chunks, to one thread
per compressor (zstandard and lzma release the GIL while they work, so the compressors
share the cores) and only the output's length is kept. Memory is bounded by the
compressors' own windows plus a few chunks per thread, whatever the stream's size.
"""

from __future__ import annotations

import lzma
import queue
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import zstandard

DEFAULT_METHODS = ("zstd-19", "zstd-3", "xz-9", "xz-6")
CHUNK_BYTES = 1024 * 1024
QUEUE_CHUNKS = 4
# `zstd --long` uses a 128 MiB window (2^27).
LONG_WINDOW_LOG = 27
_METHOD = re.compile(r"^(?:zstd-(?P<zstd>\d{1,2})(?P<long>-long)?|xz-(?P<xz>\d)(?P<extreme>e)?)$")


class _Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Method:
    """A compressor and its level: `zstd-19`, `zstd-19-long`, `xz-9`, `xz-9e`."""

    name: str
    family: str
    level: int
    long: bool = False

    def compressor(self) -> _Compressor:
        if self.family == "xz":
            extreme = lzma.PRESET_EXTREME if self.name.endswith("e") else 0
            return lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=self.level | extreme)
        if self.long:
            params = zstandard.ZstdCompressionParameters.from_level(
                self.level, enable_ldm=True, window_log=LONG_WINDOW_LOG
            )
            return zstandard.ZstdCompressor(compression_params=params).compressobj()
        return zstandard.ZstdCompressor(level=self.level).compressobj()


def parse_method(text: str) -> Method:
    """`zstd-N` (1-22, `-long` for a 128 MiB window) or `xz-N` (0-9, `e` for extreme).

    >>> parse_method("zstd-19-long")
    Method(name='zstd-19-long', family='zstd', level=19, long=True)
    """
    match = _METHOD.match(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a compression method (zstd-1..22[-long], xz-0..9[e])")
    if match["zstd"] is not None:
        level = int(match["zstd"])
        if not 1 <= level <= 22:
            raise ValueError(f"{text!r}: zstd levels are 1 to 22")
        return Method(match.group(0), "zstd", level, long=bool(match["long"]))
    return Method(match.group(0), "xz", int(match["xz"]))


class _Aborted(Exception):
    """The stream was abandoned: its compressed size is of no use."""


class _Worker(threading.Thread):
    """One compressor fed from a bounded queue; None ends the stream."""

    def __init__(self, method: Method) -> None:
        super().__init__(name=f"compress-{method.name}", daemon=True)
        self.method = method
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.size = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        compressor = None
        while (chunk := self.queue.get()) is not None:
            if self.error is not None:
                continue  # keep draining so the writer never blocks on a dead worker
            try:
                compressor = compressor or self.method.compressor()
                self.size += len(compressor.compress(chunk))
            except BaseException as exc:  # noqa: BLE001 - re-raised by close() in the caller
                self.error = exc
        if self.error is None:
            try:
                self.size += len((compressor or self.method.compressor()).flush())
            except BaseException as exc:  # noqa: BLE001
                self.error = exc


class CompressedSizes:
    """A write-only binary sink that counts its raw bytes and each method's output bytes.

    >>> sink = CompressedSizes([parse_method("xz-6")])
    >>> _ = sink.write(b"a" * 100_000)
    >>> sizes = sink.close()
    >>> sink.raw_bytes, 0 < sizes["xz-6"] < 1000
    (100000, True)
    """

    def __init__(self, methods: Sequence[Method]) -> None:
        self.raw_bytes = 0
        self._buffer = bytearray()
        self._workers = [_Worker(m) for m in methods]
        for worker in self._workers:
            worker.start()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        size = len(data)
        self.raw_bytes += size
        self._buffer += data
        if len(self._buffer) >= CHUNK_BYTES:
            self._dispatch()
        return size

    def tell(self) -> int:
        return self.raw_bytes

    def _dispatch(self) -> None:
        chunk = bytes(self._buffer)
        self._buffer.clear()
        for worker in self._workers:
            worker.queue.put(chunk)

    def abort(self) -> None:
        """Stop every compressor without waiting for its output (on an error)."""
        for worker in self._workers:
            worker.error = worker.error or _Aborted()
            worker.queue.put(None)
        for worker in self._workers:
            worker.join()

    def close(self) -> dict[str, int]:
        """Flush every compressor and wait for it; the compressed size per method."""
        if self._buffer:
            self._dispatch()
        for worker in self._workers:
            worker.queue.put(None)
        for worker in self._workers:
            worker.join()
            if worker.error is not None:
                raise worker.error
        return {w.method.name: w.size for w in self._workers}
