"""The one way pilothouse writes an output file the user named."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pilothouse.errors import InputError


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644, what: str = "") -> None:
    """Write *data* to *path* through a temporary file in its folder renamed over it, so a
    reader (a textfile collector, a browser) sees the old file or the new one, never half
    of one. A path that exists and is not a regular file (/dev/stdout, a FIFO, a device)
    is written through instead, never replaced by a file. An error names *path* (and
    *what* it is: "the report") in one line."""
    label = f"cannot write the {what}" if what else "cannot write"
    if path.exists() and not path.is_file():
        try:
            with path.open("wb") as through:
                through.write(data)
        except OSError as exc:
            raise InputError(f"{path}: {label}: {exc.strerror or exc}") from None
        return
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise InputError(f"{path}: {label}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(descriptor, "wb") as stream:
            os.fchmod(stream.fileno(), mode)  # mkstemp makes it 0600
            stream.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise InputError(f"{path}: {label}: {exc.strerror or exc}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
