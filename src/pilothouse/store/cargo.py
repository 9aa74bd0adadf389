"""Store writes and reads for cargo builds: outputs per run and job, their units."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, case, distinct, func, select

from pilothouse.model import CargoBuild, RunInfo
from pilothouse.store import keyed
from pilothouse.store.reports import _as_text, fill_run, open_run
from pilothouse.store.schema import cargo_builds, cargo_units, runs

BATCH_ROWS = 5000
_UNIT_COLUMNS = (
    "build_id", "ordinal", "name", "version", "source", "member", "package_id", "target_kind",
    "target_name", "mode", "profile", "features", "fresh", "build_script", "seconds",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CargoInput:
    """One cargo output to store: its identity, and how to read it (read inside the
    transaction, so a malformed line rolls the whole call back)."""

    path: str
    digest: str
    size: int
    read: Callable[[], CargoBuild]


@dataclass(frozen=True, slots=True)
class StoredBuild:
    new: bool
    units: int
    rebuilt: int


def add_builds(
    connection: Connection, run: RunInfo, items: Iterable[CargoInput], now: datetime
) -> list[StoredBuild]:
    """Store cargo outputs of one run and job; an output whose digest the run holds is
    read (to catch bad input) and adds nothing. Safe against concurrent writers."""
    run_id, job_id, missing = open_run(connection, run, now)
    stored = [_add_build(connection, run_id, job_id, item, now) for item in items]
    if missing:
        fill_run(connection, run_id, missing)
    return stored


def _add_build(
    connection: Connection, run_id: int, job_id: int | None, item: CargoInput, now: datetime
) -> StoredBuild:
    build = item.read()
    rebuilt = sum(1 for unit in build.units if not unit.fresh)
    values = {
        "run_id": run_id,
        "job_id": job_id,
        "digest": item.digest,
        "path": _as_text(item.path),
        "size": item.size,
        "units": len(build.units),
        "rebuilt": rebuilt,
        "success": build.success,
        "warnings": build.warnings,
        "errors": build.errors,
        "ingested_at": now,
    }
    new = keyed.insert_new(connection, cargo_builds, values, ("run_id", "digest"))
    if new is not None:
        _insert_units(connection, int(new[0]), build)
    return StoredBuild(new is not None, len(build.units), rebuilt)


def _insert_units(connection: Connection, build_id: int, build: CargoBuild) -> None:
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {cargo_units.name} ({', '.join(_UNIT_COLUMNS)}) "
        f"VALUES ({', '.join(mark for _ in _UNIT_COLUMNS)})"
    )
    rows = [(build_id, ordinal, *unit) for ordinal, unit in enumerate(build.units)]
    for start in range(0, len(rows), BATCH_ROWS):
        connection.exec_driver_sql(sql, rows[start : start + BATCH_ROWS])


# -- reads ----------------------------------------------------------------------


def _crate_columns() -> tuple[Any, ...]:
    return (cargo_units.c.name, cargo_units.c.version, cargo_units.c.member)


def _window(query: Select[Any], since: datetime | None, workflow: str | None) -> Select[Any]:
    """Units of the builds of runs created since *since* (of *workflow*): runs'
    created_at index, then cargo_builds by run, cargo_units by build."""
    query = (
        query.select_from(cargo_units)
        .join(cargo_builds, cargo_builds.c.id == cargo_units.c.build_id)
        .join(runs, runs.c.id == cargo_builds.c.run_id)
    )
    if since is not None:
        query = query.where(runs.c.created_at >= since)
    if workflow is not None:
        query = query.where(runs.c.workflow == workflow)
    return query


def _per_run(since: datetime | None, workflow: str | None) -> Any:
    """One row per crate and run (a run's attempts and jobs together)."""
    rebuilt = ~cargo_units.c.fresh
    query = select(
        *_crate_columns(),
        func.max(cargo_units.c.source).label("source"),
        func.max(case((rebuilt, 1), else_=0)).label("rebuilt"),
        func.sum(case((rebuilt, cargo_units.c.seconds), else_=None)).label("seconds"),
        func.max(case((and_(rebuilt, cargo_units.c.build_script), 1), else_=0)).label("script"),
        func.max(case((and_(rebuilt, cargo_units.c.mode == "run-custom-build"), 1), else_=0)).label(
            "ran"
        ),
        # A build script's own unit is not a feature set of the crate.
        func.count(
            distinct(case((cargo_units.c.target_kind != "custom-build", cargo_units.c.features)))
        ).label("feature_sets"),
    ).group_by(*_crate_columns(), runs.c.repository_id, runs.c.run_key)
    return _window(query, since, workflow).subquery()


def crate_rebuilds(
    connection: Connection, since: datetime | None, workflow: str | None
) -> list[dict[str, Any]]:
    """Per crate (name, version, member): runs seen, runs rebuilt, seconds of its
    rebuilt units (where timed), runs rebuilt with a build script (and runs where
    the timings show it ran), runs built with
    several feature sets. Summed by the database; one row per crate comes back."""
    per_run = _per_run(since, workflow)
    query = (
        select(
            per_run.c.name,
            per_run.c.version,
            per_run.c.member,
            func.max(per_run.c.source).label("source"),
            func.count().label("runs_seen"),
            func.sum(per_run.c.rebuilt).label("runs_rebuilt"),
            func.sum(per_run.c.seconds).label("seconds"),
            func.sum(per_run.c.script).label("script_runs"),
            func.sum(per_run.c.ran).label("script_ran_runs"),
            func.sum(case((per_run.c.feature_sets > 1, 1), else_=0)).label("feature_runs"),
        )
        .group_by(per_run.c.name, per_run.c.version, per_run.c.member)
        .having(func.sum(per_run.c.rebuilt) > 0)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def profile_splits(
    connection: Connection, since: datetime | None, workflow: str | None
) -> dict[tuple[str, str, bool], int]:
    """Crates whose same target, mode and features were built with different profiles
    (opt-level, debuginfo...) in the window: how many such targets."""
    same = (
        select(*_crate_columns())
        .group_by(
            *_crate_columns(),
            cargo_units.c.target_kind,
            cargo_units.c.target_name,
            cargo_units.c.mode,
            cargo_units.c.features,
        )
        .having(func.count(distinct(cargo_units.c.profile)) > 1)
    )
    splits = _window(same, since, workflow).where(cargo_units.c.mode != "run-custom-build")
    inner = splits.subquery()
    query = select(inner.c.name, inner.c.version, inner.c.member, func.count()).group_by(
        inner.c.name, inner.c.version, inner.c.member
    )
    return {(n, v, bool(m)): int(c) for n, v, m, c in connection.execute(query)}


def build_runs(connection: Connection, since: datetime | None, workflow: str | None) -> int:
    """How many runs (attempts together) have a cargo build in the window."""
    keys = select(runs.c.repository_id, runs.c.run_key).distinct()
    keys = keys.join(cargo_builds, cargo_builds.c.run_id == runs.c.id)
    if since is not None:
        keys = keys.where(runs.c.created_at >= since)
    if workflow is not None:
        keys = keys.where(runs.c.workflow == workflow)
    return int(connection.execute(select(func.count()).select_from(keys.subquery())).scalar_one())


def build_range(connection: Connection) -> tuple[datetime, datetime] | None:
    """When the first and last runs with a cargo build were created."""
    query = select(func.min(runs.c.created_at), func.max(runs.c.created_at)).where(
        runs.c.id.in_(select(cargo_builds.c.run_id))
    )
    first, last = connection.execute(query).one()
    return None if first is None or last is None else (first, last)
