"""The inputs of `artifacts inspect`, read-only: a file, a directory (recursive), a zip or
a tar archive (`.tar`, `.tar.gz`/`.tgz`, `.tar.xz`/`.txz`, `.tar.bz2`, `.tar.zst`/`.tzst`).

Nothing is ever written beside an input: archive members are streamed, never extracted.
Hostile archives are refused with one line naming the archive and what is wrong: a member
whose path is absolute or climbs out with `..`, more content than `max_bytes`, or content
more than `max_ratio` times the archive's own size (a zip bomb). Symbolic links are followed
only to regular files inside the input; other links, devices and pipes are skipped and
counted.
"""

from __future__ import annotations

import contextlib
import errno
import io
import lzma
import os
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import zstandard

from pilothouse.errors import InputError

DEFAULT_MAX_BYTES = 8 * 1024**3
DEFAULT_MAX_RATIO = 200
# Below this much content no ratio is suspicious: 10 kB of zeros compresses 200:1.
RATIO_FLOOR = 16 * 1024**2

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tar.zst",
                ".tar.zstd", ".tzst")  # fmt: skip
ZSTD_SUFFIXES = (".tar.zst", ".tar.zstd", ".tzst")
# Errors a damaged or lying archive raises while its members are read.
READ_ERRORS = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    tarfile.TarError,
    zstandard.ZstdError,
    NotImplementedError,
    RuntimeError,  # zipfile: an encrypted member without a password
)


