"""The doctor's GitHub checks: the token (kind, validity, scopes), the rate limit, the
repository, Actions, and each workflow's registration, state and latest run.

The judging functions are pure (an API answer in, checks out); `diagnose` asks GitHub
through an injected client (anything with `answer(path, params)`, as GitHubApi has)
and reads each answer once. The token's value is never in a check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pilothouse.doctor.model import FAIL, OK, REMOTE_RULE_IDS, WARN, Check
from pilothouse.sources.github import TOKEN_VARIABLES, Answer, GitHubError

CLASSIC, FINE_GRAINED, OAUTH, APP_USER, INSTALLATION, ACTIONS, UNKNOWN = (
    "classic personal access token",
    "fine-grained personal access token",
    "OAuth app token",
    "GitHub App user token",
    "GitHub App installation token",
    "GitHub Actions GITHUB_TOKEN",
    "token of unknown kind",
)
# Tokens whose scopes GitHub lists in X-OAuth-Scopes.
SCOPED = (CLASSIC, OAUTH)
WORKFLOWS_DIR = ".github/workflows/"
RATE_LOW_SHARE = 0.1
_DISABLED = {
    "disabled_manually": "disabled by hand in the Actions tab or the API",
    "disabled_inactivity": "disabled by GitHub after 60 days without activity in the repository",
    "disabled_fork": "disabled because the repository is a fork",
}


class Prober(Protocol):
    def answer(self, path: str, params: Mapping[str, str | int] | None = None) -> Answer: ...


def token_variable(env: Mapping[str, str]) -> str | None:
    """The variable holding the token ($GITHUB_TOKEN first), or None."""
    return next((v for v in TOKEN_VARIABLES if env.get(v, "").strip()), None)


def token_kind(value: str, env: Mapping[str, str]) -> str:
    """The kind of a token, from its prefix (GitHub's documented token formats)."""
    for prefix, kind in (
        ("ghp_", CLASSIC),
        ("github_pat_", FINE_GRAINED),
        ("gho_", OAUTH),
        ("ghu_", APP_USER),
    ):
        if value.startswith(prefix):
            return kind
    if value.startswith("ghs_"):
        return ACTIONS if env.get("GITHUB_ACTIONS") == "true" else INSTALLATION
    if len(value) == 40 and all(c in "0123456789abcdef" for c in value):
        return CLASSIC  # the format before 2021's prefixes
    return UNKNOWN


def token_present(env: Mapping[str, str]) -> Check:
    variable = token_variable(env)
    if variable is None:
        return Check(
            "token-present",
            FAIL,
            "no GitHub token: $GITHUB_TOKEN and $GH_TOKEN are unset",
            "export GITHUB_TOKEN=... (a token that can read the repository's "
            "Actions; `gh auth token` prints gh's), or run with --offline",
        )
    return Check("token-present", OK, f"token in ${variable} (not shown)")


def judge_user(answer: Answer, kind: str, variable: str) -> Check:
    """token-valid from GET /user (an installation token's 403 is judged later)."""
    login = answer.data.get("login") if isinstance(answer.data, dict) else None
    if answer.status == 200 and login:
        return Check("token-valid", OK, f"GitHub accepts the token from ${variable} (user {login})")
    if answer.status == 200:  # a proxy's or a web server's page, not GitHub's API
        return Check(
            "token-valid",
            FAIL,
            "GET /user: HTTP 200 without a user: not GitHub's API answering",
            "check --api-url: GitHub Enterprise Server's API root is https://HOST/api/v3",
        )
    if answer.status == 401:
        return Check(
            "token-valid",
            FAIL,
            f"GitHub refuses the token from ${variable} (401 "
            f"{answer.message}): wrong, expired or revoked",
            "make a new token and export it",
        )
    return Check(
        "token-valid",
        FAIL,
        f"GET /user: {answer.message} (HTTP {answer.status})",
        f"check that ${variable} holds a {kind}",
    )


def judge_installation(answer: Answer, variable: str) -> Check:
    if answer.status == 200:
        return Check("token-valid", OK, f"GitHub accepts the installation token from ${variable}")
    return Check(
        "token-valid",
        FAIL,
        f"GitHub refuses the token from ${variable} ({answer.message}, HTTP {answer.status})",
        "installation tokens expire after an hour: make a new one",
    )


def scopes(headers: Mapping[str, str]) -> list[str] | None:
    """The scopes of X-OAuth-Scopes, None when GitHub sent no such header."""
    value = headers.get("x-oauth-scopes")
    if value is None:
        return None
    return [scope.strip() for scope in value.split(",") if scope.strip()]


def judge_scopes(granted: Sequence[str] | None, *, private: bool | None) -> Check:
    """A classic token's scopes against what CI setup needs: `workflow` to push
    .github/workflows files, `repo` for a private repository."""
    if granted is None:
        return Check(
            "token-scopes",
            WARN,
            "GitHub listed no scopes for this token (no X-OAuth-Scopes header)",
            "use a classic token with the repo and workflow scopes, or a fine-grained one",
        )
    shown = ", ".join(granted) or "none"
    missing = [] if "workflow" in granted else ["workflow"]
    if private is not False and "repo" not in granted:
        missing.append("repo")  # private, or unknown because the repository is unseen
    if not missing:
        return Check("token-scopes", OK, f"scopes: {shown}")
    why = {
        "workflow": "pushes that add or change .github/workflows/* are refused",
        "repo": "a private repository and its Actions cannot be seen",
    }
    return Check(
        "token-scopes",
        FAIL,
        f"the token lacks the {' and '.join(f'`{m}`' for m in missing)} scope "
        f"({'; '.join(why[m] for m in missing)}); it has: {shown}",
        f"regenerate it with {' and '.join(missing)} checked (GitHub: Settings > Developer "
        f"settings > Tokens (classic)), or `gh auth refresh -s {','.join(missing)}`",
    )


def judge_rate(headers: Mapping[str, str]) -> Check | None:
    try:
        limit = int(headers["x-ratelimit-limit"])
        left = int(headers["x-ratelimit-remaining"])
        reset = datetime.fromtimestamp(int(headers["x-ratelimit-reset"]), UTC)
    except (KeyError, ValueError):
        return None
    when = reset.strftime("%H:%M UTC")
    summary = f"{left:,} of {limit:,} API requests left until {when}"
    if left == 0:
        return Check(
            "rate-limit",
            FAIL,
            f"{summary}: every request waits until then",
            "wait, or use another token (an installation token has its own quota)",
        )
    if left < limit * RATE_LOW_SHARE:
        return Check(
            "rate-limit",
            WARN,
            summary,
            "syncs and runs need headroom: wait for the reset, or slow what spends the quota",
        )
    return Check("rate-limit", OK, summary)


def _access_fix(kind: str) -> str:
    if kind in SCOPED:
        return "check OWNER/NAME; a private repository needs the token's `repo` scope"
    if kind == FINE_GRAINED:
        return "check OWNER/NAME, and add the repository to the token's Repository access"
    if kind in (INSTALLATION, ACTIONS, APP_USER):
        return "check OWNER/NAME, and that the app is installed on the repository"
    return "check OWNER/NAME and the token's access"


def judge_repo(answer: Answer, repo: str, kind: str) -> Check:
    if answer.status == 200 and isinstance(answer.data, dict) and answer.data.get("full_name"):
        seen = "private" if answer.data.get("private") else "public"
        return Check("repo-reachable", OK, f"{answer.data['full_name']} ({seen})")
    if answer.status == 404:
        return Check(
            "repo-reachable",
            FAIL,
            f"{repo}: not found (404): it does not exist or the token cannot see it",
            _access_fix(kind),
        )
    if answer.status == 200:
        return Check(
            "repo-reachable",
            FAIL,
            f"{repo}: HTTP 200 without a repository: not GitHub's API answering",
            "check --api-url: GitHub Enterprise Server's API root is https://HOST/api/v3",
        )
    return Check(
        "repo-reachable",
        FAIL,
        f"{repo}: {answer.message} (HTTP {answer.status})",
        _access_fix(kind),
    )


def judge_default_branch(data: Mapping[str, Any]) -> Check:
    branch = data.get("default_branch")
    if not branch:
        return Check(
            "default-branch",
            WARN,
            "the repository has no default branch (empty?)",
            "push a first commit",
        )
    return Check(
        "default-branch", OK, f"default branch {branch}: GitHub registers workflow files from it"
    )


def _needs(answer: Answer, fallback: str) -> str:
    """What a 403 says the token lacks (X-Accepted-GitHub-Permissions), else *fallback*."""
    accepted = answer.headers.get("x-accepted-github-permissions")
    return accepted.replace("=", ": ") if accepted else fallback


def judge_actions(answer: Answer) -> Check:
    if answer.status == 200 and isinstance(answer.data, dict):
        if not answer.data.get("enabled"):
            return Check(
                "actions-enabled",
                FAIL,
                "GitHub Actions is disabled for this repository: no workflow runs",
                "enable it: Settings > Actions > General > Actions permissions",
            )
        allowed = answer.data.get("allowed_actions", "all")
        pinning = "; SHA pinning required" if answer.data.get("sha_pinning_required") else ""
        return Check(
            "actions-enabled", OK, f"GitHub Actions enabled (allowed actions: {allowed}{pinning})"
        )
    return Check(
        "actions-enabled",
        WARN,
        f"cannot tell whether Actions is enabled: {answer.message} (HTTP {answer.status})",
        f"reading it needs admin rights on the repository "
        f"({_needs(answer, 'administration: read')}); the workflow checks below "
        "still tell whether workflows run",
    )


@dataclass(frozen=True, slots=True)
class RemoteWorkflow:
    id: int
    name: str
    path: str
    state: str

    @classmethod
    def from_api(cls, data: Any) -> RemoteWorkflow | None:
        """The workflow of one listing entry; None for an entry without an integer id."""
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            return None
        return cls(
            data["id"],
            str(data.get("name") or ""),
            str(data.get("path") or ""),
            str(data.get("state") or ""),
        )


def judge_registration(local: Sequence[str], remote: Sequence[RemoteWorkflow]) -> list[Check]:
    """Local workflow files GitHub does not know, and GitHub's workflows without a file."""
    known = {w.path for w in remote}
    checks = [
        Check(
            "workflow-registered",
            WARN,
            "not registered on GitHub: the file is not on the default branch yet",
            "push it to the default branch (GitHub registers "
            "workflows from there, and from a branch's first run)",
            path,
        )
        for path in local
        if path not in known
    ]
    here = set(local)
    for workflow in remote:
        if workflow.path.startswith(WORKFLOWS_DIR) and workflow.path not in here:
            if workflow.state != "deleted":
                checks.append(
                    Check(
                        "workflow-remote-only",
                        WARN,
                        f"workflow {workflow.name!r} "
                        f"is on GitHub ({workflow.state}) but has no file here",
                        "it was renamed or deleted on this branch, or this checkout is "
                        "behind: pull, or disable it on GitHub",
                        workflow.path,
                    )
                )
    return checks


def judge_contents(answer: Answer, blobs: Mapping[str, str], branch: str) -> list[Check]:
    """Local workflow files whose bytes differ from the default branch's (git blob SHAs
    from GET .../contents/.github/workflows): the change is not on the default branch,
    whose version GitHub runs for schedule, workflow_dispatch and the Actions tab."""
    if answer.status != 200 or not isinstance(answer.data, list):
        return []
    remote = {
        str(entry.get("path")): str(entry.get("sha"))
        for entry in answer.data
        if isinstance(entry, dict) and entry.get("type") == "file"
    }
    return [
        Check(
            "workflow-differs",
            WARN,
            f"differs from {branch}'s version: the change is not "
            f"on {branch} yet, and schedule and workflow_dispatch runs use {branch}'s",
            f"push or merge it to {branch} (line endings count: git's autocrlf can make an "
            "unchanged file differ)",
            path,
        )
        for path, sha in sorted(blobs.items())
        if path in remote and remote[path] != sha
    ]


def judge_state(workflow: RemoteWorkflow) -> Check:
    file = workflow.path
    if workflow.state == "active":
        return Check("workflow-state", OK, f"{workflow.name!r} is active", file=file)
    why = _DISABLED.get(workflow.state)
    if why is not None:
        return Check(
            "workflow-state",
            FAIL,
            f"{workflow.name!r} is {workflow.state}: {why}; it does not run",
            f"enable it: `gh workflow enable {workflow.id}` or the Actions tab's Enable workflow",
            file,
        )
    return Check(
        "workflow-state",
        WARN,
        f"{workflow.name!r} is {workflow.state}",
        "check it in the Actions tab",
        file,
    )


def judge_latest_run(workflow: RemoteWorkflow, answer: Answer) -> Check:
    file = workflow.path
    if answer.status != 200 or not isinstance(answer.data, dict):
        return Check(
            "workflow-latest-run",
            WARN,
            f"cannot read its runs: {answer.message} (HTTP {answer.status})",
            "give the token Actions: read",
            file,
        )
    runs = [r for r in answer.data.get("workflow_runs") or [] if isinstance(r, dict)]
    if not runs:
        return Check(
            "workflow-latest-run",
            WARN,
            f"{workflow.name!r} has never run",
            "trigger it (push, or `pilothouse ci run` for workflow_dispatch)",
            file,
        )
    run = runs[0]
    status, conclusion = run.get("status"), run.get("conclusion")
    what = (
        f"latest run #{run.get('run_number')} ({run.get('event')} on "
        f"{run.get('head_branch')}, {run.get('created_at')})"
    )
    if status != "completed":
        return Check("workflow-latest-run", OK, f"{what} is {status}", file=file)
    if conclusion == "success":
        return Check("workflow-latest-run", OK, f"{what} succeeded", file=file)
    if conclusion == "startup_failure":
        return Check(
            "workflow-latest-run",
            FAIL,
            f"{what} could not start (startup_failure): GitHub refused the workflow file",
            f"read the error on {run.get('html_url')}",
            file,
        )
    return Check(
        "workflow-latest-run",
        WARN,
        f"{what} ended in {conclusion}",
        f"see {run.get('html_url')}",
        file,
    )


def judge_fine_grained(kind: str, probes: Mapping[str, Answer]) -> Check:
    """What a fine-grained or app token was seen to read; writing is not tried."""
    granted = [name for name, answer in probes.items() if answer.status == 200]
    refused = [
        _needs(answer, name) for name, answer in probes.items() if answer.status in (401, 403)
    ]
    if refused:
        return Check(
            "token-scopes",
            FAIL,
            f"the {kind} was refused: {', '.join(refused)}",
            "grant those repository permissions to the token",
        )
    note = (
        "a GITHUB_TOKEN can never push .github/workflows files (use a token with Workflows: write)"
        if kind == ACTIONS
        else "Contents: write and Workflows: write "
        "(to push workflow files) cannot be checked without writing"
    )
    return Check(
        "token-scopes",
        OK,
        f"{kind}: reads {', '.join(granted) or 'nothing checked'} (seen working); {note}",
    )


@dataclass
class Diagnosis:
    """What `diagnose` found, and the remote rules it could not get to (and why)."""

    checks: list[Check] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def skip(self, ids: Iterable[str], why: str) -> None:
        for rule_id in ids:
            self.skipped.setdefault(rule_id, why)


_REPO_RULES = (
    "repo-reachable",
    "actions-enabled",
    "default-branch",
    "workflow-differs",
    "workflow-registered",
    "workflow-state",
    "workflow-remote-only",
    "workflow-latest-run",
)


def diagnose(
    api: Prober | None,
    env: Mapping[str, str],
    repo: str | None,
    local: Sequence[str],
    blobs: Mapping[str, str] | None = None,
) -> Diagnosis:
    """Every remote check, asking GitHub through *api* (token from *env*); GitHub out of
    reach (after the client's retries) is a failed check, the rest skipped."""
    found = Diagnosis()
    try:
        _diagnose(found, api, env, repo, (local, blobs or {}))
    except GitHubError as exc:
        found.checks.append(
            Check(
                "repo-reachable",
                FAIL,
                f"cannot reach GitHub: {exc}",
                "check the network, the proxy and --api-url",
            )
        )
        checked = {check.id for check in found.checks}
        found.skip([r for r in REMOTE_RULE_IDS if r not in checked], "GitHub is out of reach")
    return found


def _diagnose(
    found: Diagnosis,
    api: Prober | None,
    env: Mapping[str, str],
    repo: str | None,
    files: tuple[Sequence[str], Mapping[str, str]],
) -> None:
    variable = token_variable(env)
    found.checks.append(token_present(env))
    if variable is None:
        found.skip(
            ("token-valid", "token-kind", "token-scopes", "rate-limit", *_REPO_RULES), "no token"
        )
        return
    if api is None:
        raise ValueError("a token needs an API client to check it")
    kind = token_kind(env[variable].strip(), env)
    found.checks.append(Check("token-kind", OK, f"${variable} holds a {kind}"))
    user = api.answer("/user")
    valid = _validity(api, user, kind, variable)
    found.checks.append(valid)
    rate = judge_rate(user.headers)
    if rate is not None:
        found.checks.append(rate)
    if valid.status == FAIL:
        found.skip(("token-scopes", *_REPO_RULES), "the token is not valid")
        return
    if repo is None:
        found.skip(("token-scopes", *_REPO_RULES), "no repository (--repo OWNER/NAME)")
        return
    _repository(api, found, (repo, kind), user, files)


def _validity(api: Prober, user: Answer, kind: str, variable: str) -> Check:
    if user.status == 403 and kind in (INSTALLATION, ACTIONS, UNKNOWN):
        return judge_installation(
            api.answer("/installation/repositories", {"per_page": 1}), variable
        )
    return judge_user(user, kind, variable)


def _repository(
    api: Prober,
    found: Diagnosis,
    who: tuple[str, str],
    user: Answer,
    files: tuple[Sequence[str], Mapping[str, str]],
) -> None:
    repo, kind = who
    local, blobs = files
    answer = api.answer(f"/repos/{repo}")
    reach = judge_repo(answer, repo, kind)
    found.checks.append(reach)
    seen = answer.status == 200 and isinstance(answer.data, dict)
    private = bool(answer.data.get("private")) if seen else None
    if kind in SCOPED:
        found.checks.append(judge_scopes(scopes(user.headers), private=private))
    if reach.status == FAIL:
        if kind not in SCOPED:
            found.skip(["token-scopes"], "the repository is not reachable")
        found.skip(_REPO_RULES[1:], "the repository is not reachable")
        return
    found.checks.append(judge_default_branch(answer.data))
    branch = str(answer.data.get("default_branch") or "")
    permissions = api.answer(f"/repos/{repo}/actions/permissions")
    found.checks.append(judge_actions(permissions))
    listing = _workflow_pages(api, repo)
    contents = api.answer(f"/repos/{repo}/contents/.github/workflows", {"ref": branch})
    if kind not in SCOPED:
        probes = {"actions: read": listing[0], "contents: read": contents}
        found.checks.append(judge_fine_grained(kind, probes))
    found.checks += judge_contents(contents, blobs, branch)
    _workflows(api, found, repo, listing, local)


def _workflow_pages(api: Prober, repo: str) -> tuple[Answer, list[RemoteWorkflow]]:
    first = answer = api.answer(f"/repos/{repo}/actions/workflows", {"per_page": 100})
    workflows: list[RemoteWorkflow] = []
    while answer.status == 200 and isinstance(answer.data, dict):
        listed = answer.data.get("workflows")
        for entry in listed if isinstance(listed, list) else []:
            workflow = RemoteWorkflow.from_api(entry)
            if workflow is not None:
                workflows.append(workflow)
        if not answer.next_url:
            break
        answer = api.answer(answer.next_url)
    return first, workflows


def _workflows(
    api: Prober,
    found: Diagnosis,
    repo: str,
    listing: tuple[Answer, list[RemoteWorkflow]],
    local: Sequence[str],
) -> None:
    first, remote = listing
    if first.status != 200:
        found.checks.append(
            Check(
                "workflow-registered",
                FAIL,
                f"cannot list the workflows: {first.message} (HTTP {first.status})",
                f"give the token {_needs(first, 'actions: read')}",
            )
        )
        found.skip(
            ("workflow-state", "workflow-remote-only", "workflow-latest-run"),
            "the workflows cannot be listed",
        )
        return
    found.checks += judge_registration(local, remote)
    for workflow in remote:
        if workflow.path not in local:
            continue
        state = judge_state(workflow)
        found.checks.append(state)
        if workflow.state == "active":
            runs = api.answer(
                f"/repos/{repo}/actions/workflows/{workflow.id}/runs", {"per_page": 1}
            )
            found.checks.append(judge_latest_run(workflow, runs))
