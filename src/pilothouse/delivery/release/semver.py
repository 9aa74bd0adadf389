"""Semantic Versioning 2.0.0: parsing, formatting, precedence and increments.

>>> Version.parse("1.0.0-alpha.1") < Version.parse("1.0.0-alpha.beta") < Version.parse("1.0.0")
True
>>> str(Version.parse("v1.2.3+build.7".removeprefix("v")).bump("minor"))
'1.3.0'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Level = Literal["major", "minor", "patch", "none"]
LEVELS: tuple[Level, ...] = ("none", "patch", "minor", "major")

# The regular expression the SemVer 2.0.0 text itself recommends (named groups).
_SEMVER = re.compile(
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
PATTERN = _SEMVER.pattern


def level_rank(level: Level) -> int:
    """0 for none up to 3 for major: levels compare by this."""
    return LEVELS.index(level)


def highest(levels: list[Level]) -> Level:
    """The largest of *levels* ("none" for none)."""
    return max(levels, key=level_rank, default="none")


def _identifier(text: str) -> int | str:
    return int(text) if text.isdigit() else text


@dataclass(frozen=True, slots=True)
class Version:
    """A SemVer 2.0.0 version. Equality is textual; use `precedence()` (or <, >) to order:
    build metadata never affects precedence (spec item 10)."""

    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()
    build: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse a strict SemVer string (no leading ``v``); ValueError when it is not one."""
        match = _SEMVER.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not a SemVer 2.0.0 version (MAJOR.MINOR.PATCH)")
        pre, build = match["pre"], match["build"]
        return cls(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            tuple(_identifier(part) for part in pre.split(".")) if pre else (),
            tuple(build.split(".")) if build else (),
        )

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(str(part) for part in self.pre)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    @property
    def core(self) -> Version:
        """MAJOR.MINOR.PATCH alone."""
        return Version(self.major, self.minor, self.patch)

    @property
    def prerelease(self) -> bool:
        return bool(self.pre)

    def precedence(self) -> tuple[object, ...]:
        """A sort key that orders versions exactly as SemVer §11 does."""
        pre = tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def __lt__(self, other: Version) -> bool:
        return self.precedence() < other.precedence()

    def __le__(self, other: Version) -> bool:
        return self.precedence() <= other.precedence()

    def __gt__(self, other: Version) -> bool:
        return self.precedence() > other.precedence()

    def __ge__(self, other: Version) -> bool:
        return self.precedence() >= other.precedence()

    def bump(self, level: Level) -> Version:
        """The next release at *level*; from a pre-release, the release it leads to when
        that is already big enough (``1.3.0-rc.1`` + minor = ``1.3.0``), as node-semver."""
        if level == "none":
            return self
        if self.pre and self._pre_covers(level):
            return self.core
        if level == "major":
            return Version(self.major + 1, 0, 0)
        if level == "minor":
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)

    def _pre_covers(self, level: Level) -> bool:
        if level == "major":
            return self.minor == 0 and self.patch == 0
        if level == "minor":
            return self.patch == 0
        return True

    def with_pre(self, label: str, previous: Version | None) -> Version:
        """This release as pre-release *label*: ``label.1``, or the next number after
        *previous* when that is a pre-release of the same release and label."""
        number = 1
        if previous is not None and previous.core == self.core and previous.pre:
            if previous.pre[0] == label and isinstance(previous.pre[-1], int):
                number = previous.pre[-1] + 1
        return Version(self.major, self.minor, self.patch, (label, number))


def compare(a: Version, b: Version) -> int:
    """-1, 0 or 1 by precedence (0 for versions that differ only in build metadata)."""
    return (a.precedence() > b.precedence()) - (a.precedence() < b.precedence())


def check_label(label: str) -> str:
    """A pre-release label (``rc``, ``beta``): one alphanumeric SemVer identifier."""
    if not re.fullmatch(r"[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*", label):
        raise ValueError(f"{label!r} is not a pre-release label (letters, digits, '-')")
    return label
