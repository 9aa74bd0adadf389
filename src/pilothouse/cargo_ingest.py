"""Ingest cargo JSON outputs: open them, work out the run, store their units."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from pilothouse.ingest import local_run_key
from pilothouse.model import RunInfo
from pilothouse.sources.cargo import CargoFile, Timing
from pilothouse.store import Store
from pilothouse.store.cargo import CargoInput


@dataclass(frozen=True, slots=True)
class CargoCounts:
    """What one `ingest cargo` call read."""

    files: int = 0
    units: int = 0
    rebuilt: int = 0
    duplicates: int = 0  # units of outputs the run already held

    def as_dict(self) -> dict[str, int]:
        return {"files": self.files, "units": self.units, "rebuilt": self.rebuilt,
                "duplicates": self.duplicates}  # fmt: skip


def open_outputs(paths: Sequence[Path]) -> list[CargoFile]:
    """Hash every output (streaming), so the same output is recognised however named."""
    return [CargoFile.open(path) for path in paths]


def ingest_cargo(
    store: Store,
    files: Sequence[CargoFile],
    run: RunInfo,
    *,
    now: datetime,
    timings: Mapping[tuple[str, ...], Timing] | None = None,
    workspace: str | None = None,
) -> CargoCounts:
    """Store *files* as cargo builds of *run* in one transaction.

    Every file is read inside the transaction: one malformed line anywhere and
    nothing of the call is written (InputError naming file:line). An output the
    run already holds adds nothing; its units count as duplicates.
    """
    key = run.run_key or local_run_key(files)
    items = [
        CargoInput(
            str(f.path), f.digest, f.size,
            lambda f=f: f.read(timings=timings, workspace=workspace),  # type: ignore[misc]
        )
        for f in files
    ]  # fmt: skip
    stored = store.add_cargo_builds(replace(run, run_key=key), items, now=now)
    return CargoCounts(
        files=len(files),
        units=sum(b.units for b in stored),
        rebuilt=sum(b.rebuilt for b in stored),
        duplicates=sum(b.units for b in stored if not b.new),
    )
