"""`pilothouse release`: notes, next version, changelog and GitHub Releases from commits."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pilothouse.cli.github import checked_api_url, github_api
from pilothouse.cli.output import print_json
from pilothouse.cli.state import State, state_of
from pilothouse.errors import InputError

app = typer.Typer(
    help="Release notes, the next version and the changelog from Conventional Commits; "
    "GitHub Releases.\n\n"
    "Reads the local repository with git (no network) by Conventional Commits 1.0.0 and "
    "SemVer 2.0.0; settings in [release] (pilothouse config).",
    no_args_is_help=True,
)


class NotesFormat(enum.StrEnum):
    markdown = "markdown"
    json = "json"


RepoOption = Annotated[
    Path | None, typer.Option("--repo", help="The git repository (default: the working directory).")
]
PathOption = Annotated[
    list[str] | None,
    typer.Option("--path", help="Only commits touching this path (repeatable): one package."),
]
PatternOption = Annotated[
    str | None,
    typer.Option(
        "--tag-pattern",
        help="Version tags, {version} standing for one: NAME-v{version} "
        "(default: release.tag_pattern, v{version}).",
    ),
]
PreOption = Annotated[
    str | None, typer.Option("--pre", help="Make it a pre-release: --pre rc gives 1.3.0-rc.1.")
]
WorkspaceFlag = Annotated[
    bool,
    typer.Option(
        "--workspace", help="One section per crate of the Cargo workspace at the repository's root."
    ),
]


def _request(
    state: State,
    *,
    to: str = "HEAD",
    since: str | None = None,
    unreleased: bool = False,
    paths: list[str] | None = None,
    pattern: str | None = None,
    pre: str | None = None,
) -> Any:
    from pilothouse.delivery.release.history import Request
    from pilothouse.delivery.release.notes import Options
    from pilothouse.delivery.release.policy import Policy
    from pilothouse.delivery.release.semver import check_label
    from pilothouse.delivery.release.tags import TagPattern

    config = state.config
    try:
        tags = TagPattern(pattern or config["release.tag_pattern"])
        label = check_label(pre) if pre is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    options = Options(
        include_merges=config["release.include_merges"],
        hide_other=config["release.hide_other"],
        policy=Policy.from_config(config.values),
    )
    return Request(to, since, unreleased, tuple(paths or ()), tags, label, options)


def _repository(state: State, repo: Path | None) -> Any:
    from pilothouse.delivery.release.git import Repository

    return Repository.open(repo if repo is not None else state.cwd)


def _plans(
    state: State, repo: Path | None, request: Any, workspace: bool, *, sections: bool = True
) -> list[Any]:
    from pilothouse.delivery.release.history import plan

    repository = _repository(state, repo)
    if not workspace:
        return [plan(repository, request)]
    from pilothouse.delivery.release.workspace import plan_workspace

    # one section per crate released; a crate with nothing to release has none
    return [p for p in plan_workspace(repository, request) if p.release.version or not sections]


def _render(release: dict[str, Any], output: NotesFormat, template: Path | None) -> str:
    from pilothouse.delivery.release import render

    if template is not None:
        try:
            return render.template(template, release)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    return render.markdown(release)


@app.command()
def notes(
    ctx: typer.Context,
    repo: RepoOption = None,
    since: Annotated[
        str | None, typer.Option("--from", help="Start after this ref (default: the previous tag).")
    ] = None,
    to: Annotated[
        str, typer.Option("--to", help="End at this ref (a tag: that release).")
    ] = "HEAD",
    unreleased: Annotated[
        bool, typer.Option("--unreleased", help="Commits after the newest tag, no version.")
    ] = False,
    path: PathOption = None,
    tag_pattern: PatternOption = None,
    pre: PreOption = None,
    workspace: WorkspaceFlag = False,
    output: Annotated[
        NotesFormat, typer.Option("--format", help="markdown (Keep a Changelog) or json.")
    ] = NotesFormat.markdown,
    template: Annotated[
        Path | None,
        typer.Option("--template", help="A Jinja2 template rendered with the JSON as context."),
    ] = None,
) -> None:
    """Release notes for the next release (or --to TAG), grouped by type.

    Breaking changes first (a `!` commit is there too, with its description), then
    Features, Bug fixes, Performance ...; PR and issue links for the origin remote;
    contributors and first-time contributors from the commits.
    """
    from pilothouse.delivery.release.notes import release_json

    state = state_of(ctx)
    request = _request(
        state, to=to, since=since, unreleased=unreleased, paths=path, pattern=tag_pattern, pre=pre
    )
    as_json = output is NotesFormat.json and template is None
    found = _plans(state, repo, request, workspace, sections=not as_json)
    releases = [release_json(p.release) for p in found]
    if as_json:
        print_json(releases if workspace else releases[0])
        return
    sys.stdout.write("\n".join(_render(r, output, template) for r in releases))


def bump_json(found: Any) -> dict[str, Any]:
    """`bump --json`: current and next tag, the level and the commits that ask for it."""
    version = found.release.version
    return {
        "package": found.release.package,
        "current": found.current.tag if found.current else None,
        "next": version,
        "bump": found.next.level if version else "none",
        "because": list(found.because),
    }


@app.command()
def bump(
    ctx: typer.Context,
    repo: RepoOption = None,
    path: PathOption = None,
    tag_pattern: PatternOption = None,
    pre: PreOption = None,
    workspace: WorkspaceFlag = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The next version the commits since the previous tag ask for.

    Prints the next tag (nothing to release: the current one, and says so on stderr).
    """
    state = state_of(ctx)
    request = _request(state, paths=path, pattern=tag_pattern, pre=pre)
    found = [bump_json(p) for p in _plans(state, repo, request, workspace, sections=False)]
    if as_json:
        print_json(found if workspace else found[0])
        return
    for item in found:
        name = f"{item['package']} " if item["package"] else ""
        if item["next"] is None:
            sys.stderr.write(f"{name}nothing to release since {item['current']}\n")
            sys.stdout.write(f"{name}{item['current']}\n")
        else:
            sys.stdout.write(f"{name}{item['next']}\n")


