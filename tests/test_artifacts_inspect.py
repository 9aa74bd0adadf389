"""`pilothouse artifacts inspect` end to end on real inputs: a compiled ELF with debug
info, zips and tars made here, hostile archives, links, pipes; the inputs never change."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import zstandard
from rich.cells import cell_len

from .conftest import DATA, Cli

CC = shutil.which("cc") or shutil.which("gcc")
OBJCOPY = shutil.which("objcopy")
SYSTEM_PATH = os.environ.get("PATH", "")
ELF_DATA = DATA / "elf"
PROGRAM = (ELF_DATA / "hello.c").read_text()


@pytest.fixture
def elf(tmp_path: Path) -> Path:
    """A real ELF with debug info: compiled here when a C compiler exists, else the copy
    built from the same source for the test data (x86-64)."""
    out = tmp_path / "build" / "app"
    out.parent.mkdir()
    if CC:
        source = out.parent / "app.c"
        source.write_text(PROGRAM)
        subprocess.run([CC, "-g", "-O0", "-o", str(out), str(source)], check=True)
        source.unlink()
    else:
        shutil.copyfile(ELF_DATA / "hello-debug", out)
    return out


def _inspect(cli: Cli, *args: str, objcopy: bool = False) -> dict[str, Any]:
    cli.env["PATH"] = SYSTEM_PATH if objcopy else ""
    code, out, err = cli("artifacts", "inspect", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def _saving(report: dict[str, Any], method: str) -> dict[str, Any]:
    return next(s for s in report["savings"] if s["method"] == method)


def _tree_state(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every path under *root* with its content hash (or link target), mode and mtime."""
    state = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        elif stat.S_ISLNK(info.st_mode):
            digest = "link:" + os.readlink(path)
        else:
            digest = "other"
        state[str(path.relative_to(root))] = (digest, info.st_mode, info.st_mtime_ns)
    return state


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("pilothouse: error: ")
    return lines[0]


# -- ELF -------------------------------------------------------------------------------------


@pytest.mark.skipif(not OBJCOPY, reason="needs binutils")
def test_objcopy_measures_what_strip_really_removes(sqlite_cli: Cli, elf: Path, tmp_path: Path):
    expected = {}
    for flag in ("--strip-debug", "--strip-unneeded"):
        out = tmp_path / f"check{flag}"
        subprocess.run(["objcopy", flag, str(elf), str(out)], check=True)
        expected[flag] = elf.stat().st_size - out.stat().st_size
    report = _inspect(sqlite_cli, str(elf), objcopy=True)
    debug, unneeded = _saving(report, "strip-debug"), _saving(report, "strip-unneeded")
    assert debug["measured"] == unneeded["measured"] == "objcopy"
    assert debug["saved"] == expected["--strip-debug"] > 0
    assert unneeded["saved"] == expected["--strip-unneeded"] > debug["saved"]
    assert debug["bytes_after"] == elf.stat().st_size - debug["saved"]
    assert report["elf"][0]["strip_debug_saves"] == debug["saved"]


def test_without_binutils_section_sizes_estimate_the_strip(sqlite_cli: Cli, elf: Path, tmp_path):
    report = _inspect(sqlite_cli, str(elf), objcopy=False)
    debug = _saving(report, "strip-debug")
    assert debug["measured"] == "sections" and debug["files"] == 1
    assert debug["saved"] > 0
    assert _saving(report, "strip-unneeded")["saved"] > debug["saved"]
    if OBJCOPY:  # the estimate is close to the real thing (alignment padding aside)
        out = tmp_path / "stripped"
        subprocess.run(["objcopy", "--strip-debug", str(elf), str(out)], check=True)
        real = elf.stat().st_size - out.stat().st_size
        assert abs(debug["saved"] - real) <= 0.25 * real


