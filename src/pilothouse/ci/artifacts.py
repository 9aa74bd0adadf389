"""A finished run's JUnit artifacts into the store: the artifacts whose names match
the patterns (`junit*` by default) are downloaded (the API redirects to a storage host
that gets no token), their XML members extracted with bounds, and ingested as the
run's reports exactly as `ingest junit` would inside the job."""

from __future__ import annotations

import fnmatch
import re
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pilothouse import ingest
from pilothouse.errors import InputError
from pilothouse.model import RunInfo
from pilothouse.sources import github
from pilothouse.sources.github import GitHubApi, GitHubError
from pilothouse.store import Store

# Bounds on what an artifact may unpack to: a zip bomb must not fill the disk.
MAX_MEMBERS = 10_000
MAX_UNPACKED_BYTES = 2 << 30


@dataclass(frozen=True, slots=True)
class ArtifactReports:
    """What the JUnit artifacts of a run held."""

    artifacts: int = 0
    files: int = 0
    tests: int = 0
    failed: int = 0


def chosen(artifacts: Sequence[dict[str, Any]], patterns: Sequence[str]) -> list[dict[str, Any]]:
    """The unexpired artifacts whose name matches one of *patterns*.

    >>> [a["name"] for a in chosen([{"name": "junit-1"}, {"name": "dist"}], ["junit*"])]
    ['junit-1']
    """
    return [
        a
        for a in artifacts
        if not a.get("expired") and any(fnmatch.fnmatchcase(str(a["name"]), p) for p in patterns)
    ]


def xml_members(archive: zipfile.ZipFile, source: str) -> list[zipfile.ZipInfo]:
    """The archive's .xml files, refused whole when it holds too many members or would
    unpack to more than MAX_UNPACKED_BYTES."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise InputError(f"{source}: {len(members)} files in the archive, over {MAX_MEMBERS}")
    if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
        raise InputError(f"{source}: unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB")
    return [m for m in members if not m.is_dir() and m.filename.lower().endswith(".xml")]


def _safe(name: str) -> str:
    """*name* as one path component (errors name the artifact by its folder).

    >>> _safe("junit/linux ../x")
    'junit_linux_.._x'
    """
    return re.sub(r"[^\w.-]", "_", name)[:100] or "artifact"


def _extract(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], folder: Path) -> list[Path]:
    """Each member under *folder* by its index (a member's own path never decides where
    a file lands: no `../` escapes), keeping its base name for messages."""
    paths = []
    for index, member in enumerate(members):
        target = folder / f"{index:05d}-{_safe(PurePosixPath(member.filename).name)}"
        with archive.open(member) as source, target.open("wb") as sink:
            while chunk := source.read(1 << 20):
                sink.write(chunk)
        paths.append(target)
    return paths


def _listed(api: GitHubApi, repo: str, run_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    path = f"/repos/{repo}/actions/runs/{run_id}/artifacts"
    for page in api.pages(path, {"per_page": github.PER_PAGE}):
        found += page.data.get("artifacts") or []
    return found


def _run_info(api: GitHubApi, repo: str, run_id: int) -> RunInfo:
    data = api.get(f"/repos/{repo}/actions/runs/{run_id}").data
    run = github.run_from_api(data)
    return RunInfo(
        provider="github",
        repository=repo,
        run_key=run.run_key,
        attempt=run.attempt,
        workflow=run.workflow,
        event=run.event,
        branch=run.branch,
        commit=run.commit,
        created_at=run.created_at,
    )


def ingest_junit_artifacts(
    store: Store,
    api: GitHubApi,
    repo: str,
    run_id: int,
    *,
    patterns: Sequence[str],
    now: datetime,
) -> ArtifactReports:
    """Download the run's JUnit artifacts and store their reports in one transaction."""
    wanted = chosen(_listed(api, repo, run_id), patterns)
    if not wanted:
        return ArtifactReports()
    with tempfile.TemporaryDirectory(prefix="pilothouse-junit-") as scratch:
        paths: list[Path] = []
        for artifact in wanted:
            zip_path = Path(scratch) / f"{artifact['id']}.zip"
            with zip_path.open("w+b") as sink:
                source = api.download(f"/repos/{repo}/actions/artifacts/{artifact['id']}/zip", sink)
            try:
                with zipfile.ZipFile(zip_path) as archive:
                    folder = Path(scratch) / _safe(f"{artifact['name']}-{artifact['id']}")
                    folder.mkdir()
                    paths += _extract(archive, xml_members(archive, source), folder)
            except zipfile.BadZipFile:
                raise GitHubError(f"{source}: artifact {artifact['name']} is not a zip") from None
        if not paths:
            return ArtifactReports(artifacts=len(wanted))
        files, problems = ingest.open_reports(paths)
        counts = ingest.ingest_reports(
            store, files, _run_info(api, repo, run_id), now=now, problems=problems
        )
    return ArtifactReports(len(wanted), counts.files, counts.tests, counts.failed + counts.errors)