@app.command()
def changelog(
    ctx: typer.Context,
    repo: RepoOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="The changelog (default: release.changelog in the repo)."),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--all", help="Rebuild every section from the tags.")
    ] = False,
    path: PathOption = None,
    tag_pattern: PatternOption = None,
    pre: PreOption = None,
    workspace: WorkspaceFlag = False,
) -> None:
    """Prepend the next release's section to the changelog (older sections untouched).

    Running it again replaces that same section; --all rewrites every section from the
    tags, keeping the text above the first section.
    """
    from pilothouse.delivery.release import changelog as book
    from pilothouse.delivery.release.history import history
    from pilothouse.delivery.release.notes import release_json
    from pilothouse.delivery.release.render import markdown

    state = state_of(ctx)
    request = _request(state, paths=path, pattern=tag_pattern, pre=pre)
    root = repo if repo is not None else state.cwd
    target = output if output is not None else root / state.config["release.changelog"]
    if rebuild and workspace:
        raise typer.BadParameter("--all rebuilds one package's tags: use --path and --tag-pattern")
    existing = book.read(target)
    if rebuild:
        repository = _repository(state, repo)
        sections = [markdown(release_json(p.release)) for p in history(repository, request)]
        text = book.rebuild(existing, sections)
    else:
        releases = [release_json(p.release) for p in _plans(state, repo, request, workspace)]
        if not releases:
            sys.stderr.write("nothing to release: no crate of the workspace has changes\n")
            return
        text = book.prepend(existing, markdown(releases[-1]))
        for release in reversed(releases[:-1]):
            text = book.prepend(text, markdown(release))
    book.write(target, text)
    sys.stderr.write(f"wrote {target}\n")


def _owner_name(value: str) -> str:
    from pilothouse.cli.ingest import _repository

    checked = _repository(value)
    assert checked is not None
    return checked


def _say(message: str) -> None:
    sys.stderr.write(f"pilothouse: {message}\n")


def _body_for(state: State, tag: str, notes_file: Path | None, checkout: Path | None) -> str:
    """The release's text: the notes file, else the notes of TAG from the checkout (its
    heading left out: GitHub shows the release's name above it)."""
    if notes_file is not None:
        try:
            return notes_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{notes_file}: cannot read the notes: {exc}") from None
    from pilothouse.delivery.release.history import plan
    from pilothouse.delivery.release.notes import release_json
    from pilothouse.delivery.release.render import markdown

    found = plan(_repository(state, checkout), _request(state, to=tag))
    if found.release.version != tag:
        raise InputError(f"{tag}: not a version tag of release.tag_pattern (--notes-file FILE)")
    return markdown(release_json(found.release)).partition("\n")[2].lstrip("\n")


@app.command()
def publish(
    ctx: typer.Context,
    repo: Annotated[
        str, typer.Option("--repo", help="Repository OWNER/NAME.", callback=_owner_name)
    ],
    tag: Annotated[str, typer.Option("--tag", help="The release's tag (already pushed).")],
    notes_file: Annotated[
        Path | None,
        typer.Option("--notes-file", help="The release's text (default: the notes of TAG)."),
    ] = None,
    checkout: Annotated[
        Path | None,
        typer.Option("--checkout", help="The git repository the notes come from (default: .)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The release's title (default: TAG).")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="Branch or sha to tag when TAG does not exist yet."),
    ] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Save as a draft.")] = False,
    prerelease: Annotated[
        bool,
        typer.Option("--prerelease", help="Mark as a pre-release (implied by 1.3.0-rc.1 tags)."),
    ] = False,
    api_url: Annotated[
        str,
        typer.Option(
            "--api-url",
            help="API root; for GitHub Enterprise Server https://HOST/api/v3.",
            callback=checked_api_url,
        ),
    ] = "https://api.github.com",
    max_wait: Annotated[
        float, typer.Option(min=0, help="Most seconds to spend waiting on rate limits.")
    ] = 900.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Create or update the GitHub Release of a tag (never a duplicate).

    The token comes from $GITHUB_TOKEN or $GH_TOKEN (contents:write) and is never
    printed; requests are retried and rate limits waited out as by `ingest github`.
    """
    from pilothouse.delivery.release.github import Releases, Wanted
    from pilothouse.delivery.release.tags import TagPattern

    state = state_of(ctx)
    body = _body_for(state, tag, notes_file, checkout)
    version = TagPattern(state.config["release.tag_pattern"]).version_of(tag)
    is_pre = prerelease or bool(version is not None and version.prerelease)
    wanted = Wanted(tag, name or tag, body, draft=draft, prerelease=is_pre, target=target)
    with github_api(state, api_url=api_url, max_wait=max_wait, notify=_say) as api:
        done = Releases(api, repo).publish(wanted)
    if as_json:
        print_json(done.as_json())
        return
    sys.stdout.write(f"{done.action} {done.release.get('html_url')}\n")
