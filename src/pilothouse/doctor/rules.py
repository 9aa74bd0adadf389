"""The doctor's local rules: pure functions from a parsed file to checks.

Each rule has an id (model.RULES) and yields only findings (a clean file yields
nothing); `check_document` runs them all. Schema checks cover what GitHub refuses to
run; hygiene rules what runs but hurts (unpinned actions, no permissions, cache keys
that never hit, no timeouts, pull_request_target checkouts, script injection).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import yaml

from pilothouse.doctor.model import FAIL, WARN, Check
from pilothouse.doctor.workflow import (
    Document,
    get,
    items,
    key_node,
    line_of,
    pairs,
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

_SHA = re.compile(r"^[0-9a-f]{40}$")
_VERSION_TAG = re.compile(r"^v?\d+(?:\.\d+){0,2}$")
_NEVER_HITS = re.compile(
    r"\$\{\{[^}]*?\b(github\.(?:sha|run_id|run_number|run_attempt))\b", re.IGNORECASE
)
# Event text anyone opening an issue or a pull request writes (GitHub's security guide).
_UNTRUSTED = re.compile(
    r"\$\{\{[^}]*?\b(github\.head_ref|github\.event\.[\w.*\[\]'\"-]*?"
    r"(?:\.title|\.body|\.message|\.page_name|\.head\.ref|\.head\.label|\.head_ref"
    r"|\.author\.email|\.author\.name|\.head\.repo\.default_branch))\b",
    re.IGNORECASE,
)
_PR_HEAD = re.compile(
    r"github\.event\.pull_request\.head\.(?:sha|ref|repo\.full_name)|github\.head_ref|"
    r"refs/pull/.*?/(?:head|merge)",
    re.IGNORECASE,
)

Rule = Callable[[Document], Iterator[Check]]


def _check(
    doc: Document, rule: str, status: str, node: yaml.Node | None, summary: str, fix: str
) -> Check:
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


# -- schema ----------------------------------------------------------------------------


def schema_required(doc: Document) -> Iterator[Check]:
    """The keys without which GitHub does not run the file."""
    if doc.kind == "action":
        runs = get(doc.root, "runs")
        if not isinstance(runs, yaml.MappingNode) or get(runs, "using") is None:
            yield _check(
                doc,
                "schema-required",
                FAIL,
                key_node(doc.root, "runs"),
                "runs: has no `using:` (composite, node20, docker)",
                "add `using: composite` (with steps:), or the runtime",
            )
        elif text(get(runs, "using")) == "composite" and not items(get(runs, "steps")):
            yield _check(
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
            yield _check(
                doc,
                "schema-required",
                FAIL,
                None,
                f"no `{required}:` key: GitHub does not run a workflow without it",
                f"add `{required}:` at the top level",
            )
    jobs_node = get(doc.root, "jobs")
    if jobs_node is not None and not jobs(doc):
        yield _check(
            doc,
            "schema-required",
            FAIL,
            key_node(doc.root, "jobs"),
            "`jobs:` holds no job",
            "add at least one job under jobs:",
        )
    for name, key, job in jobs(doc):
        if get(job, "uses") is None and not items(get(job, "steps")):
            yield _check(
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
            yield _check(
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
            yield _check(
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
                yield _check(
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
        yield _check(
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
            yield _check(
                doc,
                "schema-matrix",
                FAIL,
                matrix,
                f"job {name!r}: the matrix is not a mapping of axes",
                "write `matrix:` as `axis: [values]`",
            )
            continue
        for node, summary, fix in _matrix_problems(matrix, name):
            yield _check(doc, "schema-matrix", FAIL, node, summary, fix)


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
            yield _check(
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
            yield _check(
                doc,
                "schema-shell",
                FAIL,
                key_node(step, "run"),
                "a run: step of a composite action without `shell:`: GitHub refuses the action",
                "add `shell: bash`",
            )


# -- hygiene -----------------------------------------------------------------------------


def _unpinned(uses: str) -> bool:
    """An action reference that moves: no ref, or a branch-like ref."""
    if uses.startswith(("./", "docker://")) or "${{" in uses:
        return False
    _name, at, ref = uses.partition("@")
    if not at:
        return True
    return not (_SHA.match(ref) or _VERSION_TAG.match(ref))


def _uses_nodes(doc: Document) -> list[yaml.Node]:
    found = [get(step, "uses") for _job, step in steps(doc)]
    found += [get(job, "uses") for _name, _key, job in jobs(doc)]
    return [node for node in found if isinstance(node, yaml.ScalarNode)]


def pin_actions(doc: Document) -> Iterator[Check]:
    """Actions and reusable workflows referenced by a branch or nothing at all."""
    loose = [node for node in _uses_nodes(doc) if _unpinned(text(node))]
    if not loose:
        return
    loose.sort(key=line_of)
    listed = ", ".join(f"{text(n)} (line {line_of(n)})" for n in loose)
    yield _check(
        doc,
        "pin-actions",
        WARN,
        loose[0],
        f"{len(loose)} action reference(s) not pinned to a commit SHA or a version "
        f"tag, so what runs changes under you: {listed}",
        "pin each to a full commit SHA (`uses: owner/repo@<40 hex> # v1.2.3`), "
        "or at least a version tag (`@v4`)",
    )


def permissions(doc: Document) -> Iterator[Check]:
    """No top-level permissions: and a job without its own: the token gets the
    repository's default, often write-all."""
    if doc.kind != "workflow" or get(doc.root, "permissions") is not None:
        return
    if events(doc) == ["workflow_call"]:
        return  # a reusable workflow's token is its caller's
    bare = [(name, key) for name, key, job in jobs(doc) if get(job, "permissions") is None]
    if not bare:
        return
    names = ", ".join(name for name, _key in bare)
    yield _check(
        doc,
        "permissions",
        WARN,
        None,
        f"no `permissions:` at the top level nor in job(s) {names}: the "
        "GITHUB_TOKEN gets the repository's default permissions (often write-all)",
        "declare least privilege at the top: `permissions: {contents: read}`, "
        "and widen it in the jobs that need more",
    )


