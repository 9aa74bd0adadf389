"""Tags that name versions: ``v1.2.3``, ``1.2.3``, ``crate-name-v1.2.3``.

A tag pattern is a template with one ``{version}``: ``v{version}`` (the default) or
``pilothouse-core-v{version}``. Reading, a ``v`` just before ``{version}`` is optional, so
``v{version}`` also reads ``1.2.3``; a new tag keeps the form of the previous one.

>>> TagPattern("v{version}").version_of("1.2.3")
Version(major=1, minor=2, patch=3, pre=(), build=())
>>> TagPattern("v{version}").tag_for(Version(2, 0, 0), previous="2.0.0-rc.1")
'2.0.0'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pilothouse.delivery.release.semver import PATTERN, Version

PLACEHOLDER = "{version}"


@dataclass(frozen=True, slots=True)
class TaggedVersion:
    """A tag, the version it names and the commit it points at."""

    tag: str
    version: Version
    commit: str


class TagPattern:
    """Matches tags to versions and makes the tag for a version."""

    def __init__(self, template: str) -> None:
        if template.count(PLACEHOLDER) != 1:
            raise ValueError(f"tag pattern {template!r} must hold {PLACEHOLDER} exactly once")
        self.template = template
        prefix, _, suffix = template.partition(PLACEHOLDER)
        self.prefix, self.suffix = prefix, suffix
        bare = prefix[:-1] if prefix.endswith("v") else prefix
        optional_v = "v?" if prefix.endswith("v") else ""
        self._regex = re.compile(
            f"{re.escape(bare)}{optional_v}(?P<version>{PATTERN}){re.escape(suffix)}"
        )

    def version_of(self, tag: str) -> Version | None:
        """The version *tag* names, or None when it is not one of this pattern's."""
        match = self._regex.fullmatch(tag)
        return Version.parse(match["version"]) if match else None

    def tag_for(self, version: Version, *, previous: str | None = None) -> str:
        """The tag of *version*: without the pattern's ``v`` when *previous* had none."""
        prefix = self.prefix
        if previous is not None and prefix.endswith("v") and self.version_of(previous):
            if not previous.startswith(prefix):
                prefix = prefix[:-1]
        return f"{prefix}{version}{self.suffix}"


def versions(tags: Iterable[tuple[str, str]], pattern: TagPattern) -> list[TaggedVersion]:
    """(tag, commit) pairs that name versions, oldest version first (SemVer precedence;
    build metadata, then the tag's text, break ties so the order is total)."""
    found = [
        TaggedVersion(tag, version, commit)
        for tag, commit in tags
        if (version := pattern.version_of(tag)) is not None
    ]
    return sorted(found, key=lambda t: (t.version.precedence(), t.version.build, t.tag))


def previous_of(
    candidates: list[TaggedVersion], below: Version | None, *, stable: bool = False
) -> TaggedVersion | None:
    """The highest of *candidates* (sorted) below *below* (any, when None); with *stable*
    only releases count, not pre-releases."""
    for tagged in reversed(candidates):
        if stable and tagged.version.prerelease:
            continue
        if below is None or tagged.version < below:
            return tagged
    return None
