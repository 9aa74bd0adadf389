"""The doctor's local rules: pure functions from a parsed file to checks.

Each rule has an id (model.RULES) and yields only findings (a clean file yields
nothing); `check_document` runs them all: the schema rules (schema.py: what GitHub
refuses to run), then the hygiene rules here (what runs but hurts: unpinned actions, no
permissions, cache keys that never hit, no timeouts, pull_request_target checkouts,
script injection).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import yaml

from pilothouse.doctor.model import FAIL, WARN, Check
from pilothouse.doctor.schema import (
    schema_if,
    schema_matrix,
    schema_needs,
    schema_required,
    schema_runs_on,
    schema_shell,
    schema_unknown_key,
)
from pilothouse.doctor.workflow import (
    Document,
    events,
    finding,
    get,
    jobs,
    line_of,
    steps,
    text,
)

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
    yield finding(
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
    yield finding(
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
        yield finding(
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
    yield finding(
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
            yield finding(
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
