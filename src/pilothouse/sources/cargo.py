"""cargo's machine output: `cargo build|test|check --message-format=json` and `--timings`.

The JSON stream is one message per line (`reason`: compiler-artifact, build-script-executed,
compiler-message, build-finished, and with `-Z unstable-options --timings=json`
timing-info). Lines that do not start with ``{`` are cargo's human output mixed into the
same log (`--message-format=json-render-diagnostics`, `2>&1`) and are skipped; a line
that starts with ``{`` and is not valid JSON is malformed and refuses the whole file,
named by line, as a bad JUnit report does.

`cargo build --timings` writes an HTML report (`cargo-timing*.html`) whose script holds
`const UNIT_DATA = [...]`: one entry per unit cargo actually built (fresh units are not
timed), with name, version, a target description (`""` for a library, ` bin "app"`,
` build script (run)`...; from cargo 1.93 `cargo report timings` writes ` app "bin"`,
` build-script (run)` and adds `features`), start and duration. Both give seconds per unit.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from pilothouse.errors import InputError
from pilothouse.model import CargoBuild, CargoUnit
from pilothouse.sources.junit import ReportFile

# A message line longer than this is refused rather than held (cargo's longest
# messages, rendered diagnostics with their spans, are a few hundred KB).
MAX_LINE_BYTES = 16 << 20

# Target kinds that cargo's timings describe as "lib".
_LIB_KINDS = frozenset({"lib", "rlib", "dylib", "cdylib", "staticlib", "proc-macro"})
_OLD_ID = re.compile(r"^(?P<name>\S+) (?P<version>\S+) \((?P<source>[^)]*)\)$")
_MODE_SUFFIX = re.compile(r"\s*\((?P<mode>[a-z -]+)\)$")
_QUOTED = re.compile(r'(?P<first>\S+) "(?P<quoted>[^"]*)"')
_REASONS = frozenset({"compiler-artifact", "build-script-executed", "compiler-message",
                      "build-finished", "timing-info"})  # fmt: skip
_TIMING_MODES = {
    "test": "test",
    "check": "check",
    "check-test": "check",
    "doc": "doc",
    "doc test": "doctest",
    "doc scrape": "docscrape",
    "run": "run-custom-build",
}
_TIMING_KINDS = {
    "lib": "lib",
    "bin": "bin",
    "test": "test",
    "bench": "bench",
    "example": "example",
    "build script": "custom-build",
    "build-script": "custom-build",
}


@dataclass(frozen=True, slots=True)
class Package:
    """What a package id says: name, version, where the package comes from."""

    name: str
    version: str
    source: str  # path, registry, sparse, git, local-registry, directory
    location: str  # the source URL (a directory for path packages)

    @property
    def local_dir(self) -> str | None:
        """The package's directory, for a path package."""
        if self.source != "path" or not self.location.startswith("file://"):
            return None
        return unquote(urlsplit(self.location).path).rstrip("/")


def parse_package_id(text: str) -> Package:
    """Both forms cargo has written: the package id spec of cargo 1.77 and later and
    the older `name version (source)`.

    >>> parse_package_id("registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0")
    Package(name='serde', version='1.0.0', source='registry', location='https://github.com/rust-lang/crates.io-index')
    >>> parse_package_id("path+file:///w/corelib#0.1.0").name
    'corelib'
    >>> parse_package_id("serde 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)").source
    'registry'
    """
    old = _OLD_ID.match(text)
    if old is not None:
        kind, _, location = old["source"].partition("+")
        return Package(old["name"], old["version"], kind, location.split("#")[0])
    url, hashed, fragment = text.rpartition("#")
    if not hashed or "+" not in url.split(":", 1)[0]:
        raise ValueError(
            f"package id {text!r} is neither `KIND+URL#NAME@VERSION` nor `NAME VERSION (SOURCE)`"
        )
    kind, _, location = url.partition("+")
    name, at, version = fragment.rpartition("@")
    if not at:  # `URL#VERSION`: the name is the URL's last path segment
        name, version = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1], fragment
    if not name or not version:
        raise ValueError(f"package id {text!r} names no package or version")
    return Package(name, version, kind, location.split("?")[0])