@dataclass(frozen=True, slots=True)
class Limits:
    """What an archive may expand to before it is refused as a bomb."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_ratio: float = DEFAULT_MAX_RATIO


@dataclass(frozen=True, slots=True)
class Entry:
    """A regular file of the artifact: its shown name, size, and how to read it once."""

    name: str
    size: int
    open: Callable[[], contextlib.AbstractContextManager[BinaryIO]]


@dataclass(frozen=True, slots=True)
class Skip:
    """Something that is not content: a link not followed, a device, a pipe."""

    name: str
    reason: str


Item = Entry | Skip


@dataclass(frozen=True, slots=True)
class Input:
    """One PATH argument: its kind, its size on disk, and its items (read lazily)."""

    path: str
    kind: str  # file, directory, zip, tar
    stored_bytes: int
    content_bytes: int | None  # known before reading (None for a compressed tar)
    items: Callable[[], Iterator[Item]]


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\udc80-\udcff]")


def shown(name: str) -> str:
    """*name* safe to print and to write as JSON: control characters and the bytes of a
    non-UTF-8 name (lone surrogates) become ``\\xNN``."""

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code - 0xDC00 if code >= 0xDC00 else code:02x}"

    return _UNPRINTABLE.sub(escape, name)


def open_input(path: Path, label: str, limits: Limits) -> Input:
    """The input at *path* (shown as *label*); InputError when it cannot be read."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"{shown(label)}: no such file or directory") from None
    except OSError as exc:
        raise InputError(f"{shown(label)}: cannot read: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        return _directory(path, label)
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{shown(label)}: not a regular file or directory")
    if _is_zip(path, label):
        return _zip(path, label, info.st_size, limits)
    if label.lower().endswith(TAR_SUFFIXES):
        return _tar(path, label, info.st_size, limits)
    entry = Entry(shown(label), info.st_size, lambda: _open_regular(path, label))
    return Input(shown(label), "file", info.st_size, info.st_size, lambda: iter([entry]))


def _is_zip(path: Path, label: str) -> bool:
    with _open_regular(path, label) as stream:
        return stream.read(4) in ZIP_MAGICS


@contextlib.contextmanager
def _open_regular(path: Path, label: str) -> Iterator[BinaryIO]:
    """Open a regular file read-only; a pipe or device put in its place is refused, never
    waited on (O_NONBLOCK)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(f"{shown(label)}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{shown(label)}: not a regular file")
    with os.fdopen(fd, "rb") as stream:
        yield _guarded(stream, label)


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _guarded(inner: _Readable, label: str) -> BinaryIO:
    """*inner*, buffered, with its read errors turned into one InputError naming *label*."""
    return io.BufferedReader(_Guarded(inner, label), buffer_size=64 * 1024)


class _Guarded(io.RawIOBase):
    """A read-only stream whose read errors become one InputError naming the member."""

    def __init__(self, inner: _Readable, label: str) -> None:
        super().__init__()
        self._inner = inner
        self._label = label

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._inner.read(size)
        except READ_ERRORS as exc:
            raise InputError(f"{shown(self._label)}: cannot read: {_reason(exc)}") from None

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# -- directories ---------------------------------------------------------------------------


def _directory(path: Path, label: str) -> Input:
    base = label.rstrip("/") or "/"
    items = list(_walk(path, base))
    size = sum(item.size for item in items if isinstance(item, Entry))
    return Input(shown(base), "directory", size, size, lambda: iter(items))


def _walk(root: Path, base: str) -> Iterator[Item]:
    """Every regular file under *root*, sorted, without following links out of it."""
    real_root = os.path.realpath(root)

    def fail(exc: OSError) -> None:
        where = os.path.relpath(exc.filename or root, root)
        raise InputError(f"{shown(_join(base, where))}: cannot read: {exc.strerror}")

    for folder, dirs, files in os.walk(root, onerror=fail, followlinks=False):
        dirs.sort()
        relative = os.path.relpath(folder, root)
        for name in dirs:
            if os.path.islink(os.path.join(folder, name)):
                yield Skip(shown(_join(base, relative, name)), "link to a directory")
        for name in sorted(files):
            yield _file_item(Path(folder, name), _join(base, relative, name), real_root)


def _join(base: str, *parts: str) -> str:
    rest = "/".join(part for part in parts if part not in ("", "."))
    return f"{base.rstrip('/')}/{rest}" if rest else base


def _file_item(path: Path, label: str, real_root: str) -> Item:
    try:
        info = path.lstat()
        target = path
        if stat.S_ISLNK(info.st_mode):
            real = os.path.realpath(path)
            if os.path.commonpath([real, real_root]) != real_root:
                return Skip(shown(label), "link out of the input")
            target, info = Path(real), os.stat(real)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP):
            return Skip(shown(label), "broken link")
        raise InputError(f"{shown(label)}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        return Skip(shown(label), "not a regular file")
    return Entry(shown(label), info.st_size, lambda: _open_regular(target, label))


# -- archives ------------------------------------------------------------------------------


def unsafe_member(name: str) -> bool:
    """True for a member path that is absolute or climbs out with `..` (zip slip)."""
    parts = re.split(r"[\\/]", name)
    absolute = name.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:", name))
    return absolute or ".." in parts


def _refuse_unsafe(label: str, member: str) -> None:
    if unsafe_member(member):
        raise InputError(
            f"{shown(label)}: member {shown(member)!r} has an absolute path or '..': "
            "refused (it would be written outside the archive's folder)"
        )


def _check_bomb(label: str, content: int, stored: int, limits: Limits) -> None:
    if content > limits.max_bytes:
        raise InputError(
            f"{shown(label)}: expands to more than {limits.max_bytes} bytes: refused "
            "(a zip bomb? --max-bytes raises the limit)"
        )
    if content > RATIO_FLOOR and content > limits.max_ratio * max(stored, 1):
        raise InputError(
            f"{shown(label)}: expands {content / max(stored, 1):.0f} times its size "
            f"({content} bytes from {stored}): refused as a zip bomb (--max-ratio raises the limit)"
        )


def _zip(path: Path, label: str, stored: int, limits: Limits) -> Input:
    """A zip, checked whole (names, declared sizes, ratio) before any member is read."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"{shown(label)}: not a readable zip archive: {exc}") from None
    for info in infos:
        _refuse_unsafe(label, info.filename)
        if info.flag_bits & 0x1:
            raise InputError(f"{shown(label)}: member {shown(info.filename)!r} is encrypted")
    members = [i for i in infos if not i.is_dir()]
    content = sum(i.file_size for i in members if not _zip_link(i))
    _check_bomb(label, content, stored, limits)
    return Input(shown(label), "zip", stored, content, lambda: _zip_items(path, label, members))


def _zip_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _zip_items(path: Path, label: str, members: list[zipfile.ZipInfo]) -> Iterator[Item]:
    with zipfile.ZipFile(path) as archive:
        for info in members:
            name = f"{label}:{info.filename}"
            if _zip_link(info):
                yield Skip(shown(name), "link")
                continue
            yield Entry(shown(name), info.file_size, _member_opener(archive, info, name))


def _member_opener(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str
) -> Callable[[], contextlib.AbstractContextManager[BinaryIO]]:
    @contextlib.contextmanager
    def opener() -> Iterator[BinaryIO]:
        try:
            stream = archive.open(info)
        except READ_ERRORS as exc:
            raise InputError(f"{shown(name)}: cannot read: {_reason(exc)}") from None
        with stream:
            yield _guarded(stream, name)

    return opener


def _tar(path: Path, label: str, stored: int, limits: Limits) -> Input:
    return Input(shown(label), "tar", stored, None, lambda: _tar_items(path, label, stored, limits))


def _tar_items(path: Path, label: str, stored: int, limits: Limits) -> Iterator[Item]:
    """Members of a tar, streamed in order (mode r|): checked one by one as they come."""
    content = 0
    with _open_regular(path, label) as raw, _tar_stream(raw, label) as archive:
        try:
            for member in archive:
                _refuse_unsafe(label, member.name)
                name = shown(f"{label}:{_without_dot(member.name)}")
                if member.isdir():
                    continue
                content += member.size  # a skipped member's data is read through too
                _check_bomb(label, content, stored, limits)
                if not member.isreg():
                    link = member.issym() or member.islnk()
                    yield Skip(name, "link" if link else "not a regular file")
                    continue
                yield Entry(name, member.size, _tar_opener(archive, member, name))
        except READ_ERRORS as exc:
            reason = _reason(exc)
            raise InputError(f"{shown(label)}: not a readable tar archive: {reason}") from None


# Long names and pax headers are read whole into memory by tarfile: a few kB in practice.
MAX_EXTENDED_HEADER = 1024 * 1024
_EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
             tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)  # fmt: skip


