"""Concurrent writers: how many racing ingests succeed, per shape and backend.

    .venv/bin/python benchmarks/concurrent_writers.py [--trials 20] [--writers 4]

Each trial races WRITERS real processes (tests/racer.py: one barrier releases
them) into a fresh store: a new SQLite file, or a new PostgreSQL schema at
$PILOTHOUSE_TEST_PG (default the tests' server). Shapes: four runs into a new
store, four matrix jobs of one run, one report four times. A trial counts as
exact when every writer exited 0 and the store holds exactly what one serial
ingest of each would have left.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy

ROOT = Path(__file__).resolve().parent.parent
JUNIT = ROOT / "tests" / "data" / "junit"
PULSAR = JUNIT / "test-reporter" / "external__java__pulsar-test-report.xml"
MATRIX = [
    PULSAR,
    JUNIT / "test-reporter" / "nette-tester__tester-v1.7-report.xml",
    JUNIT / "publish-unit-test-result-action" / "mocha__latex-utensils.xml",
    JUNIT / "publish-unit-test-result-action" / "pytest__junit.gloo.standalone.xml",
]
PG_URL = os.environ.get("PILOTHOUSE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _racer() -> Callable[..., list[tuple[int, str, str]]]:
    spec = importlib.util.spec_from_file_location("racer", ROOT / "tests" / "racer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.race  # type: ignore[no-any-return]


def _shapes(writers: int) -> dict[str, list[list[str]]]:
    common = ["ingest", "junit", "--repo", "acme/w", "--json"]
    return {
        "new store": [[*common, str(PULSAR), "--run-id", f"r{i}"] for i in range(writers)],
        "matrix": [
            [*common, str(MATRIX[i % len(MATRIX)]), "--run-id", "42", "--job", f"t{i}"]
            for i in range(writers)
        ],
        "same report": [[*common, str(PULSAR), "--run-id", "42", "--job", "t"]] * writers,
    }


def _trial(
    race: Callable[..., list[tuple[int, str, str]]], url: str, argvs: list[list[str]]
) -> tuple[int, bool]:
    """(writers that exited 0, whether the stored rows are exact)."""
    with tempfile.TemporaryDirectory() as cwd:
        results = race(url, Path(cwd), argvs)
    ok = sum(code == 0 for code, _out, _err in results)
    expected = {json.dumps(argv) for argv in argvs}
    tests = sum(json.loads(out)["tests"] for code, out, _err in results if code == 0)
    duplicates = sum(json.loads(out)["duplicates"] for code, out, _err in results if code == 0)
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT count(*) FROM test_results").scalar()
        reports = connection.exec_driver_sql("SELECT count(*) FROM reports").scalar()
    engine.dispose()
    exact = ok == len(argvs) and stored == tests - duplicates and reports == len(expected)
    return ok, exact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()
    race = _racer()
    admin = sqlalchemy.create_engine(PG_URL)
    print(f"{'backend':<11} {'shape':<12} {'writers ok':>12} {'exact trials':>13}")
    for backend in ("sqlite", "postgresql"):
        for shape, argvs in _shapes(args.writers).items():
            ok = exact = 0
            for _ in range(args.trials):
                with tempfile.TemporaryDirectory() as tmp:
                    if backend == "sqlite":
                        url = f"sqlite:///{tmp}/store.db"
                        done, right = _trial(race, url, argvs)
                    else:
                        schema = f"bench_{uuid.uuid4().hex[:12]}"
                        with admin.begin() as connection:
                            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
                        try:
                            url = f"{PG_URL}?options=-csearch_path%3D{schema}"
                            done, right = _trial(race, url, argvs)
                        finally:
                            with admin.begin() as connection:
                                connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                ok += done
                exact += right
            total = args.trials * args.writers
            print(
                f"{backend:<11} {shape:<12} {ok:>5}/{total:<6} {exact:>6}/{args.trials}", flush=True
            )
    admin.dispose()


if __name__ == "__main__":
    main()
