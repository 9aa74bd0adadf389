"""The one error hierarchy of pilothouse; each kind carries its exit code.

Exit codes: 0 success, 1 user error (bad input, bad configuration, unreachable
resource), 2 usage error (bad flags, from Typer/Click), 3 internal error (a bug),
130 interrupted.
"""

from __future__ import annotations

import re

EXIT_OK = 0
EXIT_USER = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


class PilothouseError(Exception):
    """An error the user can act on: printed as one line, exit code 1."""

    exit_code = EXIT_USER

    def lines(self) -> list[str]:
        """What to print, one line each (one, unless several inputs are at fault)."""
        return [str(self)]


class ConfigError(PilothouseError):
    """pilothouse.toml, an environment variable or a flag holds a bad setting."""


class InputError(PilothouseError):
    """An input file (report, export) is unreadable or not what it claims to be."""


class InvalidInputs(InputError):
    """Several input files are bad: each is named on its own line, then a summary."""

    def __init__(self, problems: list[str], summary: str) -> None:
        super().__init__(summary)
        self.problems = problems

    def lines(self) -> list[str]:
        return [*self.problems, str(self)]


class StoreError(PilothouseError):
    """The store cannot be opened, migrated or written."""


class StoreConflict(StoreError):
    """PostgreSQL rolled a write back to break a deadlock or a serialization
    conflict with a concurrent writer: the same write, run again, can succeed."""


class StoreMissing(StoreError):
    """A reading command found no store (no file, or a database without its tables)."""


# Python decodes the bytes of a non-UTF-8 file name to U+DC80..U+DCFF (surrogateescape).
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def printable(text: str) -> str:
    """*text* on one line, the bytes of a non-UTF-8 file name shown as ``\\xNN``
    (as ``ls -b`` does) instead of lone surrogates no terminal can show."""
    shown = _ESCAPED_BYTE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)
    return " ".join(shown.split())
