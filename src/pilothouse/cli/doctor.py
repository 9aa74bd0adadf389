"""`pilothouse doctor`: is CI set up and running, and if not, exactly why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from pilothouse.cli.github import checked_api_url, github_api
from pilothouse.cli.output import print_json, stdout_console
from pilothouse.cli.state import State, state_of
from pilothouse.config import DEFAULT_GITHUB_API_URL
from pilothouse.doctor.lint import find_actionlint
from pilothouse.doctor.local import LocalResult, check_local
from pilothouse.doctor.model import FAIL, REMOTE_RULE_IDS, Check, counts, order, report, without
from pilothouse.doctor.remote import Diagnosis, diagnose, token_variable
from pilothouse.errors import InputError, printable

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def _owner_name(value: str | None) -> str | None:
    if value is not None and (value.count("/") != 1 or not all(value.split("/"))):
        raise typer.BadParameter(f"{value!r}: expected OWNER/NAME", param_hint="--repo")
    return value


def origin_repository(root: Path) -> str | None:
    """OWNER/NAME of the checkout's origin remote, when it names one."""
    from pilothouse.delivery.release.links import Remote

    try:
        done = subprocess.run(
            ["git", "-C", str(root), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    remote = Remote.from_url(done.stdout.strip()) if done.returncode == 0 else None
    return remote.slug if remote else None


def _repository(state: State, given: str | None, root: Path) -> str | None:
    return given or state.env.get("GITHUB_REPOSITORY") or origin_repository(root)


def _remote(
    state: State, repo: str | None, local: LocalResult, api_url: str, max_wait: float
) -> Diagnosis:
    if token_variable(state.env) is None:
        return diagnose(None, state.env, repo, local.workflows)
    err = Console(stderr=True, highlight=False)

    def notify(message: str) -> None:
        err.print(Text(message))

    with github_api(state, api_url=api_url, max_wait=max_wait, notify=notify) as api:
        return diagnose(api, state.env, repo, local.workflows, local.blobs)


def doctor(
    ctx: typer.Context,
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo",
            help="Repository OWNER/NAME (default $GITHUB_REPOSITORY, else the origin remote).",
            callback=_owner_name,
        ),
    ] = None,
    path: Annotated[
        Path, typer.Option("--path", help="The checkout whose .github/workflows to check.")
    ] = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Local files only: no GitHub request.")
    ] = False,
    api_url: Annotated[
        str,
        typer.Option(
            help="API root; for GitHub Enterprise Server https://HOST/api/v3.",
            callback=checked_api_url,
        ),
    ] = DEFAULT_GITHUB_API_URL,
    max_wait: Annotated[
        float, typer.Option(min=0, help="Most seconds to spend waiting on rate limits.")
    ] = 60.0,
) -> None:
    """Is CI set up and running: token scopes, repository, Actions, and every workflow
    file (valid, pinned, registered, active, latest run), each with its fix.

    Checks the token (kind, validity, scopes, rate limit), the repository and whether
    Actions is enabled, and each workflow file (parses as YAML 1.2, schema, actionlint when
    installed, hygiene rules; registered and active on GitHub, its latest run). Each check
    is ok, warn or fail with its fix; exit 1 on a fail. --offline reads local files only.

    The token comes from $GITHUB_TOKEN or $GH_TOKEN and is never printed. Rules listed
    in pilothouse.toml's [doctor] ignore are not reported.
    """
    state = state_of(ctx)
    root = path if path.is_absolute() else state.cwd / path
    if not root.is_dir():
        raise InputError(f"{printable(str(root))}: not a directory (--path is the checkout)")
    local = check_local(root, actionlint=find_actionlint(state.env.get("PATH")))
    if offline:
        remote = Diagnosis()
        remote.skip(REMOTE_RULE_IDS, "--offline")
    else:
        remote = _remote(state, _repository(state, repo, root), local, api_url, max_wait)
    if local.actionlint is None:
        remote.skipped.setdefault("actionlint", "actionlint is not installed")
    checks = order(without([*remote.checks, *local.checks], state.config["doctor.ignore"]))
    skipped = {k: v for k, v in remote.skipped.items() if k not in state.config["doctor.ignore"]}
    if as_json:
        print_json(report(checks, skipped))
    else:
        _render(stdout_console(state.env), checks, skipped, len(local.workflows))
    if any(check.status == FAIL for check in checks):
        raise typer.Exit(1)


def _render(console: Console, checks: list[Check], skipped: dict[str, str], files: int) -> None:
    for check in checks:
        line = Text()
        line.append(f"{check.status.upper():<4}", style=_STYLE[check.status])
        line.append(f" {check.id}")
        if check.where:
            line.append(f" {printable(check.where)}", style="cyan")
        line.append(f": {printable(check.summary)}")
        console.print(line)
        if check.fix and check.status != "ok":
            console.print(Text(f"     fix: {printable(check.fix)}"))
    by_reason: dict[str, list[str]] = {}
    for rule_id, why in skipped.items():
        by_reason.setdefault(why, []).append(rule_id)
    for why, ids in by_reason.items():
        console.print(Text(f"skipped ({why}): {', '.join(ids)}", style="dim"))
    found = counts(checks)
    console.print(
        Text(
            f"{files} workflow file(s): {found['ok']} ok, {found['warn']} warn, "
            f"{found['fail']} fail"
        )
    )
    if not files:
        sys.stderr.write("pilothouse: warning: no .github/workflows/*.yml under the path\n")
