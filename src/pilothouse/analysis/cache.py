"""Cache hit rates per workflow, job and key family, and advice from workflow files.

Pure: rows come in from the store (already summed by the database), workflow files
come in as text; nothing here reads a file, the clock or the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import yaml

from pilothouse.model import CacheCounts, CacheGroup

# GitHub evicts the least recently used caches once a repository holds more than this.
REPOSITORY_CACHE_LIMIT_GB = 10
_MATRIX_SUFFIX = re.compile(r" \(.*\)$")


@dataclass
class CacheRow:
    """One workflow, job and key family: its restores, saves and what they cost.

    ``minutes_saved`` = exact hits x (mean job time on a miss - mean job time on an
    exact hit); ``minutes_lost`` = misses x (miss - hit) + partial hits x (partial -
    hit). Job times are the logs' own (first to last timestamp); each is None unless
    both sides have jobs with timestamps.
    """

    workflow: str | None
    job: str
    key_prefix: str
    tool: str
    counts: CacheCounts = field(default_factory=CacheCounts)
    saves: int = 0
    save_failures: int = 0
    compiler_hits: int = 0
    compiler_misses: int = 0
    restore_seconds: float | None = None
    minutes_saved: float | None = None
    minutes_lost: float | None = None
    previous_hit_rate: float | None = None
    job_seconds: dict[str, float] = field(default_factory=dict)  # by restore kind

    @property
    def is_compiler(self) -> bool:
        return not self.counts.restores and bool(self.compiler_hits + self.compiler_misses)

    @property
    def hit_rate(self) -> float | None:
        """Exact hits per restore; a compiler cache's hits per compilation."""
        if self.is_compiler:
            return self.compiler_hits / (self.compiler_hits + self.compiler_misses)
        return self.counts.hit_rate

    def as_dict(self) -> dict[str, object]:
        rate = self.hit_rate
        return {
            "workflow": self.workflow,
            "job": self.job,
            "key_prefix": self.key_prefix,
            "restores": self.counts.restores,
            "exact_hits": self.counts.exact_hits,
            "partial_hits": self.counts.partial_hits,
            "misses": self.counts.misses,
            "hit_rate": None if rate is None else round(rate, 4),
            "previous_hit_rate": (
                None if self.previous_hit_rate is None else round(self.previous_hit_rate, 4)
            ),
            "tool": self.tool,
            "saves": self.saves,
            "save_failures": self.save_failures,
            "compiler_hits": self.compiler_hits,
            "compiler_misses": self.compiler_misses,
            "mean_restore_seconds": _round(self.restore_seconds, 1),
            "minutes_saved": _round(self.minutes_saved, 1),
            "minutes_lost": _round(self.minutes_lost, 1),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def job_family(name: str) -> str:
    """A matrix job's name without its matrix values: `test (2/4)` -> `test`."""
    return _MATRIX_SUFFIX.sub("", name) or name


def _add_group(row: CacheRow, group: CacheGroup, weights: dict[str, list[float]]) -> None:
    c = row.counts
    if group.kind == "hit":
        row.counts = CacheCounts(c.exact_hits + group.events, c.partial_hits, c.misses)
    elif group.kind == "partial":
        row.counts = CacheCounts(c.exact_hits, c.partial_hits + group.events, c.misses)
    elif group.kind == "miss":
        row.counts = CacheCounts(c.exact_hits, c.partial_hits, c.misses + group.events)
    elif group.kind == "saved":
        row.saves += group.events
    elif group.kind == "save_failed":
        row.save_failures += group.events
    elif group.kind == "compiler":
        row.compiler_hits += group.hits
        row.compiler_misses += group.misses
    if group.kind in ("hit", "partial", "miss"):
        for name, value in (("restore", group.seconds), (group.kind, group.job_seconds)):
            if value is not None:  # weighted means over the merged matrix jobs
                total = weights.setdefault(name, [0.0, 0.0])
                total[0] += value * group.events
                total[1] += group.events


def _finish(row: CacheRow, weights: dict[str, list[float]]) -> None:
    means = {name: total / n for name, (total, n) in weights.items() if n}
    row.restore_seconds = means.pop("restore", None)
    row.job_seconds = means
    hit, c = means.get("hit"), row.counts
    if hit is None:
        return
    if "miss" in means:
        row.minutes_saved = c.exact_hits * max(means["miss"] - hit, 0.0) / 60
    lost = [(c.misses, means.get("miss")), (c.partial_hits, means.get("partial"))]
    if any(n and mean is not None for n, mean in lost):
        row.minutes_lost = sum(n * max(mean - hit, 0.0) for n, mean in lost if n and mean) / 60


def summarise(groups: Iterable[CacheGroup], previous: Iterable[CacheGroup] = ()) -> list[CacheRow]:
    """Rows per workflow, job family and key family, busiest first, with the hit rate
    of the previous window beside each."""
    rows = _rows(groups)
    before = {key: row.hit_rate for key, row in _rows(previous).items()}
    for key, row in rows.items():
        row.previous_hit_rate = before.get(key)
    return sorted(
        rows.values(),
        key=lambda r: (-r.counts.restores, -(r.compiler_hits + r.compiler_misses),
                       r.workflow or "", r.job, r.key_prefix),
    )  # fmt: skip


def _rows(groups: Iterable[CacheGroup]) -> dict[tuple[str | None, str, str], CacheRow]:
    rows: dict[tuple[str | None, str, str], CacheRow] = {}
    weights: dict[tuple[str | None, str, str], dict[str, list[float]]] = {}
    for group in groups:
        key = (group.workflow, job_family(group.job), group.key_prefix)
        row = rows.setdefault(key, CacheRow(key[0], key[1], key[2], group.tool))
        _add_group(row, group, weights.setdefault(key, {}))
    for key, row in rows.items():
        _finish(row, weights[key])
    return rows


def total_counts(rows: Sequence[CacheRow]) -> CacheCounts:
    return CacheCounts(
        sum(r.counts.exact_hits for r in rows),
        sum(r.counts.partial_hits for r in rows),
        sum(r.counts.misses for r in rows),
    )


# -- advice from the workflow files -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Advice:
    file: str
    line: int
    rule: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "rule": self.rule, "message": self.message}


