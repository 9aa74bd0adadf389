"""Release notes as Keep a Changelog markdown, or through a Jinja2 template.

Both render the JSON of `notes.release_json`, so a template sees exactly what
``--format json`` prints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pilothouse.delivery.release.notes import BREAKING_GROUP, GROUP_ORDER

UNRELEASED = "Unreleased"
_PR_SUFFIX = re.compile(r"\s*\(#(\d+)\)")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def escape(text: str) -> str:
    """Commit text made inert in markdown (no links, emphasis or HTML from a message)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def heading(release: Mapping[str, Any]) -> str:
    """``## [1.3.0](compare) - 2026-12-01`` (``## [Unreleased]`` without a version)."""
    name = _version_name(release)
    title = f"[{name}]({release['compare_url']})" if release.get("compare_url") else f"[{name}]"
    if release.get("package"):
        title = f"{release['package']} {title}"
    date = release.get("date")
    return f"## {title} - {date[:10]}" if date and release.get("version") else f"## {title}"


def _version_name(release: Mapping[str, Any]) -> str:
    return str(release.get("name") or release.get("version") or UNRELEASED)


def _links(commit: Mapping[str, Any]) -> str:
    parts = []
    for pr in commit["prs"]:
        parts.append(f"[#{pr['number']}]({pr['url']})" if pr["url"] else f"#{pr['number']}")
    short = commit["sha"][:7]
    parts.append(f"[{short}]({commit['url']})" if commit["url"] else short)
    for issue in commit["issues"]:
        name = f"{issue['repository'] or ''}#{issue['number']}"
        parts.append(f"closes [{name}]({issue['url']})" if issue["url"] else f"closes {name}")
    return " (" + ", ".join(parts) + ")"


def _line(commit: Mapping[str, Any], text: str) -> str:
    scope = f"**{escape(commit['scope'])}:** " if commit["scope"] else ""
    return f"- {scope}{escape(_PR_SUFFIX.sub('', text).strip())}{_links(commit)}"


def sections(release: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(group, lines) in GROUP_ORDER; a breaking commit is in Breaking changes with its
    breaking description, and in its own group too."""
    by_group: dict[str, list[str]] = {group: [] for group in GROUP_ORDER}
    for commit in release["commits"]:
        if commit["breaking"]:
            by_group[BREAKING_GROUP].append(_line(commit, commit["breaking_description"]))
        by_group[commit["group"]].append(_line(commit, commit["description"]))
    return [(group, lines) for group, lines in by_group.items() if lines]


def _contributors(people: Sequence[Mapping[str, Any]]) -> list[str]:
    if not people:
        return []
    names = [f"@{p['login']}" if p["login"] else escape(p["name"]) for p in people]
    lines = ["", "### Contributors", "", *(f"- {name}" for name in names)]
    new = [name for name, p in zip(names, people, strict=True) if p["new"]]
    if new:
        lines += ["", "First-time contributors: " + ", ".join(new)]
    return lines


def markdown(release: Mapping[str, Any]) -> str:
    """One Keep a Changelog section (ends with a newline)."""
    lines = [heading(release)]
    for group, entries in sections(release):
        lines += ["", f"### {group}", "", *entries]
    if release.get("dependencies"):
        names = ", ".join(escape(name) for name in release["dependencies"])
        lines += ["", "### Dependencies", "", f"- Released with its dependencies: {names}"]
    elif not release["commits"]:
        lines += ["", "No changes."]
    lines += _contributors(release["contributors"])
    return "\n".join(lines) + "\n"


def template(path: Path, context: Mapping[str, Any]) -> str:
    """*path* rendered as a Jinja2 template with *context* (the release JSON)."""
    import jinja2  # only for --template

    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    env = jinja2.Environment(
        autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    try:
        return env.from_string(source).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"{path}:{exc.lineno}: template error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise ValueError(f"{path}: template error: {exc.message}") from None
