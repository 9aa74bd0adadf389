"""A Cargo workspace: one version per crate, dependants bumped with their dependencies.

Members come from the root ``Cargo.toml`` (``[workspace] members`` globs, less
``exclude``) at the commit being released; each crate's tags are ``NAME-v{version}``
and its commits those touching its directory. As release-please's cargo-workspace
plugin does, a crate that depends (by path) on a crate being released gets at least a
patch release, transitively.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pilothouse.delivery.release.git import GitError, Repository
from pilothouse.delivery.release.history import Plan, Request, plan
from pilothouse.delivery.release.policy import Next, next_version
from pilothouse.delivery.release.semver import Version
from pilothouse.delivery.release.tags import TagPattern

_DEPENDENCY_TABLES = ("dependencies", "dev-dependencies", "build-dependencies")


@dataclass(frozen=True, slots=True)
class Crate:
    """A workspace member: name, directory, manifest version, path dependencies."""

    name: str
    directory: str
    version: str | None
    depends_on: tuple[str, ...]  # directories of members it depends on


def _toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GitError(f"{where}: invalid TOML: {exc}") from None


def _normal(path: str) -> str:
    parts: list[str] = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == ".." and parts:
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def member_directories(root: Mapping[str, Any], files: Sequence[str]) -> list[str]:
    """Directories of the members *root* (the root manifest) names, among *files*."""
    workspace = root.get("workspace") or {}
    patterns = [_normal(m) for m in workspace.get("members", [])]
    excluded = {_normal(e) for e in workspace.get("exclude", [])}
    manifests = sorted(f.removesuffix("/Cargo.toml") for f in files if f.endswith("/Cargo.toml"))
    return [
        d
        for d in manifests
        if d not in excluded and any(fnmatch.fnmatchcase(d, p) for p in patterns)
    ]


def crate_of(directory: str, manifest: Mapping[str, Any], root: Mapping[str, Any]) -> Crate:
    """The crate a member manifest describes (``version.workspace = true`` resolved)."""
    package = manifest.get("package") or {}
    version = package.get("version")
    if isinstance(version, dict) and version.get("workspace"):
        version = ((root.get("workspace") or {}).get("package") or {}).get("version")
    shared = (root.get("workspace") or {}).get("dependencies") or {}
    paths = []
    for table in _DEPENDENCY_TABLES:
        for name, spec in (manifest.get(table) or {}).items():
            if isinstance(spec, dict) and spec.get("workspace"):
                spec = shared.get(name)
                base = ""
            else:
                base = directory
            if isinstance(spec, dict) and "path" in spec:
                paths.append(_normal(f"{base}/{spec['path']}" if base else spec["path"]))
    name = package.get("name") or directory.rsplit("/", 1)[-1]
    return Crate(str(name), directory, str(version) if version else None, tuple(paths))


def read_crates(repo: Repository, commit: str) -> list[Crate]:
    """The workspace's crates at *commit*."""
    text = repo.show(commit, "Cargo.toml")
    if text is None:
        raise GitError(f"{repo.path}: no Cargo.toml at the repository's root (--workspace)")
    root = _toml(text, f"{repo.path}/Cargo.toml")
    if "workspace" not in root:
        raise GitError(f"{repo.path}/Cargo.toml: no [workspace] table (--workspace)")
    crates = []
    for directory in member_directories(root, repo.files(commit)):
        manifest = _toml(repo.show(commit, f"{directory}/Cargo.toml") or "", directory)
        crates.append(crate_of(directory, manifest, root))
    return crates


def _crate_request(request: Request, crate: Crate) -> Request:
    policy = request.options.policy
    if crate.version:
        try:  # before its first tag, a crate starts from its manifest's version
            policy = replace(policy, initial_version=Version.parse(crate.version))
        except ValueError:
            pass
    return replace(
        request,
        paths=(crate.directory,),
        pattern=TagPattern(f"{crate.name}-v{{version}}"),
        options=replace(request.options, policy=policy),
        package=crate.name,
    )


def dependants_bumped(crates: Sequence[Crate], released: set[str]) -> dict[str, list[str]]:
    """Crates (by name) released only because a dependency is, with those dependencies,
    to a fixed point: a dependant's own release reaches its dependants in turn."""
    by_dir = {c.directory: c for c in crates}
    releasing = set(released)
    extra: dict[str, list[str]] = {}
    changed = True
    while changed:
        changed = False
        for crate in crates:
            deps = sorted(by_dir[d].name for d in crate.depends_on if d in by_dir)
            moving = [d for d in deps if d in releasing]
            if moving and crate.name not in releasing:
                releasing.add(crate.name)
                extra[crate.name] = moving
                changed = True
            elif crate.name in extra:
                extra[crate.name] = moving
    return extra


def _with_dependencies(found: Plan, request: Request, dependencies: list[str]) -> Plan:
    """*found* released as at least a patch because *dependencies* are."""
    current = found.current.version if found.current else None
    policy = request.options.policy
    nxt = next_version(current, ["patch"], policy, pre=request.pre)
    version = nxt.version
    assert version is not None  # a patch always gives one
    previous = found.current.tag if found.current else None
    tag = request.pattern.tag_for(version, previous=previous)
    release = replace(
        found.release,
        version=tag,
        name=str(version),
        bump=nxt.level,
        dependencies=tuple(dependencies),
    )
    return Plan(release, found.current, Next(version, nxt.level), found.because)


def plan_workspace(repo: Repository, request: Request) -> list[Plan]:
    """One plan per crate of the workspace, in the manifest's member order."""
    crates = read_crates(repo, repo.resolve(request.to))
    if not crates:
        raise GitError(f"{repo.path}/Cargo.toml: the workspace has no members")
    requests = {c.name: _crate_request(request, c) for c in crates}
    plans = {name: plan(repo, each) for name, each in requests.items()}
    released = {n for n, p in plans.items() if p.release.version is not None}
    for name, deps in dependants_bumped(crates, released).items():
        plans[name] = _with_dependencies(plans[name], requests[name], deps)
    return [plans[c.name] for c in crates]
