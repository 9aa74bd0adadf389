"""The pure parts of artifact inspection: the report accumulator, member-path safety,
method names, kinds, the section estimate, the compressor fan-out."""

from __future__ import annotations

import doctest
import gzip
import lzma

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilothouse.artifacts import compress, elf, measure
from pilothouse.artifacts.compress import CompressedSizes, Method, parse_method
from pilothouse.artifacts.elf import SECTIONS, StripSizes, section_savings
from pilothouse.artifacts.inspect import Options, inspect_inputs, open_inputs
from pilothouse.artifacts.measure import FileRecord, InputInfo, Tally, kind_of
from pilothouse.artifacts.sources import shown, unsafe_member
from pilothouse.cli.artifacts_inspect import size
from pilothouse.errors import InputError


@pytest.mark.parametrize(
    ("name", "unsafe"),
    [
        ("bin/app", False),
        ("a..b/c", False),  # dots inside a name are fine
        ("..hidden", False),
        ("./bin/app", False),
        ("../evil", True),
        ("bin/../../evil", True),
        ("bin\\..\\evil", True),
        ("/etc/passwd", True),
        ("\\share\\x", True),
        ("C:\\Windows\\x", True),
        ("c:relative", True),
        ("..", True),
    ],
)
def test_unsafe_member(name: str, unsafe: bool) -> None:
    assert unsafe_member(name) is unsafe


SAFE_PART = st.text(st.characters(blacklist_characters="/\\:\x00"), min_size=1).filter(
    lambda p: p != ".."
)


@given(st.lists(SAFE_PART, min_size=1, max_size=5))
def test_relative_names_without_dotdot_are_safe(parts: list[str]) -> None:
    assert not unsafe_member("/".join(parts))
    assert unsafe_member("/".join([*parts, "..", "x"]))


@pytest.mark.parametrize(
    ("text", "method"),
    [
        ("zstd-19", Method("zstd-19", "zstd", 19)),
        ("ZSTD-3", Method("zstd-3", "zstd", 3)),
        ("zstd-19-long", Method("zstd-19-long", "zstd", 19, long=True)),
        ("xz-9", Method("xz-9", "xz", 9)),
        ("xz-9e", Method("xz-9e", "xz", 9)),
    ],
)
def test_parse_method(text: str, method: Method) -> None:
    assert parse_method(text) == method


@pytest.mark.parametrize("text", ["zstd-0", "zstd-23", "xz-10", "gzip-9", "zstd", "xz-9-long", ""])
def test_parse_method_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_method(text)


def test_extreme_xz_is_really_extreme() -> None:
    data = bytes(range(256)) * 2000 + b"tail" * 5000
    sink = CompressedSizes([parse_method("xz-6"), parse_method("xz-6e")])
    sink.write(data)
    sizes = sink.close()
    assert sizes["xz-6"] == len(lzma.compress(data, preset=6))
    assert sizes["xz-6e"] == len(lzma.compress(data, preset=6 | lzma.PRESET_EXTREME))


def test_fanout_counts_every_chunk_across_many_writes() -> None:
    sink = CompressedSizes([parse_method("xz-0")])
    parts = [bytes([i % 251]) * 70_001 for i in range(40)]  # more than a few queue chunks
    for part in parts:
        sink.write(part)
    sizes = sink.close()
    assert sink.raw_bytes == sum(map(len, parts))
    assert sizes["xz-0"] == len(lzma.compress(b"".join(parts), preset=0))


def test_fanout_abort_returns_without_output() -> None:
    sink = CompressedSizes([parse_method("zstd-3"), parse_method("xz-6")])
    sink.write(b"x" * 3_000_000)
    sink.abort()  # must not hang, whatever was queued


@pytest.mark.parametrize(
    ("head", "size", "kind"),
    [
        (b"\x7fELF\x02\x01\x01", 9000, "elf"),
        (b"PK\x03\x04rest", 100, "zip"),
        (b"\x1f\x8b\x08\x00", 100, "gzip"),
        (b"\x28\xb5\x2f\xfd", 100, "zstd"),
        (b"!<arch>\nfoo", 100, "ar"),
        (b"plain text\n", 11, "text"),
        ("naïve café".encode(), 12, "text"),
        ("é".encode()[:1], 100, "text"),  # a character cut at the end of the head
        ("é".encode()[:1], 1, "data"),  # ...but the whole file: not UTF-8
        (b"\x00\x01\x02", 3, "data"),
        (b"", 0, "empty"),
    ],
)
def test_kind_of(head: bytes, size: int, kind: str) -> None:
    assert kind_of(head, size) == kind