class _BoundedTarInfo(tarfile.TarInfo):
    """A tar header whose extended headers (held in memory whole) are bounded in size."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _EXTENDED and self.size > MAX_EXTENDED_HEADER:
            raise tarfile.HeaderError(f"an extended header of {self.size} bytes")
        return super()._proc_member(tarfile_)  # type: ignore[misc, no-any-return]


def _without_dot(name: str) -> str:
    """`./bin/app` (as `tar -C dir .` writes it) is `bin/app`."""
    while name.startswith("./"):
        name = name[2:]
    return name


@contextlib.contextmanager
def _tar_stream(raw: BinaryIO, label: str) -> Iterator[tarfile.TarFile]:
    source: BinaryIO = raw
    if label.lower().endswith(ZSTD_SUFFIXES):
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        source = _guarded(reader, label)
    try:
        archive = tarfile.open(fileobj=source, mode="r|*", tarinfo=_BoundedTarInfo)
    except READ_ERRORS as exc:
        raise InputError(f"{shown(label)}: not a readable tar archive: {_reason(exc)}") from None
    with archive:
        yield archive


def _tar_opener(
    archive: tarfile.TarFile, member: tarfile.TarInfo, name: str
) -> Callable[[], contextlib.AbstractContextManager[BinaryIO]]:
    @contextlib.contextmanager
    def opener() -> Iterator[BinaryIO]:
        stream = archive.extractfile(member)
        if stream is None:
            raise InputError(f"{shown(name)}: cannot read this tar member")
        with stream:
            yield _guarded(stream, name)

    return opener
