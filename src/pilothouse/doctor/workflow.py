"""Workflow and action files as YAML node trees, read the way GitHub reads them.

GitHub reads YAML 1.2: `on:` is the key "on" (YAML 1.1 and PyYAML's SafeLoader make
it the boolean True), `yes`/`no`/`off` are strings, `0755` is a decimal number and
`1:30` a string. The loader here resolves plain scalars by the YAML 1.2 core schema,
keeps every node's line, and refuses duplicate keys (GitHub refuses them too).
Pure: text in, records out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from pilothouse.doctor.model import Check

# A workflow file is a few KB; GitHub refuses anything near this.
MAX_BYTES = 1_000_000

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema's implicit types."""


class Yaml12CLoader(yaml.CSafeLoader):
    """The same on libyaml's parser (10x faster; the types are resolved in Python)."""


Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (_INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        _FLOAT,
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
):
    Yaml12Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
Yaml12CLoader.yaml_implicit_resolvers = Yaml12Loader.yaml_implicit_resolvers
LOADER: type[yaml.SafeLoader | yaml.CSafeLoader] = (
    Yaml12CLoader if yaml.__with_libyaml__ else Yaml12Loader
)


class WorkflowError(ValueError):
    """The text is not a YAML mapping GitHub could read; *line* is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed file: its path as shown, its kind and its root mapping."""

    file: str
    kind: str  # "workflow" | "action"
    root: yaml.MappingNode


def line_of(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value under *key* of a mapping node; None for anything else."""
    for k, v in pairs(node):
        if k == key:
            return v
    return None


def key_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The key node itself (for the line a key is written on)."""
    if isinstance(node, yaml.MappingNode):
        for k, _v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                found: yaml.Node = k
                return found
    return None


def pairs(node: yaml.Node | None) -> Iterator[tuple[str, yaml.Node]]:
    """The (key, value node) pairs of a mapping node, keys as text."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                yield str(k.value), v


def items(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def text(node: yaml.Node | None) -> str:
    """A scalar's text ('' for a mapping, a sequence or nothing)."""
    return str(node.value) if isinstance(node, yaml.ScalarNode) else ""


def is_scalar(node: yaml.Node | None, tag: str = _STR) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == tag


def is_number(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag in (_INT, _FLOAT)


def strings(node: yaml.Node | None) -> list[str]:
    """A scalar or a sequence of scalars as a list of their texts."""
    if isinstance(node, yaml.ScalarNode):
        return [str(node.value)]
    return [text(item) for item in items(node) if isinstance(item, yaml.ScalarNode)]


def _duplicate_key(node: yaml.Node, seen: set[int]) -> tuple[str, int] | None:
    """The first key repeated in a mapping anywhere under *node* (aliases visited once)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            keys: set[str] = set()
            for k, v in current.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in keys and k.value != "<<":
                        return str(k.value), line_of(k)
                    keys.add(k.value)
                stack.append(v)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return None


def _kind(root: yaml.MappingNode) -> str:
    if get(root, "runs") is not None and get(root, "jobs") is None:
        return "action"
    return "workflow"


def parse(file: str, source: str | bytes) -> Document:
    """The document of one workflow (or action metadata) file.

    Raises WorkflowError, with the line, for what GitHub would refuse to read: not
    UTF-8, too large, not YAML, not a mapping, a key written twice.

    >>> parse("ci.yml", "on: push\\njobs: {}\\n").root.value[0][0].value
    'on'
    """
    if len(source) > MAX_BYTES:
        raise WorkflowError(f"{len(source):,} bytes: larger than {MAX_BYTES:,}", 1)
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkflowError(f"not UTF-8 text (byte {exc.start})", 1) from None
    try:
        root = yaml.compose(source, Loader=LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        raise WorkflowError(f"not YAML: {exc.problem or exc.context}", line) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise WorkflowError(f"not YAML: {type(exc).__name__}", 1) from None
    if not isinstance(root, yaml.MappingNode):
        raise WorkflowError("not a mapping of keys (on:, jobs:, ...)", 1)
    duplicate = _duplicate_key(root, set())
    if duplicate is not None:
        raise WorkflowError(f"key {duplicate[0]!r} written twice in one mapping", duplicate[1])
    return Document(file, _kind(root), root)


# -- what the rules read ----------------------------------------------------------------


def finding(
    doc: Document, rule: str, status: str, node: yaml.Node | None, summary: str, fix: str
) -> Check:
    """A check about *node* of *doc* (its line; line 1 for the file as a whole)."""
    return Check(rule, status, summary, fix, doc.file, line_of(node) if node else 1)


def jobs(doc: Document) -> list[tuple[str, yaml.Node, yaml.Node]]:
    """(name, key node, job node) of every job of a workflow."""
    found: list[tuple[str, yaml.Node, yaml.Node]] = []
    node = get(doc.root, "jobs")
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                found.append((str(k.value), k, v))
    return found


def steps(doc: Document) -> list[tuple[str | None, yaml.MappingNode]]:
    """(job name, step) of every step: a workflow's jobs', or a composite action's."""
    found: list[tuple[str | None, yaml.MappingNode]] = []
    if doc.kind == "action":
        for step in items(get(get(doc.root, "runs"), "steps")):
            if isinstance(step, yaml.MappingNode):
                found.append((None, step))
        return found
    for name, _key, job in jobs(doc):
        for step in items(get(job, "steps")):
            if isinstance(step, yaml.MappingNode):
                found.append((name, step))
    return found


def events(doc: Document) -> list[str]:
    on = get(doc.root, "on")
    if isinstance(on, yaml.MappingNode):
        return [name for name, _v in pairs(on)]
    return strings(on)
