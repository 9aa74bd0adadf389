"""What the doctor finds: checks with a status, and the rules that make them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OK, WARN, FAIL = "ok", "warn", "fail"
STATUSES = (OK, WARN, FAIL)


@dataclass(frozen=True, slots=True)
class Check:
    """One finding: which rule, how bad, why in one line, and the fix."""

    id: str
    status: str
    summary: str
    fix: str = ""
    file: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "summary": self.summary,
            "fix": self.fix,
            "file": self.file,
            "line": self.line,
        }

    @property
    def where(self) -> str:
        if self.file is None:
            return ""
        return self.file if self.line is None else f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule's id, whether it needs GitHub, and what docs/doctor.md says of it."""

    id: str
    remote: bool
    title: str


# Every rule, in the order checks are reported; docs/doctor.md documents each.
RULES: tuple[Rule, ...] = (
    Rule("workflow-parse", False, "the file is YAML GitHub can read"),
    Rule("schema-required", False, "keys GitHub requires are there (on, jobs, steps, runs)"),
    Rule("schema-unknown-key", False, "no key GitHub does not know"),
    Rule("schema-runs-on", False, "every job says where it runs"),
    Rule("schema-needs", False, "needs: names jobs of the workflow, without a cycle"),
    Rule("schema-matrix", False, "matrix include/exclude are well formed and can match"),
    Rule("schema-if", False, "if: expressions are balanced and not always true"),
    Rule("schema-shell", False, "composite action run: steps say their shell"),
    Rule("actionlint", False, "actionlint finds nothing (when installed)"),
    Rule("pin-actions", False, "actions pinned to a commit SHA or a version tag"),
    Rule("permissions", False, "the GITHUB_TOKEN's permissions are declared"),
    Rule("cache-key", False, "cache keys can hit"),
    Rule("timeout", False, "jobs set timeout-minutes"),
    Rule("pr-target-checkout", False, "pull_request_target does not check out the PR head"),
    Rule("script-injection", False, "no untrusted event text interpolated into scripts"),
    Rule("token-present", True, "a GitHub token is in the environment"),
    Rule("token-valid", True, "GitHub accepts the token"),
    Rule("token-kind", True, "the kind of token"),
    Rule("token-scopes", True, "the token's scopes or permissions suffice"),
    Rule("rate-limit", True, "API requests left in this hour"),
    Rule("repo-reachable", True, "the repository exists and the token sees it"),
    Rule("actions-enabled", True, "GitHub Actions is enabled for the repository"),
    Rule("default-branch", True, "the repository's default branch"),
    Rule("workflow-differs", True, "each local workflow file is the default branch's"),
    Rule("workflow-registered", True, "each local workflow is known to GitHub"),
    Rule("workflow-state", True, "each workflow is active"),
    Rule("workflow-remote-only", True, "no workflow on GitHub without a local file"),
    Rule("workflow-latest-run", True, "each workflow has a latest run, and how it ended"),
)
RULE_IDS = tuple(rule.id for rule in RULES)
REMOTE_RULE_IDS = tuple(rule.id for rule in RULES if rule.remote)


def counts(checks: Iterable[Check]) -> dict[str, int]:
    found = {status: 0 for status in STATUSES}
    for check in checks:
        found[check.status] += 1
    return found


def report(checks: Iterable[Check], skipped: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The --json form: every check, the count of each status, and the rules not run
    with the reason (`{"token-scopes": "--offline"}`)."""
    shown = list(checks)
    return {
        "checks": [check.as_dict() for check in shown],
        **counts(shown),
        "skipped": dict(skipped or {}),
    }


def without(checks: Iterable[Check], ignore: Iterable[str]) -> list[Check]:
    silenced = set(ignore)
    return [check for check in checks if check.id not in silenced]


def order(checks: Iterable[Check], rank: Mapping[str, int] | None = None) -> list[Check]:
    """Checks by rule order, then file and line (stable otherwise)."""
    ranks = rank or {rule_id: i for i, rule_id in enumerate(RULE_IDS)}
    return sorted(
        checks,
        key=lambda c: (c.file or "", ranks.get(c.id, len(ranks)), c.line or 0),
    )
