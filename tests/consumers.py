"""What the consumers of `pilothouse shard` output accept, checked as they check it.

- `nextest_selection`: parses a nextest filterset (the DSL of `cargo nextest run -E`:
  ``|``/``or``/``+``, ``&``/``and``, ``not``, parentheses, ``test()`` and
  ``binary_id()`` with ``=exact``, ``~contains``, ``#glob`` or ``/regex/`` matchers and
  ``\\)``, ``\\,``, ``\\\\`` escapes) and returns the tests it selects.
- `check_github_matrix`: the shape `strategy.matrix: ${{ fromJSON(...) }}` accepts.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import Any

Test = tuple[str, str]  # (binary id, test name)
Predicate = Callable[[Test], bool]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def _skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at] == " ":
            self.at += 1

    def _take(self, *tokens: str) -> str | None:
        self._skip()
        for token in tokens:
            if self.text.startswith(token, self.at):
                self.at += len(token)
                return token
        return None

    def parse(self) -> Predicate:
        predicate = self._or()
        self._skip()
        if self.at != len(self.text):
            raise SyntaxError(f"unexpected {self.text[self.at :]!r}")
        return predicate

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._take("|", "+", "or "):
            parts.append(self._and())
        return lambda t: any(p(t) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._unary()]
        while self._take("&", "and "):
            parts.append(self._unary())
        return lambda t: all(p(t) for p in parts)

    def _unary(self) -> Predicate:
        if self._take("not "):
            inner = self._unary()
            return lambda t: not inner(t)
        if self._take("("):
            inner = self._or()
            if not self._take(")"):
                raise SyntaxError(f"unclosed parenthesis at {self.at}")
            return inner
        return self._function()

    def _function(self) -> Predicate:
        self._skip()
        match = re.compile(r"(all|none|test|binary_id)\(").match(self.text, self.at)
        if not match:
            raise SyntaxError(f"expected a predicate at {self.text[self.at :]!r}")
        self.at = match.end()
        name = match.group(1)
        matcher = self._matcher()
        if name == "all":
            return lambda t: True
        if name == "none":
            return lambda t: False
        field = 0 if name == "binary_id" else 1
        return lambda t: matcher(t[field])

    def _matcher(self) -> Callable[[str], bool]:
        raw = []
        while True:
            if self.at >= len(self.text):
                raise SyntaxError("unclosed predicate")
            char = self.text[self.at]
            if char == "\\":
                escaped = self.text[self.at + 1 : self.at + 2]
                if escaped not in ("\\", ")", ","):
                    raise SyntaxError(f"invalid escape \\{escaped}")
                raw.append(escaped)
                self.at += 2
                continue
            if char == ",":
                raise SyntaxError("unescaped comma in a matcher")
            self.at += 1
            if char == ")":
                break
            raw.append(char)
        value = "".join(raw)
        kind, rest = value[:1], value[1:]
        if kind == "=":
            return lambda s: s == rest
        if kind == "#":
            return lambda s: fnmatch.fnmatchcase(s, rest)
        if kind == "/":
            return lambda s: re.search(rest.removesuffix("/"), s) is not None
        text = rest if kind == "~" else value
        return lambda s: text in s


def nextest_selection(filterset: str, tests: Iterable[Test]) -> set[Test]:
    """The tests among *tests* that *filterset* selects; SyntaxError if nextest would refuse it."""
    predicate = _Parser(filterset).parse()
    return {test for test in tests if predicate(test)}


def check_github_matrix(matrix: Any) -> list[dict[str, Any]]:
    """The jobs GitHub would start for `strategy.matrix: ${{ fromJSON(OUTPUT) }}`.

    An object whose keys are `include`/`exclude` (lists of objects) or variables
    (non-empty lists of values); at most 256 jobs.
    """
    assert isinstance(matrix, dict) and matrix, "a matrix is a non-empty object"
    variables = {k: v for k, v in matrix.items() if k not in ("include", "exclude")}
    for values in variables.values():
        assert isinstance(values, list) and values, "a matrix variable is a non-empty list"
    include = matrix.get("include", [])
    assert isinstance(include, list)
    for entry in include:
        assert isinstance(entry, dict) and entry
        assert all(isinstance(v, str | int | float | bool) for v in entry.values())
    assert not variables, "pilothouse emits include-only matrices"
    assert 0 < len(include) <= 256, "GitHub starts at most 256 jobs per matrix"
    return include