def test_section_estimate_counts_bytes_headers_and_names() -> None:
    sections = [
        ("", 0, True),
        (".text", 1000, False),
        (".debug_info", 300, False),
        (".debug_str", 50, False),
        (".zdebug_line", 20, False),
        (".symtab", 200, False),
        (".strtab", 100, False),
        (".bss", 4096, True),
    ]
    linked = section_savings(sections, shentsize=64, linked=True)
    debug = (300 + 64 + 12) + (50 + 64 + 11) + (20 + 64 + 13)
    assert linked == StripSizes(debug, debug + (200 + 64 + 8) + (100 + 64 + 8), SECTIONS)
    # A relocatable object keeps the symbols its relocations need: only debug counted.
    relocatable = section_savings(sections, shentsize=64, linked=False)
    assert relocatable.unneeded == relocatable.debug == debug


def _record(name: str, size: int, sha: str, kind: str = "data", strip: StripSizes | None = None):
    return FileRecord(name, size, sha, kind, strip)


def test_tally_report() -> None:
    tally = Tally(top=2)
    tally.add(_record("a", 100, "h1"))
    tally.add(_record("b", 100, "h1"))
    tally.add(_record("c", 100, "h1"))
    tally.add(_record("big", 1000, "h2", "elf", StripSizes(200, 300, "objcopy")))
    tally.add(_record("odd", 500, "h3", "elf", StripSizes(10, 20, "sections")))
    tally.add(_record("bad-elf", 50, "h4", "elf", None))
    tally.skip("link")
    tally.skip("link")
    report = tally.report([InputInfo("dist", "directory", 1850)], {"zstd-3": 900}, 4096)
    data = report.as_dict()
    assert (data["files"], data["bytes"], data["skipped"]) == (6, 1850, {"link": 2})
    savings = {s["method"]: s for s in data["savings"]}
    assert savings["strip-debug"] == {
        "method": "strip-debug", "bytes_after": 1640, "saved": 210, "saved_percent": 11.35,
        "measured": "objcopy+sections", "files": 2,
    }  # fmt: skip
    assert savings["strip-unneeded"]["saved"] == 320
    assert savings["zstd-3"]["saved"] == 950 and savings["zstd-3"]["measured"] == "compressed"
    assert savings["dedupe"]["saved"] == 200 and savings["dedupe"]["files"] == 2
    assert [f["path"] for f in data["largest"]] == ["big", "odd"]
    assert [e["path"] for e in data["elf"]] == ["big", "odd"]
    assert data["kinds"] == [
        {"kind": "elf", "files": 3, "bytes": 1550, "percent": 83.78},
        {"kind": "data", "files": 3, "bytes": 300, "percent": 16.22},
    ]
    assert data["duplicates"] == [
        {"sha256": "h1", "bytes": 100, "copies": 3, "saved": 200, "paths": ["a", "b", "c"]}
    ]


def test_largest_keeps_the_first_of_equal_sizes() -> None:
    tally = Tally(top=2)
    for name in ("first", "second", "third"):
        tally.add(_record(name, 10, name))
    assert [r.name for r in tally.report([], {}, 0).largest] == ["first", "second"]


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (180_300_000, "180.3 MB"),
     (2_500_000_000, "2.5 GB"), (-4200, "-4.2 kB")],
)  # fmt: skip
def test_size(value: int, text: str) -> None:
    assert size(value) == text


def test_shown_escapes_control_characters_and_undecodable_bytes() -> None:
    assert shown("caf\udce9\tx\n") == "caf\\xe9\\x09x\\x0a"
    assert shown("ünïcode ok") == "ünïcode ok"


@pytest.mark.parametrize("module", [compress, elf, measure])
def test_docstring_examples(module: object) -> None:
    failed, tried = doctest.testmod(module)  # type: ignore[arg-type]
    assert tried > 0 and failed == 0


def _valid_archives() -> dict[str, bytes]:
    import io
    import tarfile
    import zipfile

    import zstandard

    files = {"bin/app": b"\x7fELF" + bytes(range(256)) * 20, "a.txt": b"hello " * 500}
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    plain = tarred.getvalue()
    return {
        "a.zip": zipped.getvalue(),
        "a.tar": plain,
        "a.tar.gz": gzip.compress(plain),
        "a.tar.xz": lzma.compress(plain),
        "a.tar.zst": zstandard.ZstdCompressor().compress(plain),
    }


ARCHIVES = _valid_archives()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(sorted(ARCHIVES)),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=6),
    cut=st.floats(0.05, 1),
)
def test_damaged_archives_raise_input_errors_only(tmp_path, name, edits, cut) -> None:
    """Hostile input must not hurt: any damage is an InputError (one line, exit 1), never
    another exception (exit 3), a hang or a write."""
    data = bytearray(ARCHIVES[name])
    for where, value in edits:
        data[int(where * len(data))] = value
    path = tmp_path / name
    path.write_bytes(bytes(data[: max(1, int(cut * len(data)))]))
    options = Options(methods=(parse_method("zstd-1"),), objcopy=None)
    try:
        inspect_inputs(open_inputs([(path, name)], options.limits), options)
    except InputError as exc:
        assert "\n" not in str(exc) and name in str(exc)
