"""The one error hierarchy of pilothouse; each kind carries its exit code.

Exit codes: 0 success, 1 user error (bad input, bad configuration, unreachable
resource), 2 usage error (bad flags, from Typer/Click), 3 internal error (a bug),
130 interrupted.
"""

from __future__ import annotations

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


class StoreMissing(StoreError):
    """A reading command found no store (no file, or a database without its tables)."""