_NEVER_HITS = re.compile(
    r"\$\{\{[^}]*?\b(github\.(?:sha|run_id|run_number)|[\w.]*(?:timestamp|date|time)\w*)\b",
    re.IGNORECASE,
)
_CARGO_LOCK = re.compile(r"hashFiles\([^)]*Cargo\.lock", re.IGNORECASE)
_RUST_PATHS = re.compile(r"(?:^|[\s'\"])(?:~/\.cargo|\$HOME/\.cargo|\S*target/?)(?:$|[\s'\"/])")
_BRANCH_CONDITION = re.compile(r"github\.(?:ref|ref_name|head_ref|event_name)|refs/heads/")
_NEVER = ("false", "${{ false }}")


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value under *key* of a mapping node (the YAML 1.1 `on:` key included)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            found: yaml.Node = v
            return found
    return None


def _text(node: yaml.Node | None) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else ""


def _items(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


# Who runs a workflow for branches other than the default, by event, as the advice says it.
_SAVERS = {
    "push": "every branch pushed to",
    "pull_request": "every pull request",
    "pull_request_target": "every pull request",
    "merge_group": "every merge queue run",
}


def _event_names(on: yaml.Node | None) -> list[str]:
    if isinstance(on, yaml.ScalarNode):
        return [on.value]
    if isinstance(on, yaml.SequenceNode):
        return [_text(item) for item in on.value]
    if isinstance(on, yaml.MappingNode):
        return [_text(k) for k, _v in on.value]
    return []


def _push_saver(push: yaml.Node | None) -> str | None:
    """Who a `push` trigger runs for beyond main/master, None when nobody."""
    if not isinstance(push, yaml.MappingNode):
        return _SAVERS["push"]
    branches = [_text(b) for b in _items(_get(push, "branches"))]
    if branches:
        others = [b for b in branches if b not in ("main", "master")]
        return f"pushes to {', '.join(others)}" if others else None
    if _get(push, "branches-ignore") is None and (
        _get(push, "tags") is not None or _get(push, "tags-ignore") is not None
    ):
        return None  # only tags: no branch push runs it
    return _SAVERS["push"]


def branch_savers(on: yaml.Node | None) -> list[str]:
    """What runs the workflow for branches other than the default, from its `on:`
    triggers, as the advice names it: ``every branch pushed to`` (``pushes to
    release/*`` for a push filtered to other branches), ``every pull request``,
    ``every merge queue run``. Empty when only the default branch runs it."""
    found: list[str] = []
    for name in _event_names(on):
        if name == "push":
            saver = _push_saver(_get(on, "push"))
        else:
            saver = _SAVERS.get(name)
        if saver is not None and saver not in found:
            found.append(saver)
    return found


def _step_advice(
    file: str, step: yaml.MappingNode, *, savers: Sequence[str], job_condition: str
) -> Iterator[Advice]:
    uses_node = _get(step, "uses")
    uses = _text(uses_node).lower()
    if not uses.startswith(("actions/cache", "swatinem/rust-cache")) or uses_node is None:
        return
    line = uses_node.start_mark.line + 1
    inputs = _get(step, "with")
    key_node = _get(inputs, "key")
    key, path = _text(key_node), _text(_get(inputs, "path"))
    key_line = key_node.start_mark.line + 1 if key_node is not None else line
    is_rust_cache = uses.startswith("swatinem/")
    # a restore-only step, or rust-cache told never to save (`save-if: false`), saves nothing
    save_if = _text(_get(inputs, "save-if")).strip().lower()
    saves = not uses.startswith("actions/cache/restore") and save_if not in _NEVER
    never = _NEVER_HITS.search(key) if not is_rust_cache else None
    if never:
        yield Advice(file, key_line, "key-never-hits",
                     f"cache key includes `{never[1]}`, new on every run: it can never hit "
                     "exactly, so every restore is at best a restore-key hit and every run "
                     "saves another cache")  # fmt: skip
    if not is_rust_cache and _RUST_PATHS.search(path) and not _CARGO_LOCK.search(key):
        yield Advice(file, key_line, "rust-key-without-lockfile",
                     "Rust cache (~/.cargo, target) keyed without hashFiles('**/Cargo.lock'): "
                     "the key stays the same when dependencies change, so the cache goes "
                     "stale and is never refreshed")  # fmt: skip
    if uses.startswith("actions/cache@") and key and _get(inputs, "restore-keys") is None:
        yield Advice(file, key_line, "no-restore-keys",
                     "no `restore-keys`: when the key changes (a new lock file) the job "
                     "starts from nothing instead of from the newest cache of the same "
                     "family")  # fmt: skip
    condition = f"{job_condition} {_text(_get(step, 'if'))} {_text(_get(inputs, 'save-if'))}"
    if saves and savers and not _BRANCH_CONDITION.search(condition):
        yield Advice(file, line, "saved-on-every-branch",
                     f"the cache is saved by {' and '.join(savers)}: their caches count "
                     f"toward the repository's {REPOSITORY_CACHE_LIMIT_GB} GB limit and evict "
                     "main's (least recently used first); restore with actions/cache/restore "
                     "and save with actions/cache/save only `if: github.ref == "
                     "'refs/heads/main'` (rust-cache: `save-if`)")  # fmt: skip


def advise_workflow(file: str, text: str) -> list[Advice]:
    """Advice for one workflow file's cache steps, each with its line (1-based).

    Raises yaml.YAMLError for text that is not YAML.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    savers = branch_savers(_get(root, "on"))
    found: list[Advice] = []
    jobs = _get(root, "jobs")
    for _name, job in jobs.value if isinstance(jobs, yaml.MappingNode) else ():
        condition = _text(_get(job, "if"))
        for step in _items(_get(job, "steps")):
            if isinstance(step, yaml.MappingNode):
                found += _step_advice(file, step, savers=savers,
                                      job_condition=condition)  # fmt: skip
    return found
