"""Which commits bump what, and the next version.

Defaults follow the specs: breaking -> major, ``feat`` -> minor, ``fix`` -> patch, other
types nothing (``patch_types``/``minor_types`` add more). Below 1.0.0 the peers differ, so
both choices are settings (README "Release notes" maps them to the peers' names):

- ``breaking_on_zero``: "major" (0.4.2 -> 1.0.0: git-cliff ``breaking_always_bump_major``,
  release-please's and commitizen's default) or "minor" (0.4.2 -> 0.5.0).
- ``feat_on_zero``: "minor" (0.4.2 -> 0.5.0) or "patch" (0.4.2 -> 0.4.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pilothouse.delivery.release.commits import Message
from pilothouse.delivery.release.semver import Level, Version, check_label, highest

ZERO_BREAKING = ("major", "minor")
ZERO_FEAT = ("minor", "patch")


@dataclass(frozen=True, slots=True)
class Policy:
    """The bump rules (the ``[release]`` settings)."""

    minor_types: tuple[str, ...] = ("feat",)
    patch_types: tuple[str, ...] = ("fix",)
    breaking_on_zero: str = "major"
    feat_on_zero: str = "minor"
    initial_version: Version = Version(0, 1, 0)

    @classmethod
    def from_config(cls, values: Mapping[str, Any]) -> Policy:
        """From resolved settings (``release.*`` keys)."""
        return cls(
            minor_types=tuple(t.lower() for t in values["release.minor_types"]),
            patch_types=tuple(t.lower() for t in values["release.patch_types"]),
            breaking_on_zero=values["release.breaking_on_zero"],
            feat_on_zero=values["release.feat_on_zero"],
            initial_version=Version.parse(values["release.initial_version"]),
        )


def commit_level(message: Message, policy: Policy) -> Level:
    """What one commit asks for; a non-conventional commit never bumps."""
    if not message.conventional:
        return "none"
    if message.breaking:
        return "major"
    if message.type in policy.minor_types:
        return "minor"
    if message.type in policy.patch_types:
        return "patch"
    return "none"


def on_zero(level: Level, current: Version, policy: Policy) -> Level:
    """*level* as the 0.x policy turns it for *current* (unchanged from 1.0.0 on)."""
    if current.major != 0:
        return level
    if level == "major" and policy.breaking_on_zero == "minor":
        return "minor"
    if level == "minor" and policy.feat_on_zero == "patch":
        return "patch"
    return level


@dataclass(frozen=True, slots=True)
class Next:
    """The next version and why: the level the commits ask for (after the 0.x policy)."""

    version: Version | None  # None: nothing to release
    level: Level
    forced: bool = False


def next_version(
    current: Version | None,
    levels: Iterable[Level],
    policy: Policy,
    *,
    pre: str | None = None,
    release_as: str | None = None,
) -> Next:
    """The version after *current* (None: no release yet) given the commits' levels.

    The first release is ``policy.initial_version``; ``Release-As`` wins over everything;
    *pre* makes it a pre-release (``1.3.0-rc.1``, then ``rc.2`` after ``1.3.0-rc.1``).
    """
    level = highest(list(levels))
    if release_as is not None:
        return Next(Version.parse(release_as.removeprefix("v")), level, forced=True)
    if current is None:
        target = policy.initial_version
        return Next(target.with_pre(check_label(pre), None) if pre else target, level)
    if level == "none" and current.prerelease and not pre:
        return Next(current.core, "none")  # a pre-release graduates as it is
    if level == "none":
        return Next(None, "none")
    level = on_zero(level, current, policy)
    target = current.bump(level)
    if pre:
        return Next(target.with_pre(check_label(pre), current), level)
    return Next(target, level)