def test_sections_estimate_on_the_committed_binary(sqlite_cli: Cli) -> None:
    """Runs on every machine, compiler and binutils or not."""
    report = _inspect(sqlite_cli, str(ELF_DATA / "hello-debug"), objcopy=False)
    debug, unneeded = _saving(report, "strip-debug"), _saving(report, "strip-unneeded")
    assert debug["measured"] == "sections"
    assert 1000 < debug["saved"] < unneeded["saved"] < (ELF_DATA / "hello-debug").stat().st_size


def test_an_elf_is_found_by_its_magic_not_its_name(sqlite_cli: Cli, elf: Path, tmp_path: Path):
    renamed = tmp_path / "data.txt"
    shutil.copyfile(elf, renamed)
    report = _inspect(sqlite_cli, str(renamed))
    assert report["kinds"][0]["kind"] == "elf"
    assert report["largest"][0]["kind"] == "elf"


def test_a_truncated_elf_is_counted_but_not_estimated(sqlite_cli: Cli, elf: Path, tmp_path):
    broken = tmp_path / "broken"
    broken.write_bytes(elf.read_bytes()[:200])
    for objcopy in (False, bool(OBJCOPY)):
        report = _inspect(sqlite_cli, str(broken), objcopy=objcopy)
        assert report["kinds"][0]["kind"] == "elf"
        assert _saving(report, "strip-debug") | {"measured": "?"} == {
            "method": "strip-debug", "bytes_after": 200, "saved": 0, "saved_percent": 0.0,
            "measured": "?", "files": 0,
        }  # fmt: skip


# -- the inputs are only read --------------------------------------------------------------


def test_the_inputs_are_never_modified(sqlite_cli: Cli, elf: Path, tmp_path: Path) -> None:
    root = tmp_path / "artifact"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(elf, root / "bin" / "app")
    (root / "notes.txt").write_text("hello\n" * 1000)
    with zipfile.ZipFile(root / "bundle.zip", "w") as bundle:
        bundle.write(elf, "bin/app")
        bundle.writestr("notes.txt", "hello\n" * 1000)
    (root / "link").symlink_to("notes.txt")
    before = _tree_state(tmp_path)
    for objcopy in (True, False):
        _inspect(sqlite_cli, "artifact", "artifact/bundle.zip", objcopy=objcopy)
    assert _tree_state(tmp_path) == before
    assert not (tmp_path / "store.db").exists()  # a read-only command opens no store


# -- what is measured ----------------------------------------------------------------------


