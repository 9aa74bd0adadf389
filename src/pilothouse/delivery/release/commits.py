"""Commit messages by Conventional Commits 1.0.0, exactly.

- Header ``type(scope)!: description``: type and scope case-insensitive (``FEAT:`` is
  ``feat:``, rule 15); ``!`` immediately before the colon; one space after it (rule 1).
- Footers (rules 8-10, 16): ``Token: value`` or ``Token #value``, git-trailer style; a token
  uses ``-`` for spaces except ``BREAKING CHANGE``; a value runs, over lines, until the next
  token. Footers start at the first paragraph after the header whose first line is one.
- Breaking (rules 11-13, 15-16): ``!`` (its description is the breaking description) or a
  ``BREAKING CHANGE:`` / ``BREAKING-CHANGE:`` footer, which must be uppercase to count.

>>> m = parse_message("FEAT(API)!: drop v1\\n\\nBREAKING-CHANGE: v1 is gone")
>>> (m.type, m.scope, m.breaking, m.breaking_description)
('feat', 'api', True, 'v1 is gone')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(
    r"(?P<type>[A-Za-z][A-Za-z0-9_-]*)(?:\((?P<scope>[^()\r\n]+)\))?(?P<bang>!)?: (?P<desc>.*\S.*)"
)
_FOOTER = re.compile(r"(?P<token>BREAKING CHANGE|[A-Za-z][A-Za-z0-9-]*)(?P<sep>: | #)(?P<value>.*)")
BREAKING_TOKENS = ("BREAKING CHANGE", "BREAKING-CHANGE")
_GIT_REVERT = re.compile(r'Revert "(?P<header>.*)"')
_REVERTS_SHA = re.compile(r"This reverts commit (?P<sha>[0-9a-f]{7,40})")
_SHA = re.compile(r"\b[0-9a-f]{7,40}\b")


@dataclass(frozen=True, slots=True)
class Footer:
    """One footer: its token as written and its value (lines joined with newlines)."""

    token: str
    value: str
    separator: str = ": "


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed commit message. ``type`` and ``scope`` are lower-cased; a message whose
    header is not conventional has ``conventional`` False and its header as description."""

    header: str
    conventional: bool
    type: str | None
    scope: str | None
    description: str
    body: str
    footers: tuple[Footer, ...]
    breaking: bool
    breaking_description: str | None

    def footer_values(self, token: str) -> list[str]:
        """Values of the footers named *token* (case-insensitive, ``-`` or space alike)."""
        wanted = _token_key(token)
        return [f.value for f in self.footers if _token_key(f.token) == wanted]

    @property
    def release_as(self) -> str | None:
        """The version a ``Release-As: x.y.z`` footer forces (release-please's footer)."""
        values = self.footer_values("Release-As")
        return values[-1].strip() if values else None

    def reverted(self) -> tuple[tuple[str, ...], str | None]:
        """What this commit reverts: sha (prefixes) and the reverted header, when it is a
        ``revert:`` commit or git's ``Revert "..."`` message; ((), None) otherwise."""
        git = _GIT_REVERT.fullmatch(self.header)
        if git is not None:
            return tuple(m["sha"] for m in _REVERTS_SHA.finditer(self.body)), git["header"]
        if self.type != "revert":
            return (), None
        refs = [sha for value in self.footer_values("Refs") for sha in _SHA.findall(value)]
        refs += [m["sha"] for m in _REVERTS_SHA.finditer(self.body)]
        return tuple(refs), self.description


def _token_key(token: str) -> str:
    return token.replace(" ", "-").casefold()


def _paragraphs(lines: list[str]) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def _split_body(rest: list[str]) -> tuple[list[str], list[str]]:
    """The body's lines and the footer section's lines (from the first paragraph whose
    first line is a footer)."""
    start = 0
    blank_before = True
    for index, line in enumerate(rest):
        if not line.strip():
            blank_before = True
            continue
        if blank_before and _FOOTER.fullmatch(line.rstrip()):
            start = index
            return rest[:start], rest[start:]
        blank_before = False
    return rest, []


def parse_footers(lines: list[str]) -> tuple[Footer, ...]:
    """Footers of a footer section; lines that start no footer continue the last one."""
    footers: list[tuple[str, str, list[str]]] = []
    for line in lines:
        match = _FOOTER.fullmatch(line.rstrip())
        if match is not None:
            footers.append((match["token"], match["sep"], [match["value"]]))
        elif footers:
            footers[-1][2].append(line.rstrip())
    return tuple(
        Footer(token, "\n".join(value).strip(), sep.strip() or sep) for token, sep, value in footers
    )


def parse_message(message: str) -> Message:
    """Parse a whole commit message (header, body, footers)."""
    lines = message.replace("\r\n", "\n").strip("\n").split("\n")
    header = lines[0].rstrip()  # a leading space: not "prefixed with a type" (rule 1)
    body_lines, footer_lines = _split_body(lines[1:])
    footers = parse_footers(footer_lines)
    body = "\n".join(body_lines).strip("\n")
    match = _HEADER.fullmatch(header)
    footer_breaking = next((f.value for f in footers if f.token in BREAKING_TOKENS), None)
    if match is None:
        text = header.strip()
        return Message(header, False, None, None, text, body, footers, False, None)
    description = match["desc"].strip()
    bang = match["bang"] is not None
    scope = match["scope"].strip().lower() if match["scope"] is not None else None
    breaking_description = footer_breaking if footer_breaking is not None else None
    if bang and breaking_description is None:
        breaking_description = description  # rule 13
    return Message(
        header=header,
        conventional=True,
        type=match["type"].lower(),
        scope=scope or None,
        description=description,
        body=body,
        footers=footers,
        breaking=bang or footer_breaking is not None,
        breaking_description=breaking_description,
    )
