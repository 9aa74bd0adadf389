"""pilothouse.files.write_atomically: the one writer of the files users name
(`report --html`, `metrics --output`, `release changelog`, `provenance`)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from pilothouse.errors import InputError
from pilothouse.files import write_atomically


def test_a_regular_file_is_replaced_whole_with_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    write_atomically(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary left


def test_a_fifo_is_written_through_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomically(fifo, b"through the pipe")
    reader.join(timeout=10)
    assert got == [b"through the pipe"] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_an_unwritable_folder_is_one_line_naming_the_file(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "report.html"
    with pytest.raises(InputError, match=rf"^{target}: cannot write the report: No such file"):
        write_atomically(target, b"x", what="report")
