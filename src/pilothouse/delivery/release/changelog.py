"""Keep a Changelog files: prepend a section, or rebuild them all, keeping the preamble.

A section starts at a ``## `` line; the text above the first one (title, intro) is kept
as it is. Prepending a section whose heading names the same release as the newest one
(or ``[Unreleased]``) replaces it, so running it twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pilothouse.errors import InputError
from pilothouse.files import write_atomically

PREAMBLE = (
    "# Changelog\n\n"
    "All notable changes to this project are documented in this file.\n"
    "The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),\n"
    "and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).\n"
)
_NAME = re.compile(r"^## (?:\S+ )?\[(?P<name>[^\]]+)\]")
_PACKAGE = re.compile(r"^## (?P<package>[^\[\s]+ )?\[")


def _split(text: str) -> tuple[str, list[str]]:
    """The preamble and the sections (each from its ``## `` line)."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    if not starts:
        return text, []
    bounds = [*starts, len(lines)]
    preamble = "".join(lines[: starts[0]])
    sections = ["".join(lines[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    return preamble, sections


def _key(section: str) -> tuple[str, str] | None:
    name, package = _NAME.match(section), _PACKAGE.match(section)
    if name is None:
        return None
    return (package["package"] or "" if package else "", name["name"])


def _joined(preamble: str, sections: Sequence[str]) -> str:
    head = preamble.rstrip("\n") + "\n\n" if preamble.strip() else ""
    body = "\n".join(section.rstrip("\n") + "\n" for section in sections)
    return head + body


def prepend(existing: str | None, section: str) -> str:
    """*existing* with *section* on top; the newest section of the same release (or the
    same package's Unreleased section) is replaced."""
    preamble, sections = _split(existing if existing is not None else PREAMBLE)
    key = _key(section)
    replaced = [s for s in sections if key is not None and _same(_key(s), key)]
    if sections and sections[0] in replaced:
        sections = sections[1:]
    return _joined(preamble, [section, *sections])


def _same(old: tuple[str, str] | None, new: tuple[str, str]) -> bool:
    return old is not None and old[0] == new[0] and (old[1] == new[1] or old[1] == "Unreleased")


def rebuild(existing: str | None, sections: Sequence[str]) -> str:
    """A changelog of *sections* under *existing*'s preamble."""
    preamble, _old = _split(existing if existing is not None else PREAMBLE)
    return _joined(preamble, sections)


def read(path: Path) -> str | None:
    """The changelog's text, or None when there is none yet."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the changelog: {exc}") from None


def write(path: Path, text: str) -> None:
    """Replace *path* with *text* at once (a temporary file renamed over it)."""
    write_atomically(path, text.encode("utf-8"), what="changelog")