def test_duplicates_in_a_zip_are_what_dedupe_saves(sqlite_cli: Cli, tmp_path: Path) -> None:
    blob, other = os.urandom(50_000), os.urandom(7_000)
    with zipfile.ZipFile(tmp_path / "a.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("lib/one.so", "lib/two.so", "copy/three.so"):
            archive.writestr(name, blob)
        archive.writestr("x/other", other)
        archive.writestr("y/other", other)
        archive.writestr("unique", b"just once")
        archive.writestr("empty-1", b"")
        archive.writestr("empty-2", b"")
        archive.writestr("dir/", b"")
    report = _inspect(sqlite_cli, "a.zip")
    dedupe = _saving(report, "dedupe")
    assert report["files"] == 8
    assert report["bytes"] == 3 * 50_000 + 2 * 7_000 + 9
    assert dedupe["saved"] == 2 * 50_000 + 7_000
    assert dedupe["files"] == 4  # redundant copies, the empty duplicate included
    assert dedupe["bytes_after"] == report["bytes"] - dedupe["saved"]
    top = report["duplicates"][0]
    assert top == {
        "sha256": hashlib.sha256(blob).hexdigest(),
        "bytes": 50_000,
        "copies": 3,
        "saved": 100_000,
        "paths": ["a.zip:lib/one.so", "a.zip:lib/two.so", "a.zip:copy/three.so"],
    }
    assert len(report["duplicates"]) == 2  # the empty files save nothing: not listed
    assert report["stored_bytes"] == (tmp_path / "a.zip").stat().st_size


def test_compression_is_measured_for_real(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "noise").write_bytes(os.urandom(1_000_000))
    (tmp_path / "zeros").write_bytes(bytes(1_000_000))
    noise = _inspect(sqlite_cli, "noise")
    zeros = _inspect(sqlite_cli, "zeros")
    for method in ("zstd-19", "zstd-3", "xz-9", "xz-6"):
        assert _saving(noise, method)["bytes_after"] >= 1_000_000  # random data: no gain
        assert _saving(zeros, method)["bytes_after"] < 2_000
        assert _saving(zeros, method)["saved_percent"] > 99.5
    tar = 512 + 1_000_000 + 448 + 1024  # header, data, padding, end of archive
    assert noise["tar_bytes"] == -(-tar // tarfile.RECORDSIZE) * tarfile.RECORDSIZE


def test_zstd_figure_matches_the_zstandard_library_on_the_same_tar(sqlite_cli, tmp_path):
    """The same bytes compressed by hand give the same size: the figure is the real one."""
    data = b"".join(b"line %d of a log file\n" % i for i in range(50_000))
    (tmp_path / "log.txt").write_bytes(data)
    report = _inspect(sqlite_cli, "log.txt", "--compression", "zstd-19", "--compression", "xz-6")
    stream = io.BytesIO()
    with tarfile.TarFile(fileobj=stream, mode="w") as tar:
        info = tarfile.TarInfo("log.txt")
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        tar.addfile(info, io.BytesIO(data))
    raw = stream.getvalue()
    assert report["tar_bytes"] == len(raw)
    by_hand = len(zstandard.ZstdCompressor(level=19).compress(raw))
    assert abs(_saving(report, "zstd-19")["bytes_after"] - by_hand) <= 64  # frame header only
    import lzma

    assert _saving(report, "xz-6")["bytes_after"] == len(lzma.compress(raw, preset=6))
    assert [s["method"] for s in report["savings"]] == [
        "strip-debug", "strip-unneeded", "zstd-19", "xz-6", "dedupe"
    ]  # fmt: skip


def test_long_adds_a_zstd_long_window_and_none_skips_compression(sqlite_cli: Cli, tmp_path):
    (tmp_path / "f").write_bytes(b"abc" * 1000)
    methods = [s["method"] for s in _inspect(sqlite_cli, "f", "--compression", "zstd-3",
                                             "--long")["savings"]]  # fmt: skip
    assert "zstd-3" in methods and "zstd-3-long" in methods
    methods = [s["method"] for s in _inspect(sqlite_cli, "f", "--compression", "none")["savings"]]
    assert methods == ["strip-debug", "strip-unneeded", "dedupe"]


def test_a_bad_compression_method_is_a_usage_error(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    code, _, err = sqlite_cli("artifacts", "inspect", "f", "--compression", "brotli-11")
    assert code == 2 and "brotli-11" in err


def test_empty_directory(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    report = _inspect(sqlite_cli, "empty")
    assert (report["files"], report["bytes"], report["largest"], report["duplicates"]) == (
        0, 0, [], []
    )  # fmt: skip
    for saving in report["savings"]:
        assert saving["saved_percent"] == 0.0
    code, out, _ = sqlite_cli("artifacts", "inspect", "empty")
    assert code == 0 and out.strip() == "empty: 0 files, 0 B"


def test_kinds_and_nested_archives(sqlite_cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "dist"
    root.mkdir()
    with zipfile.ZipFile(root / "inner.whl", "w") as inner:
        inner.writestr("m.py", "print(1)\n")
    (root / "readme.md").write_text("# hello\n")
    (root / "blob.gz").write_bytes(b"\x1f\x8b\x08" + os.urandom(100))
    (root / "zero-length").write_bytes(b"")
    kinds = {k["kind"]: k["files"] for k in _inspect(sqlite_cli, "dist")["kinds"]}
    # An archive inside a directory is one file of the artifact, not opened.
    assert kinds == {"zip": 1, "text": 1, "gzip": 1, "empty": 1}


# -- archives --------------------------------------------------------------------------------


def _tree(root: Path, elf: Path) -> None:
    (root / "bin").mkdir(parents=True)
    shutil.copyfile(elf, root / "bin" / "app")
    shutil.copyfile(elf, root / "bin" / "app-again")
    (root / "share").mkdir()
    (root / "share" / "data.txt").write_text("some data\n" * 5000)


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst"])
def test_tar_archives_read_like_the_directory(sqlite_cli: Cli, elf, tmp_path, suffix) -> None:
    root = tmp_path / "tree"
    _tree(root, elf)
    archive = tmp_path / f"tree{suffix}"
    if suffix == ".tar.zst":
        plain = io.BytesIO()
        with tarfile.open(fileobj=plain, mode="w") as tar:
            tar.add(root, arcname=".")
        archive.write_bytes(zstandard.ZstdCompressor().compress(plain.getvalue()))
    else:
        mode = {".tar": "w", ".tgz": "w:gz"}.get(suffix, f"w:{suffix.rsplit('.', 1)[1]}")
        with tarfile.open(archive, mode) as tar:  # type: ignore[call-overload]
            tar.add(root, arcname=".")
    from_dir = _inspect(sqlite_cli, "tree")
    from_tar = _inspect(sqlite_cli, archive.name)
    for key in ("files", "bytes"):
        assert from_tar[key] == from_dir[key]
    for method in ("dedupe", "strip-debug"):
        assert _saving(from_tar, method)["saved"] == _saving(from_dir, method)["saved"]
    assert {f["path"] for f in from_tar["largest"]} == {
        f"{archive.name}:bin/app", f"{archive.name}:bin/app-again", f"{archive.name}:share/data.txt"
    }  # fmt: skip
    assert from_tar["inputs"] == [
        {"path": archive.name, "kind": "tar", "stored_bytes": archive.stat().st_size}
    ]


def _zip_with(path: Path, *names: str) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fine.txt", "ok")
        for name in names:
            archive.writestr(zipfile.ZipInfo(name), "payload")


@pytest.mark.parametrize("member", ["../evil.txt", "a/../../evil.txt", "/etc/evil", "C:\\evil.txt",
                                    "..\\evil.txt"])  # fmt: skip
def test_zip_members_escaping_the_archive_are_refused(sqlite_cli: Cli, tmp_path, member) -> None:
    _zip_with(tmp_path / "slip.zip", member)
    code, out, err = sqlite_cli("artifacts", "inspect", "slip.zip")
    line = _one_error_line(err)
    assert code == 1 and out == ""
    assert "slip.zip" in line and "absolute path or '..'" in line


def test_tar_members_escaping_the_archive_are_refused(sqlite_cli: Cli, tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "slip.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("../../outside")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    code, _, err = sqlite_cli("artifacts", "inspect", "slip.tar.gz")
    assert code == 1 and "'../../outside'" in _one_error_line(err)


def test_a_zip_bomb_is_refused_before_it_is_read(sqlite_cli: Cli, tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("huge.bin", "w") as member:
            chunk = bytes(1024 * 1024)
            for _ in range(64):
                member.write(chunk)
    assert (tmp_path / "bomb.zip").stat().st_size < 200_000
    code, out, err = sqlite_cli("artifacts", "inspect", "bomb.zip")
    line = _one_error_line(err)
    assert code == 1 and out == ""
    assert "bomb.zip" in line and "zip bomb" in line and "--max-ratio" in line
    # The user can lift the limit on purpose, and then it is measured.
    report = _inspect(sqlite_cli, "bomb.zip", "--max-ratio", "100000", "--compression", "zstd-3")
    assert report["bytes"] == 64 * 1024 * 1024


def test_an_archive_over_max_bytes_is_refused(sqlite_cli: Cli, tmp_path: Path) -> None:
    _zip_with(tmp_path / "big.zip", "a.txt")
    (tmp_path / "big.tar").write_bytes(b"")
    with tarfile.open(tmp_path / "big.tar", "w") as tar:
        tar.add(tmp_path / "big.zip", arcname="big.zip")
    for name in ("big.zip", "big.tar"):
        code, _, err = sqlite_cli("artifacts", "inspect", name, "--max-bytes", "5")
        assert code == 1 and "more than 5 bytes" in _one_error_line(err) and name in err


def test_an_encrypted_zip_member_is_refused(sqlite_cli: Cli, tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "locked.zip", "w") as archive:
        archive.writestr("secret.txt", "not really encrypted")
    raw = bytearray((tmp_path / "locked.zip").read_bytes())
    # zipfile cannot write encrypted members: set the flag in both headers by hand.
    raw[raw.index(b"PK\x03\x04") + 6] |= 0x1
    raw[raw.index(b"PK\x01\x02") + 8] |= 0x1
    (tmp_path / "locked.zip").write_bytes(bytes(raw))
    code, _, err = sqlite_cli("artifacts", "inspect", "locked.zip")
    assert code == 1 and "'secret.txt' is encrypted" in _one_error_line(err)


def test_a_damaged_zip_member_is_named(sqlite_cli: Cli, tmp_path: Path) -> None:
    payload = b"important bytes " * 100
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        archive.writestr("good.txt", "fine")
        archive.writestr("bad.txt", payload)
    raw = bytearray((tmp_path / "bad.zip").read_bytes())
    at = raw.index(payload)
    raw[at : at + 9] = b"corrupted"  # stored data no longer matches its CRC
    (tmp_path / "bad.zip").write_bytes(bytes(raw))
    code, _, err = sqlite_cli("artifacts", "inspect", "bad.zip")
    assert code == 1 and "bad.zip:bad.txt: cannot read" in _one_error_line(err)


@pytest.mark.parametrize("name", ["trunc.zip", "trunc.tar.gz", "trunc.tar.zst"])
def test_a_truncated_archive_is_one_line(sqlite_cli: Cli, tmp_path: Path, name: str) -> None:
    whole = io.BytesIO()
    if name.endswith(".zip"):
        with zipfile.ZipFile(whole, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("f.bin", os.urandom(20_000))
    else:
        with tarfile.open(fileobj=whole, mode="w:gz" if name.endswith("gz") else "w") as tar:
            info = tarfile.TarInfo("f.bin")
            info.size = 20_000
            tar.addfile(info, io.BytesIO(os.urandom(20_000)))
        if name.endswith(".zst"):
            whole = io.BytesIO(zstandard.ZstdCompressor().compress(whole.getvalue()))
    (tmp_path / name).write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    code, out, err = sqlite_cli("artifacts", "inspect", name)
    assert code == 1 and out == "" and name in _one_error_line(err)


def test_a_file_that_only_looks_like_a_tar_is_one_line(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "not.tar.gz").write_text("plain text, not gzip")
    code, _, err = sqlite_cli("artifacts", "inspect", "not.tar.gz")
    assert code == 1 and "not.tar.gz: not a readable tar archive" in _one_error_line(err)


# -- paths, links and special files ----------------------------------------------------------


def test_a_missing_path_is_one_line_and_exit_1(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "here").write_text("x")
    code, out, err = sqlite_cli("artifacts", "inspect", "here", "nowhere/dist")
    assert code == 1 and out == ""
    assert _one_error_line(err) == "pilothouse: error: nowhere/dist: no such file or directory"


def test_links_are_followed_only_inside_the_input(sqlite_cli: Cli, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("not part of the artifact\n")
    root = tmp_path / "dist"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "libx.so.1").write_bytes(b"library bytes" * 100)
    (root / "lib" / "libx.so").symlink_to("libx.so.1")  # inside: followed
    (root / "escape").symlink_to(outside)  # outside: skipped
    (root / "loop").symlink_to(root)  # a directory: never walked into
    (root / "dangling").symlink_to(root / "gone")
    os.mkfifo(root / "pipe")  # read would block: skipped, never opened
    report = _inspect(sqlite_cli, "dist")
    paths = sorted(f["path"] for f in report["largest"])
    assert paths == ["dist/lib/libx.so", "dist/lib/libx.so.1"]
    assert report["skipped"] == {
        "broken link": 1, "link out of the input": 1, "link to a directory": 1,
        "not a regular file": 1,
    }  # fmt: skip
    assert _saving(report, "dedupe")["saved"] == 1300


def test_a_pipe_given_as_input_is_refused_without_blocking(sqlite_cli: Cli, tmp_path) -> None:
    os.mkfifo(tmp_path / "pipe")
    code, _, err = sqlite_cli("artifacts", "inspect", "pipe")
    assert code == 1 and "pipe: not a regular file or directory" in _one_error_line(err)


def test_an_unreadable_file_is_named(sqlite_cli: Cli, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    (tmp_path / "dist").mkdir()
    locked = tmp_path / "dist" / "locked"
    locked.write_text("x")
    locked.chmod(0)
    code, _, err = sqlite_cli("artifacts", "inspect", "dist")
    assert code == 1 and "dist/locked: cannot read" in _one_error_line(err)


def test_a_name_that_is_not_utf8_is_shown_with_its_bytes(sqlite_cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "dist"
    root.mkdir()
    with open(os.path.join(os.fsencode(root), b"caf\xe9\n.bin"), "wb") as out:
        out.write(b"x" * 10)
    report = _inspect(sqlite_cli, "dist")
    assert report["largest"][0]["path"] == "dist/caf\\xe9\\x0a.bin"


# -- output ----------------------------------------------------------------------------------


def test_json_shape(sqlite_cli: Cli, elf: Path) -> None:
    report = _inspect(sqlite_cli, str(elf), objcopy=True)
    assert list(report) == [
        "inputs", "files", "bytes", "stored_bytes", "tar_bytes", "skipped", "savings",
        "largest", "elf", "kinds", "duplicates",
    ]  # fmt: skip
    assert [s["method"] for s in report["savings"]] == [
        "strip-debug", "strip-unneeded", "zstd-19", "zstd-3", "xz-9", "xz-6", "dedupe"
    ]  # fmt: skip
    for saving in report["savings"]:
        assert saving["saved"] == report["bytes"] - saving["bytes_after"]
        assert saving["saved_percent"] == round(100 * saving["saved"] / report["bytes"], 2)
    assert set(report["largest"][0]) == {"path", "kind", "bytes", "percent", "sha256"}
    assert set(report["elf"][0]) == {
        "path", "bytes", "strip_debug_saves", "strip_unneeded_saves", "measured"
    }  # fmt: skip


@pytest.mark.parametrize("columns", ["60", "100"])
def test_table_fits_the_width(sqlite_cli: Cli, elf: Path, tmp_path: Path, columns: str) -> None:
    root = tmp_path / "a-rather-long-directory-name" / "with-nested-folders"
    (root / "bin").mkdir(parents=True)
    for name in ("first-binary-with-a-long-name", "second-binary-with-a-long-name"):
        shutil.copyfile(elf, root / "bin" / name)
    sqlite_cli.env.update({"COLUMNS": columns, "PATH": SYSTEM_PATH})
    code, out, err = sqlite_cli("artifacts", "inspect", str(root.relative_to(tmp_path)))
    assert code == 0, err
    assert all(cell_len(line) <= int(columns) for line in out.splitlines()), out
    for title in ("Savings, each alone", "Largest of 2 files", "By kind", "ELF binaries",
                  "Duplicate files"):  # fmt: skip
        assert title in out
    squeezed = out.replace("\n", "").replace("│", "").replace(" ", "")
    assert "first-binary-with-a-long-name" in squeezed
    assert err == ""  # no progress bar when stderr is not a terminal


def test_progress_goes_to_stderr_only_on_a_terminal(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(os.urandom(100_000))
    sqlite_cli.env["TTY_COMPATIBLE"] = "1"
    code, out, err = sqlite_cli("artifacts", "inspect", "f", "--compression", "zstd-3")
    assert code == 0 and "inspecting" in err and "inspecting" not in out
    code, out, err = sqlite_cli("artifacts", "inspect", "f", "--compression", "zstd-3", "--json")
    assert code == 0 and err == ""  # JSON is for machines: no progress
    json.loads(out)


def test_a_compressed_input_is_compared_with_its_stored_size(sqlite_cli: Cli, tmp_path) -> None:
    with zipfile.ZipFile(tmp_path / "logs.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.log", b"".join(b"request %d served\n" % i for i in range(20_000)))
    sqlite_cli.env["COLUMNS"] = "120"
    code, out, err = sqlite_cli("artifacts", "inspect", "logs.zip", "--compression", "xz-6")
    assert code == 0, err
    stored = (tmp_path / "logs.zip").stat().st_size
    assert f"As given the inputs take {stored / 1000:.1f} kB; xz-6 would make them" in out
    assert "1 redundant copy" not in out and "(0 redundant copies)" in out


def test_a_huge_tar_extended_header_is_refused_before_it_is_held(sqlite_cli, tmp_path) -> None:
    """tarfile reads a pax header whole into memory: 20 MB of one compress to little."""
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("f")
        info.size = 1
        info.pax_headers = {"comment": "a" * 20_000_000}
        tar.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "pax.tar.gz").write_bytes(stream.getvalue())
    assert len(stream.getvalue()) < 200_000
    code, _, err = sqlite_cli("artifacts", "inspect", "pax.tar.gz")
    line = _one_error_line(err)
    assert code == 1 and "pax.tar.gz: not a readable tar archive" in line
    assert "extended header" in line


def test_a_zip_member_shorter_than_declared_is_named(sqlite_cli: Cli, tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "short.zip", "w") as archive:  # stored, not deflated
        archive.writestr("data.bin", b"0123456789" * 100)
    raw = bytearray((tmp_path / "short.zip").read_bytes())
    central = raw.index(b"PK\x01\x02")
    # Declare 2,000 bytes in the central directory, which zipfile trusts.
    raw[central + 24 : central + 28] = (2000).to_bytes(4, "little")
    (tmp_path / "short.zip").write_bytes(bytes(raw))
    code, _, err = sqlite_cli("artifacts", "inspect", "short.zip")
    line = _one_error_line(err)
    assert code == 1 and "short.zip:data.bin" in line


@pytest.mark.skipif(not OBJCOPY, reason="needs binutils")
def test_copies_of_one_binary_are_stripped_once(sqlite_cli: Cli, elf: Path, tmp_path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    log = tmp_path / "objcopy.log"
    wrapper = tools / "objcopy"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> {log}\nexec {OBJCOPY} "$@"\n')
    wrapper.chmod(0o755)
    root = tmp_path / "dist"
    root.mkdir()
    for name in ("a", "b", "c"):
        shutil.copyfile(elf, root / name)
    sqlite_cli.env["PATH"] = str(tools)
    code, out, err = sqlite_cli("artifacts", "inspect", "dist", "--compression", "none", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert log.read_text().split() == ["--strip-debug", "--strip-unneeded"]
    assert _saving(report, "strip-debug")["files"] == 3
    assert _saving(report, "strip-debug")["saved"] == 3 * report["elf"][0]["strip_debug_saves"]