def _cache_keys(doc: Document) -> list[tuple[str | None, str, yaml.Node]]:
    """(job, uses, key node) of every actions/cache step."""
    found = []
    for job, step in steps(doc):
        uses = text(get(step, "uses")).lower()
        key = get(get(step, "with"), "key")
        if uses.startswith("actions/cache") and key is not None:
            found.append((job, uses, key))
    return found


def cache_key(doc: Document) -> Iterator[Check]:
    """A restore keyed on github.sha or run_id misses on every later commit or run;
    unless another job of the same run saved that key (caches passed between jobs)."""
    keys = _cache_keys(doc)
    for job, uses, key in keys:
        found = _NEVER_HITS.search(text(key))
        if uses.startswith("actions/cache/save") or not found:
            continue
        prefix = text(key)[: found.end()]
        if any(other_job != job and text(other).startswith(prefix)
               for other_job, _uses, other in keys):  # fmt: skip
            continue
        every = "commit" if found[1].lower() == "github.sha" else "run"
        yield _check(
            doc,
            "cache-key",
            WARN,
            key,
            f"cache key includes `{found[1]}`, new on every {every}: a later {every} never "
            "hits it exactly, so each restores at best a restore-key match and saves "
            "another cache",
            "key the cache on what it holds, e.g. "
            "`${{ runner.os }}-${{ hashFiles('**/lockfile') }}`",
        )


def timeout(doc: Document) -> Iterator[Check]:
    """Jobs without timeout-minutes run up to GitHub's 6 hours when they hang."""
    bare = [
        (name, key)
        for name, key, job in jobs(doc)
        if get(job, "uses") is None and get(job, "timeout-minutes") is None
    ]
    if not bare:
        return
    listed = ", ".join(f"{name} (line {line_of(key)})" for name, key in bare)
    yield _check(
        doc,
        "timeout",
        WARN,
        bare[0][1],
        f"{len(bare)} job(s) without `timeout-minutes:` (a hung job runs for 6 hours): {listed}",
        "set `timeout-minutes:` on each job, a little above its slowest normal run",
    )


def pr_target_checkout(doc: Document) -> Iterator[Check]:
    """pull_request_target runs with secrets and a write token: checking out the pull
    request's code there runs a stranger's code with them."""
    if "pull_request_target" not in events(doc):
        return
    for _job, step in steps(doc):
        if not text(get(step, "uses")).lower().startswith("actions/checkout"):
            continue
        inputs = get(step, "with")
        heads = [
            get(inputs, k) for k in ("ref", "repository") if _PR_HEAD.search(text(get(inputs, k)))
        ]
        ref = heads[0] if heads else None
        if ref is not None:
            yield _check(
                doc,
                "pr-target-checkout",
                FAIL,
                ref,
                "pull_request_target checks out the pull request's head: its "
                "code runs with the repository's secrets and a write token",
                "use `on: pull_request` for building PR code, or keep the checkout "
                "of the base and never run the PR's files",
            )


def _scripts(doc: Document) -> Iterator[yaml.Node]:
    for _job, step in steps(doc):
        run = get(step, "run")
        if run is not None:
            yield run
        if text(get(step, "uses")).lower().startswith("actions/github-script"):
            script = get(get(step, "with"), "script")
            if script is not None:
                yield script


def script_injection(doc: Document) -> Iterator[Check]:
    for script in _scripts(doc):
        for found in _UNTRUSTED.finditer(text(script)):
            line = line_of(script) + text(script)[: found.start()].count("\n")
            if isinstance(script, yaml.ScalarNode) and script.style in ("|", ">"):
                line += 1  # a block scalar's text starts on the line after its indicator
            yield Check(
                "script-injection",
                FAIL,
                f"`{found[1]}` is interpolated into a script: whoever writes it "
                "(an issue or PR title, a commit message, a branch name) can run commands",
                'pass it through `env:` (`TITLE: ${{ ... }}`) and use "$TITLE"',
                doc.file,
                line,
            )


# The local rules, in report order (model.RULES gives the ids).
LOCAL_RULES: tuple[Rule, ...] = (
    schema_required,
    schema_unknown_key,
    schema_runs_on,
    schema_needs,
    schema_matrix,
    schema_if,
    schema_shell,
    pin_actions,
    permissions,
    cache_key,
    timeout,
    pr_target_checkout,
    script_injection,
)


def check_document(doc: Document) -> list[Check]:
    """Every local rule's findings for one parsed file."""
    return [check for rule in LOCAL_RULES for check in rule(doc)]
