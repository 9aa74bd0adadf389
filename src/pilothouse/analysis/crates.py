"""Crates rebuilt run after run, and the likely cause where the builds show one.

Input: one row per crate aggregated by the store (runs seen, runs rebuilt, seconds,
runs rebuilt with a build script, runs built with several feature sets) and the
crates built with several profiles. Output: CrateRebuilds, most rebuilt first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pilothouse.model import CrateRebuilds

CAUSES = ("build-script", "feature-unification", "path-dependency", "profile", "unknown")


def _causes(
    row: Mapping[str, Any], profiles: int, dependency_path: bool
) -> tuple[tuple[str, str], ...]:
    """(cause, evidence) for one crate; ("unknown", ...) when the data shows none."""
    rebuilt = int(row["runs_rebuilt"])
    found: list[tuple[str, str]] = []
    ran, seen = int(row.get("script_ran_runs") or 0), int(row["runs_seen"])
    if ran * 2 >= seen:  # "each time": in most of the runs that built it
        found.append(
            ("build-script", f"its build script ran in {ran} of the {rebuilt} runs that rebuilt it")
        )
    elif row["script_runs"] and int(row["script_runs"]) == seen:
        found.append(
            ("build-script", f"rebuilt in every run ({seen}), each time with its build script")
        )
    if row["feature_runs"]:
        found.append(
            (
                "feature-unification",
                f"built with different feature sets in one run "
                f"(across jobs or cargo invocations) in {int(row['feature_runs'])} runs",
            )
        )
    if dependency_path:
        found.append(
            (
                "path-dependency",
                "a path dependency outside the workspace: cargo "
                "fingerprints it by file times, which a fresh checkout changes",
            )
        )
    if profiles:
        found.append(
            (
                "profile",
                f"{profiles} target(s) built with the same features under "
                "different profiles: a CARGO_PROFILE_* or RUSTFLAGS-style setting differs",
            )
        )
    return tuple(found) or (("unknown", "the builds show no cause"),)


def rank_crates(
    rows: Iterable[Mapping[str, Any]], profile_splits: Mapping[tuple[str, str, bool], int]
) -> list[CrateRebuilds]:
    """The crates rebuilt in at least one run, most runs rebuilt first, then most
    seconds (unknown last), then by name.

    >>> row = {"name": "ring", "version": "0.17.8", "member": 0, "source": "registry",
    ...        "runs_seen": 4, "runs_rebuilt": 4, "seconds": 30.0, "script_runs": 4,
    ...        "script_ran_runs": 0, "feature_runs": 0}
    >>> [c.causes[0][0] for c in rank_crates([row], {})]
    ['build-script']
    """
    crates = []
    for row in rows:
        member = bool(row["member"])
        key = (str(row["name"]), str(row["version"]), member)
        seconds = row["seconds"]
        crates.append(
            CrateRebuilds(
                name=key[0],
                version=key[1],
                member=member,
                source=str(row["source"]),
                runs_rebuilt=int(row["runs_rebuilt"]),
                runs_seen=int(row["runs_seen"]),
                seconds=None if seconds is None else float(seconds),
                causes=_causes(
                    row, profile_splits.get(key, 0), row["source"] == "path" and not member
                ),
            )
        )
    return sorted(
        crates,
        key=lambda c: (-c.runs_rebuilt, -(c.seconds or 0.0), c.seconds is None, c.name, c.version),
    )


def crate_dict(crate: CrateRebuilds) -> dict[str, Any]:
    """The JSON form of one crate (README: `pilothouse crates --json`)."""
    return {
        "name": crate.name,
        "version": crate.version,
        "member": crate.member,
        "source": crate.source,
        "runs_rebuilt": crate.runs_rebuilt,
        "runs_seen": crate.runs_seen,
        "rebuild_rate": round(crate.rebuild_rate, 4),
        "seconds": None if crate.seconds is None else round(crate.seconds, 2),
        "causes": [{"cause": cause, "evidence": evidence} for cause, evidence in crate.causes],
    }
