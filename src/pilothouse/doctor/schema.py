"""The doctor's schema rules: what GitHub refuses to run (missing or unknown keys, a job
without runs-on, needs naming no job, broken matrices, if: expressions that are
unbalanced or always true, composite run steps without a shell). Pure: a parsed file in,
checks out.
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from pilothouse.doctor.model import FAIL, Check
from pilothouse.doctor.workflow import (
    Document,
    finding,
    get,
    items,
    jobs,
    key_node,
    pairs,
    steps,
    strings,
    text,
)

WORKFLOW_KEYS = frozenset("name run-name on permissions env defaults concurrency jobs".split())
JOB_KEYS = frozenset(
    "name permissions needs if runs-on snapshot environment concurrency outputs env defaults "
    "steps timeout-minutes strategy continue-on-error container services uses with "
    "secrets".split()
)
CALLER_JOB_KEYS = frozenset(
    "name uses with secrets needs if permissions strategy concurrency".split()
)
STEP_KEYS = frozenset(
    "id if name uses run shell with env continue-on-error timeout-minutes working-directory".split()
)
STRATEGY_KEYS = frozenset(["matrix", "fail-fast", "max-parallel"])
ACTION_KEYS = frozenset("name author description inputs outputs runs branding".split())
COMPOSITE_RUNS_KEYS = frozenset(["using", "steps"])
COMPOSITE_STEP_KEYS = STEP_KEYS - {"timeout-minutes"}


def schema_required(doc: Document) -> Iterator[Check]:
    """The keys without which GitHub does not run the file."""
    if doc.kind == "action":
        runs = get(doc.root, "runs")
        if not isinstance(runs, yaml.MappingNode) or get(runs, "using") is None:
            yield finding(
                doc,
                "schema-required",
                FAIL,
                key_node(doc.root, "runs"),
                "runs: has no `using:` (composite, node20, docker)",
                "add `using: composite` (with steps:), or the runtime",
            )
        elif text(get(runs, "using")) == "composite" and not items(get(runs, "steps")):
            yield finding(
                doc,
                "schema-required",
                FAIL,
                key_node(doc.root, "runs"),
                "a composite action without steps",
                "add `steps:` under runs:",
            )
        return
    for required in ("on", "jobs"):
        if get(doc.root, required) is None:
            yield finding(
                doc,
                "schema-required",
                FAIL,
                None,
                f"no `{required}:` key: GitHub does not run a workflow without it",
                f"add `{required}:` at the top level",
            )
    jobs_node = get(doc.root, "jobs")
    if jobs_node is not None and not jobs(doc):
        yield finding(
            doc,
            "schema-required",
            FAIL,
            key_node(doc.root, "jobs"),
            "`jobs:` holds no job",
            "add at least one job under jobs:",
        )
    for name, key, job in jobs(doc):
        if get(job, "uses") is None and not items(get(job, "steps")):
            yield finding(
                doc,
                "schema-required",
                FAIL,
                key,
                f"job {name!r} has no steps (and calls no reusable workflow)",
                "add `steps:` or `uses: ./.github/workflows/FILE.yml`",
            )


def _unknown(
    doc: Document, node: yaml.Node | None, known: frozenset[str], where: str
) -> Iterator[Check]:
    for k, _v in node.value if isinstance(node, yaml.MappingNode) else ():
        name = text(k)
        if name and name not in known:
            yield finding(
                doc,
                "schema-unknown-key",
                FAIL,
                k,
                f"unknown key {name!r} in {where}",
                f"one of: {', '.join(sorted(known))}",
            )


def schema_unknown_key(doc: Document) -> Iterator[Check]:
    """Keys GitHub does not know, at the levels where it refuses them."""
    if doc.kind == "action":
        yield from _unknown(doc, doc.root, ACTION_KEYS, "the action")
        runs = get(doc.root, "runs")
        if text(get(runs, "using")) == "composite":
            yield from _unknown(doc, runs, COMPOSITE_RUNS_KEYS, "runs")
            for _job, step in steps(doc):
                yield from _unknown(doc, step, COMPOSITE_STEP_KEYS, "a step")
        return
    yield from _unknown(doc, doc.root, WORKFLOW_KEYS, "the workflow")
    for name, _key, job in jobs(doc):
        known = CALLER_JOB_KEYS if get(job, "uses") is not None else JOB_KEYS
        yield from _unknown(doc, job, known, f"job {name!r}")
        yield from _unknown(doc, get(job, "strategy"), STRATEGY_KEYS, f"job {name!r} strategy")
    for job_name, step in steps(doc):
        yield from _unknown(doc, step, STEP_KEYS, f"a step of job {job_name!r}")


def schema_runs_on(doc: Document) -> Iterator[Check]:
    for name, key, job in jobs(doc):
        if get(job, "uses") is None and get(job, "runs-on") is None:
            yield finding(
                doc,
                "schema-runs-on",
                FAIL,
                key,
                f"job {name!r} has no `runs-on:`: GitHub cannot start it",
                "add `runs-on: ubuntu-latest` (or your runner's labels)",
            )


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle of the needs graph, as job names, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(job: str) -> list[str] | None:
        state[job] = 1
        path.append(job)
        for need in graph.get(job, []):
            if state.get(need) == 1:
                return [*path[path.index(need) :], need]
            if need in graph and need not in state:
                found = visit(need)
                if found:
                    return found
        path.pop()
        state[job] = 2
        return None

    for job in graph:
        if job not in state:
            found = visit(job)
            if found:
                return found
    return None


def schema_needs(doc: Document) -> Iterator[Check]:
    names = {name for name, _k, _j in jobs(doc)}
    graph: dict[str, list[str]] = {}
    for name, _key, job in jobs(doc):
        needs = get(job, "needs")
        graph[name] = strings(needs)
        for need in graph[name]:
            if need not in names:
                yield finding(
                    doc,
                    "schema-needs",
                    FAIL,
                    needs,
                    f"job {name!r} needs {need!r}, which is not a job of this workflow",
                    f"name one of: {', '.join(sorted(names))}",
                )
    cycle = _cycle({k: [n for n in v if n in names] for k, v in graph.items()})
    if cycle:
        first = next(key for name, key, _j in jobs(doc) if name == cycle[0])
        yield finding(
            doc,
            "schema-needs",
            FAIL,
            first,
            f"jobs need each other in a cycle: {' -> '.join(cycle)}",
            "remove one of the needs: so the jobs can start in order",
        )


def _is_expression(node: yaml.Node | None) -> bool:
    return "${{" in text(node)


def _axes(matrix: yaml.Node) -> dict[str, list[str] | None]:
    """Matrix axes and their literal values (None when an expression gives them)."""
    axes: dict[str, list[str] | None] = {}
    for name, values in pairs(matrix):
        if name in ("include", "exclude"):
            continue
        if isinstance(values, yaml.SequenceNode) and all(
            isinstance(v, yaml.ScalarNode) for v in values.value
        ):
            axes[name] = [text(v) for v in values.value]
        else:
            axes[name] = None
    return axes


def _matrix_problems(matrix: yaml.Node, job: str) -> Iterator[tuple[yaml.Node, str, str]]:
    axes = _axes(matrix)
    for part in ("include", "exclude"):
        node = get(matrix, part)
        if node is None or _is_expression(node):
            continue
        if not isinstance(node, yaml.SequenceNode) or not all(
            isinstance(e, yaml.MappingNode) or _is_expression(e) for e in node.value
        ):
            yield (
                node,
                f"job {job!r}: matrix {part} must be a list of mappings",
                (f"write each {part} entry as `- key: value`"),
            )
            continue
        if part == "exclude":
            yield from _exclude_problems(node, axes, job)
    if not axes and get(matrix, "include") is None:
        yield (
            matrix,
            f"job {job!r}: the matrix has no axis and no include",
            ("add an axis (`os: [ubuntu-latest]`) or `include:` entries"),
        )


def _exclude_problems(
    node: yaml.SequenceNode, axes: dict[str, list[str] | None], job: str
) -> Iterator[tuple[yaml.Node, str, str]]:
    for entry in node.value:
        for key, value in pairs(entry):
            if key not in axes:
                yield (
                    entry,
                    f"job {job!r}: matrix exclude names {key!r}, not an axis",
                    (f"exclude by the axes: {', '.join(sorted(axes)) or '(none)'}"),
                )
                continue
            values = axes[key]
            if values is None or not isinstance(value, yaml.ScalarNode) or _is_expression(value):
                continue
            if text(value) not in values:
                yield (
                    value,
                    (
                        f"job {job!r}: matrix exclude {key}: {text(value)!r} matches no value "
                        f"of the axis ({', '.join(values)})"
                    ),
                    "exclude a value the axis has, or drop the entry",
                )


def schema_matrix(doc: Document) -> Iterator[Check]:
    for name, _key, job in jobs(doc):
        matrix = get(get(job, "strategy"), "matrix")
        if matrix is None or _is_expression(matrix):
            continue
        if not isinstance(matrix, yaml.MappingNode):
            yield finding(
                doc,
                "schema-matrix",
                FAIL,
                matrix,
                f"job {name!r}: the matrix is not a mapping of axes",
                "write `matrix:` as `axis: [values]`",
            )
            continue
        for node, summary, fix in _matrix_problems(matrix, name):
            yield finding(doc, "schema-matrix", FAIL, node, summary, fix)


def _if_problem(condition: str) -> str | None:
    """What is wrong with an if: text, or None."""
    rest, outside = condition, []
    while "${{" in rest:
        before, _, after = rest.partition("${{")
        outside.append(before)
        if "}}" not in after:
            return "an `${{` without its `}}`"
        rest = after.partition("}}")[2]
    outside.append(rest)
    if "}}" in "".join(outside):
        return "a `}}` without its `${{`"
    if "${{" in condition and "".join(outside).strip():
        return (
            "text outside `${{ }}`: GitHub reads the whole condition as a string, "
            "which is always true"
        )
    return None


def schema_if(doc: Document) -> Iterator[Check]:
    conditions = [(f"job {name!r}", get(job, "if")) for name, _key, job in jobs(doc)]
    conditions += [(f"a step of job {job!r}", get(step, "if")) for job, step in steps(doc)]
    for where, node in conditions:
        if not isinstance(node, yaml.ScalarNode):
            continue
        problem = _if_problem(text(node))
        if problem:
            yield finding(
                doc,
                "schema-if",
                FAIL,
                node,
                f"if: of {where} has {problem}",
                "write the condition as one `${{ ... }}` or without it",
            )


def schema_shell(doc: Document) -> Iterator[Check]:
    if doc.kind != "action" or text(get(get(doc.root, "runs"), "using")) != "composite":
        return
    for _job, step in steps(doc):
        if get(step, "run") is not None and get(step, "shell") is None:
            yield finding(
                doc,
                "schema-shell",
                FAIL,
                key_node(step, "run"),
                "a run: step of a composite action without `shell:`: GitHub refuses the action",
                "add `shell: bash`",
            )