def unit_key(name: str, version: str, kind: str, target: str, mode: str) -> tuple[str, ...]:
    """How a unit is matched between the JSON messages and a timings report, which
    names a library target only as "lib"."""
    group = "lib" if kind in _LIB_KINDS else kind
    # Timings name neither a library nor a build script (a package has one of each).
    return (name, version, group, "" if group in ("lib", "custom-build") else target, mode)


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds one unit took (cargo times only the units it built)."""

    name: str
    version: str
    kind: str
    target: str
    mode: str
    seconds: float

    @property
    def key(self) -> tuple[str, ...]:
        return unit_key(self.name, self.version, self.kind, self.target, self.mode)


@dataclass(frozen=True, slots=True)
class CargoFile:
    """A cargo JSON output (on disk, or in memory when *data* is set) and its digest."""

    path: Path
    digest: str
    size: int
    data: bytes | None = None

    @classmethod
    def from_bytes(cls, label: str, data: bytes) -> CargoFile:
        return cls(Path(label), hashlib.sha256(data).hexdigest(), len(data), data)

    @classmethod
    def open(cls, path: Path) -> CargoFile:
        """Hash *path* (streaming), as reports are: the same output however named."""
        hashed = ReportFile.open(path)
        return cls(path, hashed.digest, hashed.size)

    def read(
        self,
        *,
        timings: Mapping[tuple[str, ...], Timing] | None = None,
        workspace: str | None = None,
    ) -> CargoBuild:
        """Read every message (see read_messages)."""
        try:
            stream: BinaryIO = (
                io.BytesIO(self.data) if self.data is not None else self.path.open("rb")
            )
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        with stream:
            return read_messages(stream, str(self.path), timings=timings or {}, workspace=workspace)


def _lines(stream: BinaryIO, label: str) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for the lines that look like JSON; others are skipped
    without being held whole, however long."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        head = line.lstrip()
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            if head.startswith(b"{"):
                raise InputError(f"{label}:{number}: message longer than {MAX_LINE_BYTES} bytes")
            while line and not line.endswith(b"\n"):  # the rest of a long human line
                line = stream.readline(MAX_LINE_BYTES)
            continue
        if head.startswith(b"{"):
            yield number, line


class _Bad(Exception):
    """A message field is missing or of the wrong type (the caller adds file:line)."""


def _text(value: Any, what: str) -> str:
    """A string both backends can store: no NUL, no lone surrogate."""
    if not isinstance(value, str):
        raise _Bad(f"{what} is not a string")
    if "\x00" in value:
        raise _Bad(f"{what} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Bad(f"{what} contains a lone surrogate") from None
    return value


def _field(message: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = message.get(key)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _Bad(f"{what} without a valid {key!r}")
    return value


@dataclass
class _Reader:
    label: str
    timings: dict[tuple[str, ...], Timing]
    packages: dict[str, Package] = field(default_factory=dict)
    units: list[CargoUnit] = field(default_factory=list)
    scripts: set[str] = field(default_factory=set)  # package ids whose build script ran or replayed
    target_dirs: list[str] = field(default_factory=list)
    success: bool | None = None
    messages: int = 0  # cargo messages read (any known reason)
    warnings: int = 0
    errors: int = 0

    def package(self, value: Any) -> tuple[str, Package]:
        text = _text(value, "package_id")
        found = self.packages.get(text)
        if found is None:
            try:
                found = parse_package_id(text)
            except ValueError as exc:
                raise _Bad(str(exc)) from None
            self.packages[text] = found
        return text, found

    def take(self, message: Mapping[str, Any]) -> None:
        reason = message.get("reason")
        self.messages += reason in _REASONS
        if reason == "compiler-artifact":
            self.artifact(message)
        elif reason == "build-script-executed":
            self.scripts.add(self.package(message.get("package_id"))[0])
            out_dir = message.get("out_dir")
            if isinstance(out_dir, str) and len(self.target_dirs) < 8:
                self.target_dirs.append(out_dir)
        elif reason == "compiler-message":
            inner = message.get("message")
            level = inner.get("level") if isinstance(inner, dict) else None
            self.warnings += level == "warning"
            self.errors += level == "error"
        elif reason == "build-finished":
            self.success = _field(message, "success", bool, "build-finished")
        elif reason == "timing-info":
            self.timing(message)

    def artifact(self, message: Mapping[str, Any]) -> None:
        package_id, package = self.package(message.get("package_id"))
        target = _field(message, "target", dict, "compiler-artifact")
        kinds = _field(target, "kind", list, "compiler-artifact target")
        kind = _text(kinds[0] if kinds else None, "target kind")
        name = _text(target.get("name"), "target name")
        profile = _field(message, "profile", dict, "compiler-artifact")
        features = _field(message, "features", list, "compiler-artifact")
        fresh = _field(message, "fresh", bool, "compiler-artifact")
        filenames = message.get("filenames")
        files = [f for f in filenames if isinstance(f, str)] if isinstance(filenames, list) else []
        if files and len(self.target_dirs) < 8:
            self.target_dirs.append(files[0])
        if kind == "custom-build":
            mode = "build"
        elif files and all(f.endswith(".rmeta") for f in files):
            mode = "check"
        else:
            mode = "test" if profile.get("test") is True else "build"
        self.units.append(
            CargoUnit(
                name=package.name,
                version=package.version,
                source=package.source,
                member=False,  # decided once the file is read (see _members)
                package_id=package_id,
                target_kind=kind,
                target_name=name,
                mode=mode,
                profile=describe_profile(profile),
                features=",".join(sorted(_text(f, "feature") for f in features)),
                fresh=fresh,
                build_script=False,
                seconds=None,
            )
        )

    def timing(self, message: Mapping[str, Any]) -> None:
        _id, package = self.package(message.get("package_id"))
        target = _field(message, "target", dict, "timing-info")
        kinds = _field(target, "kind", list, "timing-info target")
        mode = _text(message.get("mode"), "timing-info mode")
        seconds = _field(message, "duration", (int, float), "timing-info")
        kind = _text(kinds[0] if kinds else None, "target kind")
        name = _text(target.get("name"), "target name")
        entry = Timing(package.name, package.version, kind, name, mode, float(seconds))
        self.timings[entry.key] = entry


def describe_profile(profile: Mapping[str, Any]) -> str:
    """The compiler settings of an artifact's profile, as one comparable string.

    >>> describe_profile({"opt_level": "3", "debuginfo": 0, "debug_assertions": False,
    ...                   "overflow_checks": False, "test": False})
    'opt-level=3 debuginfo=0'
    """
    words = [f"opt-level={profile.get('opt_level')}", f"debuginfo={profile.get('debuginfo')}"]
    words += [flag.replace("_", "-") for flag in ("debug_assertions", "overflow_checks")
              if profile.get(flag) is True]  # fmt: skip
    return _text(" ".join(words), "profile")


def read_messages(
    stream: BinaryIO,
    label: str,
    *,
    timings: Mapping[tuple[str, ...], Timing] = {},  # noqa: B006 - read only
    workspace: str | None = None,
) -> CargoBuild:
    """Read one cargo JSON output; InputError naming `label:line` on a malformed message.

    *timings* (from a timings report) and the output's own timing-info lines give
    units their seconds; build scripts that ran appear as `run-custom-build` units.
    Path packages under *workspace* are members (default: the directory holding
    cargo's target directory, else every path package).
    """
    return _finish(_scan(stream, label, timings), workspace)


def _scan(stream: BinaryIO, label: str, timings: Mapping[tuple[str, ...], Timing]) -> _Reader:
    reader = _Reader(label, dict(timings))
    number = 0
    try:
        for number, line in _lines(stream, label):
            try:
                message = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{label}:{number}: malformed JSON: {_reason(exc)}") from None
            if isinstance(message, dict):
                reader.take(message)
    except _Bad as exc:
        raise InputError(f"{label}:{number}: {exc}") from None
    except OSError as exc:
        raise InputError(f"{label}: cannot read: {exc.strerror or exc}") from exc
    if not reader.messages:  # cargo ends every JSON output with build-finished
        raise InputError(
            f"{label}: no cargo JSON message (expected `cargo build|test|check "
            "--message-format=json` output)"
        )
    return reader


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        # json's messages may end in "at" ("Invalid control character at")
        return f"{exc.msg.removesuffix(' at')} at column {exc.pos + 1}"
    return "not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)


def _finish(reader: _Reader, workspace: str | None) -> CargoBuild:
    roots = (workspace.rstrip("/") if workspace else None, _workspace_root(reader.target_dirs))
    members = _members(reader.packages.values(), roots)
    with_script = reader.scripts | {
        u.package_id for u in reader.units if u.target_kind == "custom-build"
    }
    units = []
    matched: set[tuple[str, ...]] = set()
    for unit in reader.units:
        key = unit_key(unit.name, unit.version, unit.target_kind, unit.target_name, unit.mode)
        timing = None if unit.fresh else reader.timings.get(key)
        if timing is not None:
            matched.add(key)
        package = reader.packages[unit.package_id]
        units.append(
            unit._replace(
                member=package in members,
                build_script=unit.package_id in with_script,
                seconds=timing.seconds if timing else None,
            )
        )
    units += _script_runs(reader, matched, members)
    return CargoBuild(tuple(units), reader.success, reader.warnings, reader.errors)


def _script_runs(
    reader: _Reader, matched: set[tuple[str, ...]], members: set[Package]
) -> list[CargoUnit]:
    """A build script that ran is a unit of its own in the timings (`build script
    (run)`), with no artifact message: it becomes a rebuilt `run-custom-build` unit.
    (A timings-only file, with no artifact at all, keeps every run.)"""
    by_name = {(p.name, p.version): (text, p) for text, p in reader.packages.items()}
    # A build script that ran makes its package build again: timings of another
    # invocation (or a hand-edited report) cannot add a run to a fresh package.
    rebuilt = {(u.name, u.version) for u in reader.units if not u.fresh}
    runs = []
    for key, timing in reader.timings.items():
        if key in matched or timing.mode != "run-custom-build":
            continue
        if reader.units and (timing.name, timing.version) not in rebuilt:
            continue
        package_id, package = by_name.get((timing.name, timing.version), ("", None))
        runs.append(
            CargoUnit(
                timing.name,
                timing.version,
                package.source if package else "unknown",
                package in members,
                package_id,
                "custom-build",
                timing.target or "build-script-build",
                "run-custom-build",
                "",
                "",
                False,
                True,
                timing.seconds,
            )  # fmt: skip
        )
    return runs


def _members(packages: Iterable[Package], roots: Iterable[str | None]) -> set[Package]:
    """Path packages under the workspace root (the first of *roots* that holds one);
    every path package when none does (a target directory elsewhere, CARGO_TARGET_DIR)."""
    local = {p: p.local_dir for p in packages if p.source == "path"}
    for root in roots:
        if root:
            under = {p for p, d in local.items() if d and (d == root or d.startswith(root + "/"))}
            if under:
                return under
    return set(local)


def _workspace_root(paths: list[str]) -> str | None:
    """The directory holding cargo's target directory, read from artifact paths
    (`<target>/[<triple>/]<profile>/deps/...`, `.../build/<unit>/out`)."""
    for raw in paths:
        path = raw.replace("\\", "/")
        for marker in ("/deps/", "/build/", "/examples/"):
            if marker in path:
                parts = path[: path.rindex(marker)].split("/")[:-1]  # drop the profile dir
                if parts and parts[-1].count("-") >= 2:  # a target triple
                    parts = parts[:-1]
                return "/".join(parts[:-1]) or None  # drop the target dir itself
    for raw in paths:  # a binary at <target>/<profile>/<name>
        parts = raw.replace("\\", "/").split("/")
        if len(parts) > 3:
            return "/".join(parts[:-3]) or None
    return None


def read_timings(path: Path) -> dict[tuple[str, ...], Timing]:
    """Seconds per unit from a `cargo build --timings` HTML report or a file of
    `--timings=json` lines (`reason: timing-info`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if b"UNIT_DATA" in data[: 4 << 20] or data.lstrip()[:1] == b"<":
        return _html_timings(data, str(path))
    return _scan(io.BytesIO(data), str(path), {}).timings


_UNIT_DATA = re.compile(rb"\bconst\s+UNIT_DATA\s*=\s*")


def _html_timings(data: bytes, label: str) -> dict[tuple[str, ...], Timing]:
    match = _UNIT_DATA.search(data)
    if match is None:
        raise InputError(f"{label}: not a cargo timings report (no UNIT_DATA)")
    line = data.count(b"\n", 0, match.end()) + 1
    try:
        entries, _end = json.JSONDecoder().raw_decode(data[match.end() :].decode("utf-8"))
    except ValueError as exc:
        raise InputError(f"{label}:{line}: malformed UNIT_DATA: {_reason(exc)}") from None
    if not isinstance(entries, list):
        raise InputError(f"{label}:{line}: UNIT_DATA is not a list")
    found: dict[tuple[str, ...], Timing] = {}
    for entry in entries:
        try:
            timing = _html_entry(entry)
        except _Bad as exc:
            raise InputError(f"{label}:{line}: UNIT_DATA entry {_index(entry)}: {exc}") from None
        found[timing.key] = timing
    return found


def _index(entry: Any) -> str:
    return str(entry.get("i", "?")) if isinstance(entry, dict) else "?"


def _html_entry(entry: Any) -> Timing:
    if not isinstance(entry, dict):
        raise _Bad("not an object")
    name = _text(entry.get("name"), "name")
    version = _text(entry.get("version"), "version")
    seconds = _field(entry, "duration", (int, float), "unit")
    # Reports from `cargo report timings` (cargo 1.93+) list each unit's features and
    # write a target as `NAME "KIND"`; earlier ones write `KIND "NAME"`.
    kind, target, mode = describe_target(_text(entry.get("target"), "target"), "features" in entry)
    if entry.get("mode") == "run-custom-build":
        mode = "run-custom-build"
    return Timing(name, version, kind, target, mode, float(seconds))


def describe_target(described: str, name_first: bool) -> tuple[str, str, str]:
    """(kind, target name, mode) from a timings report's target description.

    >>> describe_target(' bin "app"', False), describe_target(' app "bin" (test)', True)
    (('bin', 'app', 'build'), ('bin', 'app', 'test'))
    >>> describe_target("", False), describe_target(" (check)", True)
    (('lib', '', 'build'), ('lib', '', 'check'))
    >>> describe_target(" build script (run)", False)
    ('custom-build', '', 'run-custom-build')
    """
    rest, mode = described.strip(), "build"
    suffix = _MODE_SUFFIX.search(rest)
    if suffix is not None:
        if suffix["mode"] not in _TIMING_MODES:
            raise _Bad(f"target {described!r}: unknown mode {suffix['mode']!r}")
        rest, mode = rest[: suffix.start()], _TIMING_MODES[suffix["mode"]]
    if rest in ("", "lib"):
        return "lib", "", mode
    if rest in _TIMING_KINDS:
        return _TIMING_KINDS[rest], "", mode
    quoted = _QUOTED.fullmatch(rest)
    if quoted is not None:
        word, name = (quoted["quoted"], quoted["first"]) if name_first else quoted.groups()
        if word in _TIMING_KINDS:
            return _TIMING_KINDS[word], name, mode
    raise _Bad(f"target {described!r} is not a cargo target description")
